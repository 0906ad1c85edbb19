// Smart Care dashboard strategy: one section per person of the household, built from the
// Smart Care devices and entities Home Assistant knows, in the viewer's language.
// Use it with a dashboard whose configuration is: strategy: {type: custom:smart-care}

const TEXT = {
  en: {
    title: "Smart Care",
    view: "Family",
    time: "%d %b %H:%M",
    status: "Health status",
    labels: { normal: "All readings normal", info: "Information", warning: "Warning", urgent: "Urgent", critical: "Critical" },
    statuses: { open: "open", acknowledged: "acknowledged", snoozed: "snoozed" },
    severities: { info: "Info", warning: "Warning", urgent: "Urgent", critical: "Critical" },
    none: "No open alerts.",
    overdue: "Overdue",
    groups: {
      blood_pressure: "blood pressure", weight: "weight", glucose: "blood glucose", spo2: "oxygen saturation",
      temperature: "body temperature", heart_rate: "heart rate",
    },
    separator: ", ",
    noReadings: "No readings yet. They appear here after the first measurement.",
    ack: (alias) => `Acknowledge ${alias}'s alerts`,
    acked: (alias) => `${alias}'s alerts acknowledged: the family and the escalation know someone is on it.`,
    names: {
      systolic_bp: "Systolic", diastolic_bp: "Diastolic", spo2: "SpO2", pulse: "Pulse", glucose: "Glucose",
      early_warning_score: "NEWS2 (partial)", weight: "Weight", bmi: "BMI", measurement_overdue: "Measurement overdue",
    },
    bp: "Blood pressure, SpO2 (12 h)",
    glucose14: "Glucose (14 days)",
    weight30: "Weight (30 days)",
    devices: "Devices",
    report: "Visit report (4 weeks, printable)",
    help: "**How to read this page.** Gauges turn orange at a warning limit and red at an urgent one (Smart Care's default limits; a clinician can change them per person). The early warning score is NEWS2 from what home devices measure: it is *partial* while respiration rate, temperature and consciousness are missing.\n\n**Acknowledge** tells the family and the escalation that someone is taking care of it; an alert closes by itself once readings are normal again.",
  },
  "zh-Hans": {
    title: "智慧照护",
    view: "家人",
    time: "%m月%d日 %H:%M",
    status: "健康状况",
    labels: { normal: "各项读数正常", info: "提示", warning: "警告", urgent: "紧急", critical: "危急" },
    statuses: { open: "未处理", acknowledged: "已确认", snoozed: "已暂缓" },
    severities: { info: "提示", warning: "警告", urgent: "紧急", critical: "危急" },
    none: "没有未处理的警报。",
    overdue: "测量逾期",
    groups: { blood_pressure: "血压", weight: "体重", glucose: "血糖", spo2: "血氧饱和度", temperature: "体温", heart_rate: "心率" },
    separator: "、",
    noReadings: "还没有读数。第一次测量后会显示在这里。",
    ack: (alias) => `确认${alias}的警报`,
    acked: (alias) => `已确认${alias}的警报：家人和升级提醒已知道有人在处理。`,
    names: {
      systolic_bp: "收缩压", diastolic_bp: "舒张压", spo2: "血氧饱和度", pulse: "脉搏", glucose: "血糖",
      early_warning_score: "早期预警评分（部分）", weight: "体重", bmi: "体重指数", measurement_overdue: "测量逾期",
    },
    bp: "血压、血氧（12 小时）",
    glucose14: "血糖（14 天）",
    weight30: "体重（30 天）",
    devices: "设备",
    report: "就诊报告（4 周，可打印）",
    help: "**怎样看这一页。** 仪表指针进入橙色表示达到警告界限，进入红色表示达到紧急界限（智慧照护的默认界限；医生可以为每个人单独调整）。早期预警评分是根据家用设备测得的数据计算的 NEWS2：缺少呼吸频率、体温和意识状态时，它只是*部分*评分。\n\n**确认**表示已经有人在处理：家人的通知和升级提醒会停止；读数恢复正常后，警报会自动关闭。",
  },
};

const RED = "#db4437";
const ORANGE = "#ffa600";
const GREEN = "#43a047";
const GAUGES = {
  systolic_bp: { min: 60, max: 220, segments: [[0, RED], [91, ORANGE], [101, GREEN], [140, ORANGE], [180, RED]] },
  diastolic_bp: { min: 40, max: 130, segments: [[0, GREEN], [90, ORANGE], [110, RED]] },
  spo2: { min: 80, max: 100, segments: [[0, "#8b0000"], [88, RED], [92, ORANGE], [94, GREEN]] },
  pulse: { min: 30, max: 160, segments: [[0, RED], [41, ORANGE], [51, GREEN], [111, ORANGE], [131, RED]] },
  glucose: { min: 2, max: 20, segments: [[0, RED], [3, ORANGE], [3.9, GREEN], [14, ORANGE]] },
};
const GLUCOSE_MGDL = { min: 36, max: 360, segments: [[0, RED], [54, ORANGE], [70, GREEN], [250, ORANGE]] };
// Nothing but a real reading: no "Entity is non-numeric" card before the first one.
const NO_READING = ["unknown", "unavailable"];

export function language(hass) {
  const lang = (hass.locale && hass.locale.language) || hass.language || "en";
  return lang.toLowerCase().startsWith("zh") ? "zh-Hans" : "en";
}

export function people(hass) {
  return Object.values(hass.devices)
    .filter((d) => d.model === "Health record" && (d.identifiers || []).some(([domain]) => domain === "smart_care"))
    .map((d) => ({ device: d, alias: d.name_by_user || d.name }))
    .sort((a, b) => a.alias.localeCompare(b.alias));
}

function entityOf(hass, deviceId, key) {
  const found = Object.values(hass.entities).find(
    (e) => e.platform === "smart_care" && e.device_id === deviceId && e.translation_key === key
  );
  return found ? found.entity_id : undefined;
}

function statusMarkdown(t, lang, status, overdue) {
  const labels = JSON.stringify(t.labels);
  const statuses = JSON.stringify(t.statuses);
  const severities = JSON.stringify(t.severities);
  const groups = JSON.stringify(t.groups);
  return `{% set entity = '${status}' %}{% set status = states(entity) %}
{% set alerts = state_attr(entity, 'alerts') or [] %}
{% set kind = {'critical': 'error', 'urgent': 'error', 'warning': 'warning', 'info': 'info'}.get(status, 'success') %}
{% set label = ${labels} %}{% set word = ${statuses} %}{% set sev = ${severities} %}
<ha-alert alert-type="{{ kind }}" title="${t.status}: {{ label.get(status, status) }}">
{%- if alerts | count == 0 %}${t.none}{% else %}
{%- for s in ['open', 'acknowledged', 'snoozed'] %}
{%- set n = alerts | selectattr('status', 'eq', s) | list | count %}
{%- if n %}{{ n }} {{ word[s] }} {% endif %}{% endfor %}{% endif %}
</ha-alert>

{% for a in alerts %}
**{{ sev.get(a.severity, a.severity) }}** – {{ (a.messages or {}).get('${lang}') or a.message }}<br>
<small>{{ word.get(a.status, a.status) }} · {{ as_timestamp(a.time) | timestamp_custom('${t.time}') }}</small>

{% endfor %}
${overdue ? `{%- set overdue = state_attr('${overdue}', 'codes') or [] %}
{%- set group = ${groups} %}
{%- if overdue %}**${t.overdue}:** {% for code in overdue %}{% set g = code | replace('stale_', '') | replace('no_data_', '') %}{{ group.get(g, g) }}{{ '' if loop.last else '${t.separator}' }}{% endfor %}{% endif %}` : ""}`;
}

function gauge(hass, t, entity, key) {
  const state = hass.states[entity];
  const unit = state && state.attributes.unit_of_measurement;
  const spec = key === "glucose" && unit === "mg/dL" ? GLUCOSE_MGDL : GAUGES[key];
  return {
    type: "conditional",
    conditions: [{ condition: "state", entity, state_not: NO_READING }],
    grid_options: { columns: 6 },
    card: {
      type: "gauge",
      entity,
      name: t.names[key],
      min: spec.min,
      max: spec.max,
      needle: true,
      segments: spec.segments.map(([from, color]) => ({ from, color })),
    },
  };
}

export function personSection(hass, t, person, lang = "en") {
  const id = (key) => entityOf(hass, person.device.id, key);
  const has = (entity) => entity && hass.states[entity] && !NO_READING.includes(hass.states[entity].state);
  const status = id("health_status");
  const overdue = id("measurement_overdue");
  const last = id("last_measurement");
  const cards = [
    {
      type: "heading",
      heading: person.alias,
      icon: "mdi:account-heart",
      badges: last ? [{ type: "entity", entity: last, show_state: true, show_icon: true }] : [],
    },
  ];
  if (status) {
    cards.push({ type: "markdown", content: statusMarkdown(t, lang, status, overdue) });
    const ack = {
      action: "perform-action",
      perform_action: "script.smart_care_acknowledge_all",
      data: { person: person.alias, confirmation: t.acked(person.alias) },
    };
    cards.push({
      type: "conditional",
      conditions: [{ condition: "state", entity: status, state_not: ["normal", ...NO_READING] }],
      card: {
        type: "tile", entity: status, name: t.ack(person.alias), icon: "mdi:check-decagram",
        color: "red", tap_action: ack, icon_tap_action: ack,
      },
    });
  }
  const vitals = ["systolic_bp", "diastolic_bp", "spo2", "pulse", "glucose"];
  const measured = vitals.filter((key) => has(id(key)));
  for (const key of vitals) {
    const entity = id(key);
    if (entity) cards.push(gauge(hass, t, entity, key));
  }
  for (const key of ["early_warning_score", "weight", "bmi"]) {
    const entity = id(key);
    if (entity) {
      cards.push({
        type: "conditional",
        conditions: [{ condition: "state", entity, state_not: NO_READING }],
        grid_options: { columns: 6 },
        card: { type: "tile", entity, name: t.names[key], ...(key === "early_warning_score" ? { icon: "mdi:clipboard-pulse" } : {}) },
      });
    }
  }
  if (overdue) cards.push({ type: "tile", entity: overdue, name: t.names.measurement_overdue, grid_options: { columns: 6 } });
  if (!measured.length && !has(id("weight"))) cards.push({ type: "markdown", content: t.noReadings });
  const graph = ["systolic_bp", "diastolic_bp", "spo2"].map((key) => [key, id(key)]).filter(([, e]) => has(e));
  if (graph.length) {
    cards.push({
      type: "history-graph", title: t.bp, hours_to_show: 12,
      entities: graph.map(([key, entity]) => ({ entity, name: t.names[key] })),
    });
  }
  for (const [key, title, days, stats] of [["glucose", t.glucose14, 14, ["mean", "min", "max"]], ["weight", t.weight30, 30, ["mean"]]]) {
    const entity = id(key);
    if (has(entity)) {
      cards.push({
        type: "statistics-graph", title, chart_type: "line", period: "day", days_to_show: days,
        stat_types: stats, entities: [{ entity, name: t.names[key] }],
      });
    }
  }
  return { type: "grid", cards };
}

function householdSection(hass, t, personDevices) {
  const entities = Object.values(hass.entities)
    .filter((e) => e.platform === "smart_care" && e.device_id && !personDevices.has(e.device_id) && !e.hidden)
    .map((e) => e.entity_id)
    .filter((entity) => hass.states[entity])
    .sort();
  const cards = [];
  if (entities.length) {
    cards.push({ type: "heading", heading: t.devices, icon: "mdi:bluetooth" });
    cards.push({ type: "entities", show_header_toggle: false, state_color: true, entities });
  }
  cards.push({ type: "markdown", content: t.help });
  return { type: "grid", cards };
}

// The report page needs the viewer's login; a plain link carries none, so each viewer gets
// a signed link (HA's auth/sign_path, as media links use) when the dashboard is made.
const REPORT_LINK_SECONDS = 12 * 3600;

export async function reportLinks(hass, found) {
  const links = {};
  for (const p of found) {
    const ident = (p.device.identifiers || []).find(([domain]) => domain === "smart_care");
    if (!ident) continue;
    try {
      const path = `/smart_care/report/${encodeURIComponent(ident[1])}?lang=${language(hass)}`;
      const signed = await hass.callWS({ type: "auth/sign_path", path, expires: REPORT_LINK_SECONDS });
      links[p.device.id] = signed.path;
    } catch (_err) {
      // No link rather than no dashboard.
    }
  }
  return links;
}

export function generateDashboard(hass, links = {}) {
  const lang = language(hass);
  const t = TEXT[lang];
  const found = people(hass);
  const personDevices = new Set(found.map((p) => p.device.id));
  return {
    title: t.title,
    views: [
      {
        title: t.view,
        path: "family",
        icon: "mdi:heart-pulse",
        type: "sections",
        max_columns: 3,
        sections: [
          ...found.map((p) => withReport(personSection(hass, t, p, lang), t, links[p.device.id])),
          householdSection(hass, t, personDevices),
        ],
      },
    ],
  };
}

function withReport(section, t, link) {
  if (!link) return section;
  const button = {
    type: "button", name: t.report, icon: "mdi:file-chart", show_state: false,
    tap_action: { action: "url", url_path: link }, grid_options: { columns: 12, rows: 1 },
  };
  return { ...section, cards: [...section.cards, button] };
}

class SmartCareDashboardStrategy extends HTMLElement {
  static async generate(_config, hass) {
    return generateDashboard(hass, await reportLinks(hass, people(hass)));
  }
}

if (!customElements.get("ll-strategy-dashboard-smart-care")) {
  customElements.define("ll-strategy-dashboard-smart-care", SmartCareDashboardStrategy);
}
