"""The visit report as one printable HTML page (pure; docs/visit-report.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from html import escape
from typing import Any, Final

from .report import Figure, ReportPeriod
from .report_svg import bp_chart, glucose_chart
from .vitals import GLUCOSE_MGDL_PER_MMOLL

__all__ = ["format_date", "format_number", "format_time", "render_html"]

MGDL: Final = "mg/dL"
_MONTHS_EN: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

_CSS: Final = """
:root { color-scheme: light; }
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 190mm; padding: 8mm;
  color: #000; background: #fff; font-size: 11pt; line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; margin: 5mm 0 1.5mm; border-bottom: 1px solid #000; }
.meta { color: #333; margin: 0 0 3mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm; }
th, td { text-align: left; padding: 0.6mm 2mm 0.6mm 0; border-bottom: 1px solid #ccc;
  vertical-align: top; }
th { font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; }
.n { color: #555; font-size: 9pt; }
.nodata { color: #555; font-style: italic; }
.glance { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2mm; }
.glance div { border: 1px solid #000; padding: 2mm; }
.glance b { display: block; font-size: 15pt; }
.note { font-size: 9pt; color: #333; }
figure { margin: 1mm 0; }
.identity { border: 1px dashed #000; padding: 2mm; }
button.print { float: right; }
@page { size: A4; margin: 12mm; }
@media print {
  body { padding: 0; max-width: none; font-size: 10pt; }
  button.print { display: none; }
  h2 { break-after: avoid; }
  figure, table, .glance { break-inside: avoid; }
}
"""


def format_number(value: float, places: int, language: str) -> str:
    """A number with ``places`` decimals, grouped the way both shipped languages group."""
    # Both shipped languages write 1,234.5; the parameter is where a third one would differ.
    del language
    return f"{value:,.{places}f}"


def format_date(day: date, language: str) -> str:
    """2 Mar 2026 / 2026年3月2日."""
    if language == "zh-Hans":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_short_date(day: date, language: str) -> str:
    """2 Mar / 3月2日 (chart ticks)."""
    if language == "zh-Hans":
        return f"{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]}"


def format_time(value: str | datetime, tz: tzinfo, language: str) -> str:
    """A stored instant in the household's time zone: 10 Mar 09:00 / 3月10日 09:00."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = when.astimezone(tz)
    return f"{format_short_date(local.date(), language)} {local:%H:%M}"


class _Page:
    def __init__(
        self, texts: Mapping[str, str], language: str, tz: tzinfo, glucose_unit: str
    ) -> None:
        self.texts = texts
        self.language = language
        self.tz = tz
        self.glucose_unit = glucose_unit
        # mg/dL is read in whole numbers, mmol/L to one decimal.
        self.glucose_places = 0 if glucose_unit == MGDL else 1

    def t(self, key: str, **values: Any) -> str:
        """A translated text with placeholders filled, escaped for HTML."""
        text = self.texts.get(key, key)
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return escape(text)

    def num(self, value: float, places: int = 0) -> str:
        return format_number(value, places, self.language)

    def fig(
        self, figure: Mapping[str, Any], places: int = 0, unit: str = "", count: str = "n"
    ) -> str:
        """A figure and its count, or "not enough data" (``count``: readings or doses)."""
        n = figure["n"]
        if n == 0:
            return f'<span class="nodata">{self.t("no_readings")}</span>'
        if figure["value"] is None:
            text = self.t("not_enough", n=n, minimum=figure["minimum"])
            return f'<span class="nodata">{text}</span>'
        value = self.num(figure["value"], places) + (f" {escape(unit)}" if unit else "")
        return f'{value} <span class="n">({self.t(count, n=n)})</span>'

    def bp_pair(self, block: Mapping[str, Any]) -> str:
        """120/80 mmHg (n), or not enough data."""
        sys_fig, dia_fig = block["systolic"], block["diastolic"]
        if sys_fig["value"] is None or dia_fig["value"] is None:
            return self.fig(sys_fig)
        value = f"{self.num(sys_fig['value'])}/{self.num(dia_fig['value'])} mmHg"
        return f'{value} <span class="n">({self.t("n", n=sys_fig["n"])})</span>'

    def when(self, value: str) -> str:
        return escape(format_time(value, self.tz, self.language))


def _rows(cells: Sequence[Sequence[str]], head: Sequence[str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>")
    for row in cells:
        out.append("<tr>" + "".join(f'<td class="num">{c}</td>' for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _glance(page: _Page, report: Mapping[str, Any]) -> str:
    bp = report["blood_pressure"]
    gl = report["glucose"]
    wt = report["weight"]["weight"]
    meds = report["medication"]
    doses = [1.0 if i < m["taken"] else 0.0 for m in meds for i in range(m["due"])]
    adherence = Figure.of(doses, 1, lambda v: 100 * sum(v) / len(v)).as_dict()
    cells = [
        (page.t("bp"), page.bp_pair(bp["overall"])),
        (
            page.t(
                "bp_above",
                target=f"{page.num(bp['target']['systolic'])}/"
                f"{page.num(bp['target']['diastolic'])}",
            ),
            page.fig(bp["above_target"]["share"], unit="%"),
        ),
        (page.t("glucose"), page.fig(gl["mean"], page.glucose_places, page.glucose_unit)),
        (
            page.t(
                "glucose_in",
                low=page.num(gl["range"]["low"], page.glucose_places),
                high=page.num(gl["range"]["high"], page.glucose_places),
            ),
            page.fig(gl["in_range"]["share"], unit="%"),
        ),
        (page.t("weight_change"), page.fig(wt["change"], 1, "kg")),
        (page.t("med_adherence"), page.fig(adherence, unit="%", count="n_doses")),
    ]
    inner = "".join(
        f'<div><span>{label}</span><b class="glance-value">{value}</b></div>'
        for label, value in cells
    )
    return f'<section class="glance" id="glance">{inner}</section>'


def _bp(page: _Page, report: Mapping[str, Any], period: ReportPeriod) -> str:
    bp = report["blood_pressure"]
    parts = [f'<h2 id="bp">{page.t("bp")}</h2>']
    if bp["first_day"]:
        first = format_date(date.fromisoformat(bp["first_day"]), page.language)
        method = page.t("bp_method", first_day=first, discarded=bp["first_day_discarded"])
        parts.append(f'<p class="note">{method}</p>')
    rows = [
        (page.t("bp_overall"), f'<span id="bp-overall">{page.bp_pair(bp["overall"])}</span>'),
        (page.t("bp_morning"), page.bp_pair(bp["morning"])),
        (page.t("bp_evening"), page.bp_pair(bp["evening"])),
        (page.t("pulse"), page.fig(bp["pulse"], unit="/min")),
        (
            page.t(
                "bp_above",
                target=f"{page.num(bp['target']['systolic'])}/{page.num(bp['target']['diastolic'])}",
            ),
            page.fig(bp["above_target"]["share"], unit="%"),
        ),
    ]
    for week in bp["weeks"]:
        span = (
            f"{format_short_date(date.fromisoformat(week['start']), page.language)}–"
            f"{format_short_date(date.fromisoformat(week['end']), page.language)}"
        )
        rows.append((f"{page.t('bp_week')} {escape(span)}", page.bp_pair(week)))
    parts.append(_rows(rows))
    chart = bp_chart(
        bp,
        period,
        {k: page.texts.get(k, k) for k in ("systolic", "diastolic", "target", "discarded")}
        | {"title": page.texts.get("bp", "bp") + " (mmHg)"},
        format_date=lambda d: format_short_date(d, page.language),
        format_number=lambda v: page.num(v),
    )
    parts.append(f'<figure id="bp-chart">{chart}</figure>')
    return "".join(parts)


def _glucose(page: _Page, report: Mapping[str, Any], period: ReportPeriod) -> str:
    gl = report["glucose"]
    places, unit = page.glucose_places, page.glucose_unit
    low, high = page.num(gl["range"]["low"], places), page.num(gl["range"]["high"], places)
    parts = [f'<h2 id="glucose">{page.t("glucose")}</h2>']
    rows = [
        (
            page.t("glucose_mean"),
            f'<span id="glucose-mean">{page.fig(gl["mean"], places, unit)}</span>',
        ),
        (
            page.t("glucose_below", low=low),
            f"{gl['below']['count']} · {page.fig(gl['below']['share'], unit='%')}",
        ),
        (
            page.t("glucose_in", low=low, high=high),
            f"{gl['in_range']['count']} · {page.fig(gl['in_range']['share'], unit='%')}",
        ),
        (
            page.t("glucose_above", high=high),
            f"{gl['above']['count']} · {page.fig(gl['above']['share'], unit='%')}",
        ),
    ]
    for key, items in (("glucose_lows", gl["lows"]), ("glucose_highs", gl["highs"])):
        if items:
            listed = ", ".join(
                f"{page.when(i['time'])}: {page.num(i['value'], places)}" for i in items
            )
            rows.append((page.t(key), listed))
    parts.append(_rows(rows))
    if gl["series"]:
        chart = glucose_chart(
            gl,
            period,
            {
                "title": page.texts.get("glucose", "glucose") + f" ({unit})",
                "low": page.texts.get("low", "low"),
                "high": page.texts.get("high", "high"),
            },
            format_date=lambda d: format_short_date(d, page.language),
            format_number=lambda v: page.num(v),
            axis=(40, 240, 40) if unit == MGDL else (2, 14, 2),
        )
        parts.append(f'<figure id="glucose-chart">{chart}</figure>')
    return "".join(parts)


def _others(page: _Page, report: Mapping[str, Any]) -> str:
    wt = report["weight"]
    sp = report["spo2"]
    tp = report["temperature"]
    parts = [f"<h2>{page.t('weight')}</h2>"]
    parts.append(
        _rows(
            [
                (
                    page.t("first"),
                    page.fig(wt["weight"]["first"], 1, "kg"),
                    page.fig(wt["bmi"]["first"], 1),
                ),
                (
                    page.t("last"),
                    page.fig(wt["weight"]["last"], 1, "kg"),
                    page.fig(wt["bmi"]["last"], 1),
                ),
                (
                    page.t("weight_change"),
                    page.fig(wt["weight"]["change"], 1, "kg"),
                    page.fig(wt["bmi"]["change"], 1),
                ),
            ],
            ["", page.t("weight"), page.t("bmi")],
        )
    )
    parts.append(f"<h2>{page.t('spo2')} · {page.t('temperature')}</h2>")
    rows = [
        (page.t("minimum"), page.fig(sp["min"], unit="%"), page.fig(tp["min"], 1, "°C")),
        (page.t("maximum"), page.fig(sp["max"], unit="%"), page.fig(tp["max"], 1, "°C")),
        (page.t("mean"), page.fig(sp["mean"], unit="%"), page.fig(tp["mean"], 1, "°C")),
        (
            f"{page.t('spo2_below', limit=page.num(sp['target_low']))} / "
            f"{page.t('fevers', limit=page.num(tp['fever_from'], 1))}",
            ", ".join(f"{page.when(b['time'])}: {page.num(b['value'])}" for b in sp["below"])
            or "–",
            ", ".join(f"{page.when(f['time'])}: {page.num(f['value'], 1)}" for f in tp["fevers"])
            or "–",
        ),
    ]
    parts.append(_rows(rows, ["", page.t("spo2"), page.t("temperature")]))
    return "".join(parts)


def _news2(page: _Page, report: Mapping[str, Any]) -> str:
    parts = [f"<h2>{page.t('news2')}</h2>"]
    episodes = report["news2_episodes"]
    if not episodes:
        return parts[0] + f'<p class="nodata">{page.t("none")}</p>'
    rows = []
    for ep in episodes:
        risk = page.texts.get(f"risk_{ep['risk']}", ep["risk"])
        text = page.t("news2_peak", peak=ep["peak"], risk=risk)
        if ep["partial"]:
            missing = "、" if page.language == "zh-Hans" else ", "
            names = missing.join(page.texts.get(f"news2_{m}", m) for m in ep["missing"])
            text += " · " + page.t("news2_partial", missing=names)
        rows.append((f"{page.when(ep['start'])} – {page.when(ep['end'])}", text))
    return parts[0] + _rows(rows)


def _alerts(page: _Page, report: Mapping[str, Any], language: str) -> str:
    al = report["alerts"]
    head = f"<h2>{page.t('alerts')}</h2>"
    if not al["items"]:
        return head + f'<p class="nodata">{page.t("none")}</p>'
    rows = []
    for item in al["items"]:
        messages = item["messages"]
        what = messages.get(language) or messages.get("en") or item["code"] or ""
        wait = (
            page.t("minutes", minutes=page.num(item["minutes_to_acknowledge"]))
            if item["minutes_to_acknowledge"] is not None
            else page.t("not_acknowledged")
        )
        by = str(item["acknowledged_by"] or "").removeprefix("user:")
        rows.append((page.when(item["opened_at"]), escape(str(what)), escape(by), wait))
    median = page.fig(al["median_minutes_to_acknowledge"], unit="min")
    return (
        head
        + _rows(
            rows,
            [
                page.t("alert_opened"),
                page.t("alert_what"),
                page.t("alert_ack"),
                page.t("alert_wait"),
            ],
        )
        + f'<p class="note">{page.t("alert_median")}: {median}</p>'
    )


def _missed(page: _Page, report: Mapping[str, Any]) -> str:
    missed = report["missed_readings"]
    if not missed:
        return ""
    rows = [
        (
            page.t(f"group_{group}"),
            page.t(
                "missed_line",
                hours=page.num(m["every_hours"]),
                missed=m["missed"],
                expected=m["expected"],
            ),
        )
        for group, m in missed.items()
    ]
    return f"<h2>{page.t('missed')}</h2>" + _rows(rows)


def _medication(page: _Page, report: Mapping[str, Any]) -> str:
    meds = report["medication"]
    if not meds:
        return ""
    rows = [
        (
            escape(m["text"]) + f' <span class="n">{escape(", ".join(m["times"]))}</span>',
            str(m["due"]),
            str(m["taken"]),
            str(m["skipped"]),
            str(m["missed"]),
            page.fig(m["adherence"], unit="%", count="n_doses"),
        )
        for m in meds
    ]
    head = [
        page.t("medication"),
        page.t("med_due"),
        page.t("med_taken"),
        page.t("med_skipped"),
        page.t("med_missed"),
        page.t("med_adherence"),
    ]
    return f"<h2>{page.t('medication')}</h2>" + _rows(rows, head)


def _advice(page: _Page, report: Mapping[str, Any]) -> str:
    head = f"<h2>{page.t('advice')}</h2>"
    items = report["advice"]
    if not items:
        return head + f'<p class="nodata">{page.t("none")}</p>'
    rows = [
        (
            page.when(a["received"]),
            f"<b>{escape(str(a['title'] or ''))}</b> {escape(str(a['text'] or ''))}"
            + (f' <span class="n">{escape(str(a["author"]))}</span>' if a.get("author") else ""),
        )
        for a in items
    ]
    return head + _rows(rows)


def _identity(page: _Page, identity: Mapping[str, Any]) -> str:
    rows = []
    for key in ("birth_date", "sex", "id_number", "conditions", "allergies"):
        value = identity.get(key)
        if value in (None, "", []):
            continue
        text = ", ".join(value) if isinstance(value, list) else str(value)
        rows.append((page.t(key), escape(text)))
    if not rows:
        return ""
    return f'<section class="identity"><b>{page.t("identity")}</b>{_rows(rows)}</section>'


def _glucose_in_mgdl(glucose: Mapping[str, Any]) -> dict[str, Any]:
    """The glucose section with every value in mg/dL (households that read mg/dL)."""

    def convert(value: float | None) -> float | None:
        return None if value is None else round(value * GLUCOSE_MGDL_PER_MMOLL)

    out = dict(glucose)
    out["mean"] = dict(glucose["mean"]) | {"value": convert(glucose["mean"]["value"])}
    out["range"] = {k: convert(v) for k, v in glucose["range"].items()}
    for key in ("lows", "highs", "series"):
        out[key] = [dict(p) | {"value": convert(p["value"])} for p in glucose[key]]
    return out


def render_html(
    report: Mapping[str, Any],
    *,
    person: str,
    texts: Mapping[str, str],
    language: str,
    period: ReportPeriod,
    identity: Mapping[str, Any] | None = None,
    glucose_unit: str = "mmol/L",
) -> str:
    """The whole page. ``identity`` (birth date, sex, ID, conditions, allergies) only for admins.

    ``glucose_unit`` is the household's (mmol/L or mg/dL): figures are computed in mmol/L
    and shown in the unit the family and their doctor read.
    """
    page = _Page(texts, language, period.tz, MGDL if glucose_unit == MGDL else "mmol/L")
    if page.glucose_unit == MGDL:
        report = dict(report) | {"glucose": _glucose_in_mgdl(report["glucose"])}
    span = page.t(
        "period",
        start=format_date(period.start, language),
        end=format_date(period.end, language),
        days=period.days,
    )
    made = page.t("generated", time=format_time(report["generated"], period.tz, language))
    body = [
        f'<button class="print" onclick="window.print()">{page.t("print")}</button>',
        f"<h1>{page.t('title')} · {escape(person)}</h1>",
        f'<p class="meta">{span} · {made}</p>',
        _identity(page, identity) if identity else "",
        _glance(page, report),
        _bp(page, report, period),
        _glucose(page, report, period),
        _others(page, report),
        _news2(page, report),
        _alerts(page, report, language),
        _missed(page, report),
        _medication(page, report),
        _advice(page, report),
    ]
    lang = "zh-Hans" if language == "zh-Hans" else "en"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{page.t('title')} · {escape(person)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )
