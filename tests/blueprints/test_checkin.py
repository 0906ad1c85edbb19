"""daily_checkin.yaml in a real HA: quiet home -> "Are you OK?" -> family if unanswered."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    async_mock_service,
)

from tests.support.blueprint_support import (
    Phone,
    PhoneFactory,
    at,
    config_dir_fixture,  # noqa: F401  (autouse fixture)
    phone_factory_fixture,  # noqa: F401  (fixture)
    settle,
    setup_blueprint_automations,
)

BLUEPRINT = "daily_checkin.yaml"
MOTION = "binary_sensor.living_room_motion"
DOOR = "binary_sensor.front_door"


async def activity(hass: HomeAssistant, entity_id: str) -> None:
    hass.states.async_set(entity_id, "on")
    await settle(hass)
    hass.states.async_set(entity_id, "off")
    await settle(hass)


@pytest.fixture
async def phones(
    hass: HomeAssistant,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> tuple[Phone, Phone]:
    freezer.move_to("2025-04-15 06:00:00-07:00")
    hass.states.async_set(MOTION, "off")
    hass.states.async_set(DOOR, "off")
    tablet = await phone_factory("Grandma's iPad")
    dad = await phone_factory("Dad's iPhone")
    await setup_blueprint_automations(
        hass,
        BLUEPRINT,
        {
            "sensors": [MOTION, DOOR],
            "day_start": "07:00:00",
            "day_end": "21:00:00",
            "quiet_hours": 4,
            "person_name": "Grandma",
            "phones": [tablet.device_id],
            "answer_minutes": 15,
            "family_phones": [dad.device_id],
            "tts_entity": "tts.home_assistant_cloud",
            "media_players": ["media_player.kitchen"],
        },
    )
    return tablet, dad


async def test_quiet_morning_asks_then_alerts_the_family(
    hass: HomeAssistant, phones: tuple[Phone, Phone], freezer: FrozenDateTimeFactory
) -> None:
    tablet, dad = phones
    speak = async_mock_service(hass, "tts", "speak")
    # Quiet since 06:00, but the night does not count: 4 daytime hours end at 11:00.
    await at(hass, freezer, "2025-04-15 10:59:00-07:00")
    assert tablet.pushes == []
    await at(hass, freezer, "2025-04-15 11:00:00-07:00")
    (prompt,) = tablet.take()
    assert prompt["title"] == "Are you OK?"
    assert prompt["message"].startswith("We have not noticed any movement since 07:00.")
    (button,) = prompt["data"]["actions"]
    assert button["title"] == "I'm OK"
    assert button["action"].startswith("SMART_CARE_OK_")
    assert prompt["data"]["push"] == {"interruption-level": "time-sensitive"}
    (said,) = speak
    assert said.data["message"] == "Grandma, are you OK? Please answer on your tablet."

    await at(hass, freezer, "2025-04-15 11:14:00-07:00")
    assert dad.pushes == []
    await at(hass, freezer, "2025-04-15 11:15:01-07:00")
    (alert,) = dad.take()
    assert alert["title"] == "Check-in not answered: Grandma"
    assert alert["message"].startswith("No activity at home since 07:00")
    assert alert["data"]["push"]["interruption-level"] == "critical"
    assert alert["data"]["channel"] == "alarm_stream"
    # One check-in per quiet spell: still quiet, no second prompt.
    await at(hass, freezer, "2025-04-15 13:00:00-07:00")
    assert tablet.pushes == []


async def test_answered_or_active_means_no_family_alert(
    hass: HomeAssistant, phones: tuple[Phone, Phone], freezer: FrozenDateTimeFactory
) -> None:
    tablet, dad = phones
    async_mock_service(hass, "tts", "speak")
    # The front door at 09:30: the quiet spell starts again.
    await at(hass, freezer, "2025-04-15 09:30:00-07:00")
    await activity(hass, DOOR)
    await at(hass, freezer, "2025-04-15 13:29:00-07:00")
    assert tablet.pushes == []
    await at(hass, freezer, "2025-04-15 13:30:00-07:00")
    (prompt,) = tablet.take()
    assert prompt["message"].startswith("We have not noticed any movement since 09:30.")
    # Grandma taps "I'm OK" on the tablet: the prompt is cleared, nobody is alarmed.
    await tablet.tap(prompt["data"]["actions"][0]["action"])
    await settle(hass)
    assert tablet.messages() == ["clear_notification"]
    await at(hass, freezer, "2025-04-15 14:00:00-07:00")
    assert dad.pushes == []

    # Next quiet spell after new activity; this time she just walks past the sensor.
    await activity(hass, MOTION)
    tablet.take()
    await at(hass, freezer, "2025-04-15 18:00:00-07:00")
    assert len(tablet.take()) == 1
    await at(hass, freezer, "2025-04-15 18:05:00-07:00")
    hass.states.async_set(MOTION, "on")
    await settle(hass)
    await at(hass, freezer, "2025-04-15 18:30:00-07:00")
    assert dad.pushes == []

    # Evening: quiet from 18:05 on, but daytime ends at 21:00 before 4 hours pass.
    hass.states.async_set(MOTION, "off")
    await settle(hass)
    tablet.take()
    await at(hass, freezer, "2025-04-15 22:30:00-07:00")
    assert tablet.pushes == []
