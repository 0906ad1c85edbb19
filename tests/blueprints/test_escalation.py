"""emergency_escalation.yaml in a real HA: wait, escalate in rounds, stop on acknowledgement."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from custom_components.smart_care.const import CONF_GLUCOSE_UNIT, CONF_SHARE_LOCATION, DOMAIN
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_NAME, SENTINEL_TEXT, add_person
from tests.support.blueprint_support import (
    config_dir_fixture,  # noqa: F401  (autouse fixture)
    record,
    settle,
    setup_blueprint_automations,
    tick,
)

BLUEPRINT = "emergency_escalation.yaml"
LIGHT = "light.hall"


class Home:
    """What the escalation reaches: notify services, the TTS engine, a real light."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.family = async_mock_service(hass, "notify", "family")
        self.sms = async_mock_service(hass, "notify", "sms_gateway")
        self.speak = async_mock_service(hass, "tts", "speak")

    def rounds(self) -> int:
        """Emergency rounds so far (every round reaches the SMS gateway)."""
        return len(self.sms)

    def light(self) -> str:
        state = self.hass.states.get(LIGHT)
        assert state is not None
        return state.state


@pytest.fixture
async def home(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Home:
    freezer.move_to("2025-04-15 12:00:00-07:00")
    # A real light: a template light over an input_boolean.
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"hall": {}}})
    # The template integration's own light key (the light platform key is gone in HA 2026).
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "light": [
                        {
                            "name": "hall",
                            "state": "{{ is_state('input_boolean.hall', 'on') }}",
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": {"entity_id": "input_boolean.hall"},
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": {"entity_id": "input_boolean.hall"},
                            },
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()
    return Home(hass)


INPUTS: dict[str, Any] = {
    "wait_minutes": 5,
    "repeat_minutes": 5,
    "max_rounds": 3,
    "notify_services": ["notify.sms_gateway"],
    "tts_entity": "tts.home_assistant_cloud",
    "media_players": ["media_player.kitchen", "media_player.bedroom"],
    "lights": [LIGHT],
}


async def critical_alert(hass: HomeAssistant) -> str:
    await record(hass, spo2=85)
    response = await hass.services.async_call(
        DOMAIN, "get_alerts", {}, blocking=True, return_response=True
    )
    assert response is not None
    (alert,) = [a for a in response["alerts"] if a["severity"] == "critical"]  # type: ignore[union-attr]
    return str(alert["alert_id"])


async def acknowledge(hass: HomeAssistant, alert_id: str) -> None:
    await hass.services.async_call(
        DOMAIN, "acknowledge_alert", {"alert_id": alert_id}, blocking=True
    )
    await settle(hass)


async def test_acknowledged_in_time_nobody_is_called(
    hass: HomeAssistant, grandma: str, home: Home, freezer: FrozenDateTimeFactory
) -> None:
    await setup_blueprint_automations(hass, BLUEPRINT, INPUTS)
    alert_id = await critical_alert(hass)
    await tick(hass, freezer, minutes=4)
    await acknowledge(hass, alert_id)
    await tick(hass, freezer, minutes=30)
    assert (home.family, home.sms, home.speak) == ([], [], [])
    assert home.light() == "off"


async def test_escalates_in_rounds_and_stops_when_acknowledged(
    hass: HomeAssistant,
    grandma: str,
    home: Home,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_blueprint_automations(hass, BLUEPRINT, INPUTS)
    alert_id = await critical_alert(hass)
    await tick(hass, freezer, minutes=4, seconds=59)
    assert home.rounds() == 0

    await tick(hass, freezer, seconds=2)
    # Round 1: the person's own contact (notify.family, kept by Smart Care) and the SMS gateway.
    assert home.rounds() == 1
    (family,) = home.family
    (sms,) = home.sms
    assert family.data == sms.data
    assert sms.data["title"] == "EMERGENCY: Grandma"
    assert sms.data["message"] == (
        "Grandma: Oxygen saturation 85 % is at or below the critical limit of 87 %. "
        "Measure again now and stay with the person. If the value is confirmed or they feel "
        "unwell, call the emergency number. "
        "Nobody has acknowledged this Smart Care alarm for 5 minutes. "
        "Please check on Grandma now."
    )
    (speak,) = home.speak
    assert speak.data["entity_id"] == ["tts.home_assistant_cloud"]
    assert speak.data["media_player_entity_id"] == ["media_player.kitchen", "media_player.bedroom"]
    assert speak.data["message"].startswith("Emergency. Grandma needs help.")
    assert speak.data["cache"] is False
    assert home.light() == "on"

    await tick(hass, freezer, minutes=5, seconds=1)
    assert home.rounds() == 2
    assert "for 10 minutes" in home.sms[-1].data["message"]

    # A neighbour acknowledges after the second round: nothing more goes out.
    await acknowledge(hass, alert_id)
    await tick(hass, freezer, minutes=30)
    assert home.rounds() == 2
    assert len(home.speak) == 2
    # Identity stays in the record: never in a message or a log line.
    text = " ".join(str(c.data) for c in [*home.family, *home.sms, *home.speak]) + caplog.text
    for secret in (SENTINEL_NAME, SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH):
        assert secret not in text


async def test_stops_after_max_rounds_and_survives_a_broken_contact(
    hass: HomeAssistant,
    grandma: str,
    home: Home,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inputs = INPUTS | {"notify_services": ["notify.sms_gateway", "notify.gone", "light.hall"]}
    await setup_blueprint_automations(hass, BLUEPRINT, inputs)
    await critical_alert(hass)
    for _ in range(8):
        await tick(hass, freezer, minutes=5, seconds=1)
    # Three rounds (at 5, 10 and 15 minutes), then it stops although nobody answered.
    assert home.rounds() == 3
    assert len(home.family) == 3
    assert len(home.speak) == 3
    assert "Emergency notification via notify.gone failed (ServiceNotFound)" in caplog.text
    # Only notify services can be called through the contact list.
    assert "Emergency contact light.hall is not a notify service; skipped" in caplog.text


async def test_includes_location_only_when_the_household_allows_it(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    home: Home,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass.states.async_set(
        "person.grandma",
        "not_home",
        {"latitude": 31.2304, "longitude": 121.4737, "gps_accuracy": 12},
    )
    await add_person(hass, loaded_household, alias="Grandma", person_entity="person.grandma")
    await setup_blueprint_automations(
        hass, BLUEPRINT, INPUTS | {"include_location": True, "max_rounds": 1}
    )
    # Not allowed by the household (the default): the message goes without a location.
    alert_id = await critical_alert(hass)
    await tick(hass, freezer, minutes=5, seconds=1)
    assert "openstreetmap" not in home.sms[-1].data["message"]
    assert "does not share the location in an emergency" in caplog.text
    await hass.services.async_call(DOMAIN, "resolve_alert", {"alert_id": alert_id}, blocking=True)
    await settle(hass)

    # Allowed: the next critical alert's message carries a map link, and it is logged.
    hass.config_entries.async_update_entry(
        loaded_household, options={CONF_GLUCOSE_UNIT: "mmol/L", CONF_SHARE_LOCATION: True}
    )
    await settle(hass)
    caplog.clear()
    alert_id = await critical_alert(hass)
    await tick(hass, freezer, minutes=5, seconds=1)
    assert (
        home.sms[-1]
        .data["message"]
        .endswith(
            " Location: https://www.openstreetmap.org/?mlat=31.230400&mlon=121.473700"
            "#map=17/31.230400/121.473700"
        )
    )
    (line,) = [r.getMessage() for r in caplog.records if "location disclosed" in r.getMessage()]
    assert (
        line == f"Emergency location disclosed for critical alert {alert_id} (caller: automation)"
    )
    household = loaded_household.runtime_data.household
    (person_id,) = household.people
    settings = await hass.async_add_executor_job(household.store.get_settings, person_id)
    assert [e["alert_id"] for e in settings["emergency_location_log"]] == [alert_id]


async def test_emergency_services_refuse_what_they_must_not_do(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    home: Home,
) -> None:
    hass.states.async_set("person.grandma", "home", {})
    hass.states.async_set("zone.home", "0", {"latitude": 52.37, "longitude": 4.89})
    await add_person(hass, loaded_household, alias="Grandma", person_entity="person.grandma")
    await record(hass, spo2=92)  # warning, not critical
    response = await hass.services.async_call(
        DOMAIN, "get_alerts", {}, blocking=True, return_response=True
    )
    assert response is not None
    warning = response["alerts"][0]["alert_id"]  # type: ignore[index]

    async def call(service: str, **data: Any) -> Any:
        return await hass.services.async_call(
            DOMAIN, service, data, blocking=True, return_response=True
        )

    with pytest.raises(ServiceValidationError) as err:
        await call("emergency_location", alert_id=warning)
    assert err.value.translation_key == "location_not_critical"
    # No contacts at all: a clear error rather than silence.
    with pytest.raises(ServiceValidationError) as err:
        await call("notify_emergency_contacts", alert_id=warning, message="help")
    assert err.value.translation_key == "no_emergency_contacts"
    with pytest.raises(HomeAssistantError) as failed:
        await call(
            "notify_emergency_contacts", alert_id=warning, message="help", targets=["notify.x"]
        )
    assert failed.value.translation_key == "emergency_notify_failed"
    assert await call(
        "notify_emergency_contacts", alert_id=warning, message="help", targets="notify.family"
    ) == {"sent": ["notify.family"], "failed": []}

    hass.config_entries.async_update_entry(
        loaded_household, options={CONF_GLUCOSE_UNIT: "mmol/L", CONF_SHARE_LOCATION: True}
    )
    await settle(hass)
    critical = await critical_alert(hass)
    # At home without GPS: the home zone's coordinates.
    location = await call("emergency_location", alert_id=critical)
    assert (location["latitude"], location["longitude"], location["zone"]) == (52.37, 4.89, "home")
    hass.states.async_set("person.grandma", "unknown", {})
    with pytest.raises(ServiceValidationError) as err:
        await call("emergency_location", alert_id=critical)
    assert err.value.translation_key == "no_location"


@pytest.fixture
def chinese(hass: HomeAssistant) -> None:
    """Home Assistant's system language is Simplified Chinese (set before the household)."""
    hass.config.language = "zh-Hans"


async def test_texts_follow_the_system_language(
    hass: HomeAssistant,
    chinese: None,
    grandma: str,
    home: Home,
    freezer: FrozenDateTimeFactory,
) -> None:
    # Emergency contacts are numbers, not HA users: the default texts use the system language.
    await setup_blueprint_automations(hass, BLUEPRINT, INPUTS)
    await critical_alert(hass)
    await tick(hass, freezer, minutes=5, seconds=1)
    assert home.rounds() == 1
    (sms,) = home.sms
    assert sms.data["title"] == "紧急情况：Grandma"
    assert sms.data["message"] == (
        "Grandma：血氧饱和度 85 %，已达到或低于危急界限 87 %。请立即复测并陪在身边。"
        "如果结果确认或感觉不适，请拨打急救电话 120。"
        "这条智慧照护告警已有 5 分钟无人确认。请立即查看Grandma的情况。"
    )
    (speak,) = home.speak
    assert speak.data["message"].startswith(
        "紧急情况。Grandma需要帮助。智慧照护告警：血氧饱和度 85 %"
    )
