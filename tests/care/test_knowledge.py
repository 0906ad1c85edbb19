"""Health knowledge reaches the household once per topic per week, never as a diagnosis."""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import persistent_notification
from homeassistant.const import MATCH_ALL
from homeassistant.core import Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN
from tests.conftest import SENTINEL_TEXT, add_person


async def _notes(hass: HomeAssistant) -> dict[str, Any]:
    return persistent_notification._async_get_or_create_notifications(hass)


def _knowledge_events(hass: HomeAssistant) -> list[Event]:
    events: list[Event] = []
    hass.bus.async_listen("smart_care_knowledge", callback(lambda event: events.append(event)))
    return events


async def _temperature(hass: HomeAssistant, value: float) -> None:
    await hass.services.async_call(
        DOMAIN, "record_measurement", {"person": "Grandma", "temperature": value}, blocking=True
    )
    await hass.async_block_till_done()


async def test_fever_note_once_a_week(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = _knowledge_events(hass)
    await _temperature(hass, 38.6)
    assert [e.data["topic"] for e in events] == ["fever"]
    advice = hass.states.get("sensor.grandma_health_advice")
    assert advice is not None
    assert advice.state == "Fever"
    assert "WHO" in advice.attributes["source"]
    notes = await _notes(hass)
    (fever,) = [n for n in notes.values() if n["title"] == "Grandma: Fever"]
    assert "not a diagnosis" in fever["message"]
    # Again within the week: no second note.
    await _temperature(hass, 38.9)
    assert len(events) == 1
    freezer.tick(timedelta(days=8))
    await _temperature(hass, 38.4)
    assert len(events) == 2


async def test_the_week_holds_across_a_restart(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    events = _knowledge_events(hass)
    await _temperature(hass, 38.6)
    assert [e.data["topic"] for e in events] == ["fever"]
    # A new runtime reads when each topic was sent from the record, not from memory.
    assert await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    await _temperature(hass, 38.9)
    assert len(events) == 1


async def test_condition_notes_stay_off_entities(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    events: list[Event] = []
    hass.bus.async_listen("smart_care_knowledge", callback(lambda event: events.append(event)))
    await add_person(hass, loaded_household, alias="Grandpa", conditions="Type 2 diabetes")
    assert [e.data["topic"] for e in events] == ["foot_care"]
    notes = await _notes(hass)
    assert any(n["title"] == "Grandpa: Daily foot check" for n in notes.values())
    # The person's history is not shown to every HA user through an entity.
    assert hass.states.get("sensor.grandpa_health_advice").state == "unknown"


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_conditions_never_shown_to_the_household(
    hass: HomeAssistant, loaded_household: MockConfigEntry, language: str
) -> None:
    """Issue 17: a note matched to a condition named it in an event and a notification."""
    hass.config.language = language
    events: list[Event] = []
    hass.bus.async_listen(MATCH_ALL, events.append)
    conditions = f"Type 2 diabetes, heart failure, COPD, hypertension; 糖尿病 心衰 {SENTINEL_TEXT}"
    await add_person(hass, loaded_household, alias="Grandpa", conditions=conditions)
    await hass.async_block_till_done(wait_background_tasks=True)
    topics = {e.data["topic"] for e in events if e.event_type == "smart_care_knowledge"}
    assert topics == {"foot_care", "weight_gain_fluid", "low_oxygen", "measuring_technique"}
    shown = [json.dumps(e.data, ensure_ascii=False, default=str) for e in events]
    shown += [json.dumps(n, ensure_ascii=False, default=str) for n in (await _notes(hass)).values()]
    shown += [
        json.dumps(s.as_dict(), ensure_ascii=False, default=str) for s in hass.states.async_all()
    ]
    for text in shown:
        folded = text.casefold()
        for word in ("diabet", "heart failure", "copd", "hypertens", "糖尿病", "心衰", "慢阻肺"):
            assert word not in folded, (word, text[:200])
        assert SENTINEL_TEXT not in text


async def test_chinese_household_gets_chinese_notes(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    hass.config.language = "zh-Hans"
    await hass.services.async_call(
        DOMAIN, "record_measurement", {"person": "Grandma", "temperature": 38.6}, blocking=True
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.grandma_health_advice").state == "发热"
