"""Alert and error texts a family understands, in English and Chinese, in a real HA."""

from __future__ import annotations

from typing import Any

from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN, EVENT_ALERT
from custom_components.smart_care.core.gatt import decode
from custom_components.smart_care.core.outbox import alert_fields
from custom_components.smart_care.household.alert_text import async_common_texts, render
from custom_components.smart_care.household.runtime import DeviceSource
from tests.conftest import add_person
from tests.household.test_attribution import bp_bytes

SPO2_85_EN = (
    "Oxygen saturation 85 % is at or below the critical limit of 87 %. Measure again now and "
    "stay with the person. If the value is confirmed or they feel unwell, call the emergency "
    "number."
)
SPO2_85_ZH = (
    "血氧饱和度 85 %，已达到或低于危急界限 87 %。请立即复测并陪在身边。"
    "如果结果确认或感觉不适，请拨打急救电话 120。"
)
NEWS2_RAW_KEYS = ("respiration_rate", "on_oxygen", "temperature_c", "consciousness", "spo2")


@pytest.fixture
def alerts(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Every smart_care_alert fired."""
    fired: list[dict[str, Any]] = []

    def _listen(event: Event) -> None:
        fired.append(dict(event.data))

    hass.bus.async_listen(EVENT_ALERT, _listen)
    return fired


@pytest.fixture
def chinese(hass: HomeAssistant) -> None:
    """Home Assistant's system language is Simplified Chinese (set before the household)."""
    hass.config.language = "zh-Hans"


async def record(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call(
        DOMAIN, "record_measurement", {"person": "Grandma", **data}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)


def of(alerts: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["code"] == code]


def active(hass: HomeAssistant) -> list[dict[str, Any]]:
    health = hass.states.get("sensor.grandma_health_status")
    assert health is not None
    return list(health.attributes["alerts"])


async def test_alert_text_in_english_and_chinese(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    await record(hass, spo2=85)
    (alert,) = of(alerts, "spo2_low")
    # Stored as a key and language-neutral placeholders, rendered per language.
    assert alert["translation_key"] == "threshold_low"
    assert alert["placeholders"] == {
        "value": "85",
        "unit": "%",
        "threshold": "87",
        "level": "critical",
    }
    assert alert["language"] == "en"
    assert alert["message"] == SPO2_85_EN
    assert alert["messages"] == {"en": SPO2_85_EN, "zh-Hans": SPO2_85_ZH}
    assert alert["titles"] == {
        "en": "Grandma: critical health alert",
        "zh-Hans": "Grandma：危急健康告警",
    }
    # The clinic's copy keeps the short clinical sentence.
    assert alert["clinical_message"] == (
        "Oxygen saturation 85 % is at or below the critical limit of 87 %."
    )
    assert alert_fields(alert)["message"] == alert["clinical_message"]
    (shown,) = of(active(hass), "spo2_low")
    assert shown["message"] == SPO2_85_EN
    assert shown["messages"]["zh-Hans"] == SPO2_85_ZH


async def test_chinese_system_language(
    hass: HomeAssistant, chinese: None, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    await record(hass, spo2=85)
    (alert,) = of(alerts, "spo2_low")
    assert alert["language"] == "zh-Hans"
    assert alert["message"] == SPO2_85_ZH
    (shown,) = of(active(hass), "spo2_low")
    assert shown["message"] == SPO2_85_ZH
    event = hass.states.get("event.grandma_alert")
    assert event is not None
    by_id = {a["alert_id"]: a for a in alerts}
    assert event.attributes["message"] == by_id[event.attributes["alert_id"]]["messages"]["zh-Hans"]
    assert event.attributes["message"].startswith(("血氧饱和度", "早期预警评分"))
    # Entity names resolve in the system language (HA names entities with the backend's
    # language; the user's profile language only changes what the frontend translates).
    registry = er.async_get(hass)
    names = {}
    for entry in er.async_entries_for_config_entry(
        registry, hass.config_entries.async_entries(DOMAIN)[0].entry_id
    ):
        if entry.unique_id.endswith(("_spo2", "_early_warning_score", "_health_status")):
            state = hass.states.get(entry.entity_id)
            assert state is not None
            names[entry.unique_id.split("_", 1)[1]] = state.attributes["friendly_name"]
    # Entity ids stay English (zh-Hans has no native entity ids), so dashboards and
    # automations keep working whatever the language.
    assert hass.states.get("sensor.grandma_oxygen_saturation") is not None
    assert names == {
        "spo2": "Grandma 血氧饱和度",
        "early_warning_score": "Grandma 早期预警评分",
        "health_status": "Grandma 健康状态",
    }


async def test_severity_follows_the_latest_reading(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    await record(hass, spo2=85)
    await record(hass, spo2=92)
    spo2 = of(alerts, "spo2_low")
    assert [a["action"] for a in spo2] == ["opened", "updated"]
    updated = spo2[1]
    assert updated["alert_id"] == spo2[0]["alert_id"]
    # SpO2 85 % also scored NEWS2 3 (red); at 92 % it scores 2 and that alert is over.
    assert [a["action"] for a in of(alerts, "news2")] == ["opened", "resolved"]
    # The severity word and the limit word agree: 92 % reached the warning limit only.
    assert updated["severity"] == "warning"
    assert updated["peak_severity"] == "critical"
    assert updated["message"].startswith(
        "Oxygen saturation 92 % is at or below the warning limit of 93 %. Rest for 5 minutes"
    )
    assert updated["messages"]["zh-Hans"].startswith(
        "血氧饱和度 92 %，已达到或低于警告界限 93 %。休息 5 分钟后再测一次。"
    )
    assert updated["titles"]["en"] == "Grandma: warning health alert"
    health = hass.states.get("sensor.grandma_health_status")
    assert health is not None
    assert health.state == "warning"
    # A worse value again escalates and opens it for people again.
    await record(hass, spo2=80)
    last = of(alerts, "spo2_low")[-1]
    assert last["alert_id"] == updated["alert_id"]
    assert last["severity"] == "critical"
    assert "critical limit of 87 %" in last["message"]


async def test_news2_alert_in_plain_words(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    await record(hass, systolic=88, diastolic=60)
    news2 = next(a for a in alerts if a["code"] == "news2")
    assert news2["severity"] == "urgent"
    assert news2["translation_key"] == "news2_partial"
    assert news2["message"] == (
        "Early warning score at least 3: low-medium risk or higher. Not measured at home: "
        "breathing rate, oxygen saturation, whether extra oxygen is used, pulse, alertness "
        "(awake, confused or drowsy), body temperature. They could only raise the score. "
        "Measure again now. If the value is confirmed, call the doctor or the community "
        "clinic today."
    )
    assert news2["messages"]["zh-Hans"] == (
        "早期预警评分至少为 3：中低风险或更高。以下项目在家中未测量：呼吸频率、血氧饱和度、"
        "是否吸氧、脉搏、意识状态（清醒、混乱或嗜睡）、体温，它们只会使评分更高。"
        "请立即复测。如果结果确认，请在今天联系医生或社区医院。"
    )
    for text in news2["messages"].values():
        assert not any(key in text for key in NEWS2_RAW_KEYS)
        assert "ward-based" not in text
    # The clinic's copy keeps the RCP clinical response.
    assert "Urgent ward-based response" in news2["clinical_message"]
    assert "Urgent ward-based response" in alert_fields(news2)["message"]
    # The entity says it is partial, in a translated attribute.
    score = hass.states.get("sensor.grandma_early_warning_score")
    assert score is not None
    assert score.state == "3"
    assert score.attributes["complete"] is False
    assert score.attributes["completeness"] == "partial"
    assert "not measured" in score.attributes["label"]
    zh = await async_get_translations(hass, "zh-Hans", "entity", {DOMAIN})
    prefix = f"component.{DOMAIN}.entity.sensor.early_warning_score.state_attributes"
    assert zh[f"{prefix}.completeness.state.partial"] == "部分：有些体征未测量"


async def test_stale_news2_alert_resolves_after_remeasuring(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    # SpO2 91 % scores 3 (a red score) and pulse 95 scores 1: NEWS2 at least 4.
    await record(hass, spo2=91, pulse=95)
    news2 = next(a for a in alerts if a["code"] == "news2")
    assert news2["message"].startswith("Early warning score at least 4: low-medium risk")
    assert {a["code"] for a in active(hass)} == {"news2", "spo2_low"}
    # Re-measured: NEWS2 1, no red score. The alert does not keep saying 4; it is over.
    await record(hass, spo2=96, pulse=95)
    resolved = {a["code"] for a in alerts if a["action"] == "resolved"}
    assert resolved == {"news2", "spo2_low"}
    score = hass.states.get("sensor.grandma_early_warning_score")
    assert score is not None
    assert score.state == "1"
    assert active(hass) == []
    health = hass.states.get("sensor.grandma_health_status")
    assert health is not None
    assert health.state == "normal"


async def test_threshold_errors_are_translated(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, hass_admin_user: Any
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_thresholds",
            {"person": "Grandma", "thresholds": {"spo2": {"warning_low": 95, "urgent_low": 96}}},
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
    assert err.value.translation_key == "thresholds_order"
    placeholders = err.value.translation_placeholders
    assert placeholders == {
        "field": "spo2.warning_low",
        "value": "95",
        "other_field": "spo2.urgent_low",
        "other_value": "96",
    }
    assert str(err.value) == (
        "Thresholds not changed: spo2.warning_low (95) must be above spo2.urgent_low (96)"
    )
    zh = await async_get_translations(hass, "zh-Hans", "exceptions", {DOMAIN})
    text = zh[f"component.{DOMAIN}.exceptions.thresholds_order.message"].format(**placeholders)
    assert text == "阈值未更改：spo2.warning_low（95）必须高于 spo2.urgent_low（96）。"


@pytest.mark.parametrize(
    ("data", "key", "placeholders", "english", "chinese"),
    [
        (
            {"spo2": 30},
            "implausible_spo2",
            {"value": "30", "low": "50", "high": "100", "unit": "%"},
            "Not stored: 30 % is not a plausible oxygen saturation value (accepted: 50–100 %)",
            "未保存：30 % 不是合理的血氧饱和度数值（可接受范围：50–100 %）。",
        ),
        (
            {"systolic": 95, "diastolic": 150},
            "systolic_not_above_diastolic",
            {"systolic": "95", "diastolic": "150"},
            "Not stored: systolic blood pressure 95 mmHg must be higher than diastolic blood "
            "pressure 150 mmHg",
            "未保存：收缩压 95 mmHg 必须高于舒张压 150 mmHg。",
        ),
    ],
)
async def test_service_errors_are_translated(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    hass_ws_client: Any,
    data: dict[str, Any],
    key: str,
    placeholders: dict[str, str],
    english: str,
    chinese: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await record(hass, **data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert err.value.translation_placeholders == placeholders
    assert str(err.value) == english
    # The frontend renders the key with the placeholders in the user's language.
    zh = await async_get_translations(hass, "zh-Hans", "exceptions", {DOMAIN})
    assert zh[f"component.{DOMAIN}.exceptions.{key}.message"].format(**placeholders) == chinese
    # ... and that is what the websocket API hands the frontend.
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": DOMAIN,
            "service": "record_measurement",
            "service_data": {"person": "Grandma", **data},
        }
    )
    reply = await client.receive_json()
    assert not reply["success"]
    assert reply["error"]["translation_key"] == key
    assert reply["error"]["translation_placeholders"] == placeholders


async def test_repair_names_the_values_in_chinese(
    hass: HomeAssistant, chinese: None, loaded_household: MockConfigEntry
) -> None:
    # Two people and a cuff that cannot tell them apart: the reading waits for the family.
    for alias in ("Grandma", "Grandpa"):
        await add_person(hass, loaded_household, alias=alias)
    household = loaded_household.runtime_data.household
    held = await household.async_ingest_reading(
        DeviceSource("c", "11:22:33:44:55:77", "Cuff"), decode("2a35", bp_bytes(150, 85))
    )
    assert held.status == "pending"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"reading_needs_person_{held.reading_id}")
    assert issue is not None
    assert issue.translation_placeholders["values"] == (
        "收缩压 150 mmHg、舒张压 85 mmHg、平均动脉压 95 mmHg"
    )


async def test_news2_alert_follows_the_new_score(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    # NEWS2 at least 4 (SpO2 91 % scores 3, pulse 95 scores 1), then pulse 70: at least 3,
    # still a red single score. The open alert now says 3 (it said 4), in both languages;
    # a better value of the same severity is no new push.
    await record(hass, spo2=91, pulse=95)
    (shown,) = of(active(hass), "news2")
    assert shown["message"].startswith("Early warning score at least 4:")
    await record(hass, spo2=91, pulse=70)
    assert [a["action"] for a in of(alerts, "news2")] == ["opened"]
    (shown,) = of(active(hass), "news2")
    assert shown["message"].startswith("Early warning score at least 3:")
    assert shown["messages"]["zh-Hans"].startswith("早期预警评分至少为 3")
    score = hass.states.get("sensor.grandma_early_warning_score")
    assert score is not None
    assert score.state == "3"


async def test_common_texts_are_built_once_per_language(hass: HomeAssistant, grandma: str) -> None:
    prefix = f"component.{DOMAIN}.common."
    english = await async_common_texts(hass, "en")
    chinese_texts = await async_common_texts(hass, "zh-Hans")
    # Each alert renders in every language: the second look-up is the same mapping.
    assert await async_common_texts(hass, "en") is english
    assert await async_common_texts(hass, "zh-Hans") is chinese_texts
    for language, texts in (("en", english), ("zh-Hans", chinese_texts)):
        strings = await async_get_translations(hass, language, "common", {DOMAIN})
        assert texts == {k[len(prefix) :]: v for k, v in strings.items() if k.startswith(prefix)}
    assert english["alert_title"] != chinese_texts["alert_title"]


def test_an_unknown_placeholder_stays_visible() -> None:
    texts = {"alert_custom": "{vital_name} {value} {unit} {nobody_knows} {advice}"}
    texts |= {"vital_temperature": "Temperature", "advice_warning": "Measure again."}
    text = render(
        texts,
        translation_key="custom",
        placeholders={"value": "38.4", "unit": "°C"},
        severity="warning",
        vital="temperature",
    )
    assert text == "Temperature 38.4 °C {nobody_knows} Measure again."
    gone = render(texts, translation_key="gone", placeholders={}, severity="info", vital=None)
    assert gone is None
