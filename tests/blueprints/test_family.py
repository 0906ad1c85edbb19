"""family_alert.yaml in a real HA: real Smart Care alerts, real mobile_app phones, real pushes."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.smart_care.const import DOMAIN
from tests.conftest import add_person
from tests.support.blueprint_support import (
    Phone,
    PhoneFactory,
    config_dir_fixture,  # noqa: F401  (autouse fixture)
    person_device,
    phone_factory_fixture,  # noqa: F401  (fixture)
    record,
    settle,
    setup_blueprint_automations,
    tick,
)

BLUEPRINT = "family_alert.yaml"


async def alert_ids(hass: HomeAssistant) -> dict[str, str]:
    response = await hass.services.async_call(
        DOMAIN, "get_alerts", {}, blocking=True, return_response=True
    )
    assert response is not None
    return {a["code"]: a["alert_id"] for a in response["alerts"]}  # type: ignore[union-attr]


async def setup_family(
    hass: HomeAssistant,
    household: MockConfigEntry,
    phone_factory: PhoneFactory,
    **inputs: Any,
) -> tuple[Phone, Phone]:
    await add_person(hass, household, alias="Grandma")
    dad = await phone_factory("Dad's iPhone")
    aunt = await phone_factory("Aunt Pixel")
    await setup_blueprint_automations(
        hass, BLUEPRINT, {"phones": [dad.device_id, aunt.device_id], **inputs}
    )
    return dad, aunt


async def test_critical_alert_pushes_alarm_and_acknowledge_clears(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    # 03:00 local: inside the default quiet hours, which never hold back critical alerts.
    freezer.move_to("2025-04-15 03:00:00-07:00")
    dad, aunt = await setup_family(
        hass, loaded_household, phone_factory, phone_number="+86 138 0000 0000"
    )
    await record(hass, spo2=85)
    alert_id = (await alert_ids(hass))["spo2_low"]

    for phone in (dad, aunt):
        pushes = [p for p in phone.take() if p["data"]["tag"] == f"smart_care_{alert_id}"]
        assert len(pushes) == 1
        push = pushes[0]
        assert push["title"] == "Grandma: critical health alert"
        assert (
            push["message"] == "Oxygen saturation 85 % is at or below the critical limit of 87 %. "
            "Measure again now and stay with the person. If the value is confirmed or they "
            "feel unwell, call the emergency number."
        )
        assert push["push_token"] == f"token-{phone.notify_service.removeprefix('mobile_app_')}"
        data = push["data"]
        assert data["actions"] == [
            {"action": f"SMART_CARE_ACK_{alert_id}", "title": "Acknowledge"},
            {"action": f"SMART_CARE_SNOOZE_{alert_id}", "title": "Snooze 30 min"},
            {"action": "URI", "title": "Call", "uri": "tel:+8613800000000"},
        ]
        # iOS critical alert and Android alarm stream.
        assert data["push"] == {
            "interruption-level": "critical",
            "sound": {"name": "default", "critical": 1, "volume": 1.0},
        }
        assert (data["channel"], data["priority"], data["ttl"]) == ("alarm_stream", "high", 0)
        assert data["group"] == "smart_care"

    # Dad taps Acknowledge: Smart Care acknowledges and every phone clears the alert.
    await dad.tap(f"SMART_CARE_ACK_{alert_id}")
    await settle(hass)
    response = await hass.services.async_call(
        DOMAIN, "get_alerts", {}, blocking=True, return_response=True
    )
    assert response is not None
    statuses = {a["alert_id"]: a["status"] for a in response["alerts"]}  # type: ignore[union-attr]
    assert statuses[alert_id] == "acknowledged"
    for phone in (dad, aunt):
        cleared = [p for p in phone.take() if p["data"].get("tag") == f"smart_care_{alert_id}"]
        assert cleared == [
            {
                "message": "clear_notification",
                "data": {"tag": f"smart_care_{alert_id}"},
                "push_token": cleared[0]["push_token"],
                "registration_info": cleared[0]["registration_info"],
            }
        ]


async def test_quiet_hours_hold_back_non_critical_only(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to("2025-04-15 23:30:00-07:00")
    dad, _aunt = await setup_family(hass, loaded_household, phone_factory)
    await add_person(hass, loaded_household, alias="Grandpa")

    await record(hass, systolic=150, diastolic=85)  # warning: held back
    await record(hass, person="Grandpa", temperature=38.5)  # warning: held back
    assert dad.pushes == []
    await record(hass, spo2=85)  # critical: goes at once, even at night
    assert [p["data"].get("channel") for p in dad.take()] == ["alarm_stream"]

    # Someone sees Grandpa's fever in the app at night and acknowledges it.
    fever = (await alert_ids(hass))["temperature_high"]
    await hass.services.async_call(DOMAIN, "acknowledge_alert", {"alert_id": fever}, blocking=True)
    await settle(hass)
    dad.take()  # the clear_notification for a push never shown

    freezer.move_to("2025-04-16 06:59:00-07:00")
    async_fire_time_changed(hass)
    await settle(hass)
    assert dad.pushes == []
    freezer.move_to("2025-04-16 07:00:05-07:00")
    async_fire_time_changed(hass)
    await settle(hass)
    # Morning: the alerts still open are pushed (Grandma's blood pressure, and the NEWS2
    # score raised with her low SpO2); the fever someone acknowledged at night is not.
    morning = {p["message"].split(" ")[0]: p for p in dad.take()}
    assert set(morning) == {"Systolic", "Early"}
    # NEWS2 speaks to the family in words: nothing measured is named by a raw key.
    news2 = morning["Early"]["message"]
    assert news2.startswith("Early warning score at least ")
    assert "Not measured at home: breathing rate, whether extra oxygen is used" in news2
    assert "_" not in news2
    assert "ward-based" not in news2
    push = morning["Systolic"]
    assert push["title"] == "Grandma: warning health alert"
    assert push["message"].startswith("Systolic blood pressure 150 mmHg")
    assert "channel" not in push["data"]
    assert "push" not in push["data"]
    # No phone number configured: no Call button.
    assert [a["title"] for a in push["data"]["actions"]] == ["Acknowledge", "Snooze 30 min"]


async def _grandparents_and_dad(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
    **inputs: Any,
) -> Any:
    """Grandma and Grandpa in the household; the automation pushes Grandma's alerts to Dad."""
    freezer.move_to("2025-04-15 12:00:00-07:00")
    await add_person(hass, entry, alias="Grandma")
    await add_person(hass, entry, alias="Grandpa")
    dad = await phone_factory("Dad's iPhone")
    await setup_blueprint_automations(
        hass,
        BLUEPRINT,
        {"people": [person_device(hass, "Grandma")], "phones": [dad.device_id], **inputs},
    )
    return dad


async def test_people_and_severities_filter_and_escalation_replaces(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    dad = await _grandparents_and_dad(
        hass, loaded_household, phone_factory, freezer, severities=["urgent", "critical"]
    )
    await record(hass, systolic=150, diastolic=85)  # Grandma, warning: not chosen
    await record(hass, person="Grandpa", systolic=185, diastolic=95)  # urgent, not Grandma
    assert dad.pushes == []

    await record(hass, spo2=90)  # Grandma, urgent
    alert_id = (await alert_ids(hass))["spo2_low"]
    (push,) = [p for p in dad.take() if p["data"]["tag"] == f"smart_care_{alert_id}"]
    assert push["title"] == "Grandma: urgent health alert"
    assert push["data"]["push"] == {"interruption-level": "time-sensitive"}
    assert (push["data"]["priority"], push["data"]["ttl"]) == ("high", 0)
    assert "channel" not in push["data"]

    # Worse: the same alert escalates; the push has the same tag and replaces the first.
    await record(hass, spo2=85)
    (push,) = [p for p in dad.take() if p["data"]["tag"] == f"smart_care_{alert_id}"]
    assert push["title"] == "Grandma: critical health alert"
    assert push["data"]["channel"] == "alarm_stream"


async def test_snooze_from_phone_clears_and_reopen_pushes_again(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to("2025-04-15 12:00:00-07:00")
    dad, aunt = await setup_family(hass, loaded_household, phone_factory)
    await record(hass, systolic=185, diastolic=95)
    alert_id = (await alert_ids(hass))["systolic_bp_high"]
    (first,) = [p for p in aunt.take() if p["data"]["tag"] == f"smart_care_{alert_id}"]
    assert first["message"].startswith("Systolic blood pressure 185")
    dad.take()
    await aunt.tap(f"SMART_CARE_SNOOZE_{alert_id}")
    await settle(hass)
    assert dad.messages() == ["clear_notification"]
    dad.take()
    await tick(hass, freezer, minutes=31)
    # Still high after the snooze: reopened and pushed again under the same tag.
    (push,) = dad.take()
    assert push["data"]["tag"] == f"smart_care_{alert_id}"
    assert push["message"].startswith("Systolic blood pressure 185")


async def test_custom_title_and_button_labels(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to("2025-04-15 12:00:00-07:00")
    dad, aunt = await setup_family(
        hass,
        loaded_household,
        phone_factory,
        phone_number="+1 555 0100",
        title="{{ person }} ({{ vital }}): {{ severity | upper }}",
        acknowledge_label="On it",
        snooze_label="Later",
        call_label="Ring Grandma",
    )
    await record(hass, spo2=90)  # urgent
    alert_id = (await alert_ids(hass))["spo2_low"]
    for phone in (dad, aunt):
        (push,) = [p for p in phone.take() if p["data"]["tag"] == f"smart_care_{alert_id}"]
        # The title template sees the alert's person, vital and severity.
        assert push["title"] == "Grandma (spo2): URGENT"
        assert push["message"].startswith("Oxygen saturation 90 %")
        assert push["data"]["actions"] == [
            {"action": f"SMART_CARE_ACK_{alert_id}", "title": "On it"},
            {"action": f"SMART_CARE_SNOOZE_{alert_id}", "title": "Later"},
            {"action": "URI", "title": "Ring Grandma", "uri": "tel:+15550100"},
        ]
        assert push["data"]["push"] == {"interruption-level": "time-sensitive"}
        assert (push["data"]["priority"], push["data"]["ttl"]) == ("high", 0)
        assert push["data"]["group"] == "smart_care"


async def test_held_back_push_goes_out_as_the_alert_is_in_the_morning(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to("2025-04-15 23:30:00-07:00")
    dad, _aunt = await setup_family(
        hass, loaded_household, phone_factory, title="{{ person }}: {{ severity }}"
    )
    await record(hass, systolic=150, diastolic=85)  # warning: held back
    freezer.move_to("2025-04-15 23:40:00-07:00")
    await record(hass, systolic=185, diastolic=95)  # the same alert escalates: held back too
    assert dad.pushes == []
    alert_id = (await alert_ids(hass))["systolic_bp_high"]

    freezer.move_to("2025-04-16 07:00:05-07:00")
    async_fire_time_changed(hass)
    await settle(hass)
    # Both held runs re-check and push the alert as it is now: urgent, the newer text.
    pushes = [p for p in dad.take() if p["data"]["tag"] == f"smart_care_{alert_id}"]
    assert len(pushes) == 2
    for push in pushes:
        assert push["title"] == "Grandma: urgent"
        assert push["message"].startswith("Systolic blood pressure 185")
        assert push["data"]["push"] == {"interruption-level": "time-sensitive"}
        assert (push["data"]["priority"], push["data"]["ttl"]) == ("high", 0)
        assert [a["title"] for a in push["data"]["actions"]] == ["Acknowledge", "Snooze 30 min"]


async def test_other_peoples_alerts_are_not_cleared(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    dad = await _grandparents_and_dad(hass, loaded_household, phone_factory, freezer)
    await record(hass, person="Grandpa", systolic=185, diastolic=95)
    alert_id = (await alert_ids(hass))["systolic_bp_high"]
    await hass.services.async_call(
        DOMAIN, "acknowledge_alert", {"alert_id": alert_id}, blocking=True
    )
    await settle(hass)
    assert dad.pushes == []
