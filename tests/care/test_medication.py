"""Medication schedule glue in a real HA: due events, answers, adherence, snooze, reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.smart_care.care.medication import SETTING_ADHERENCE
from custom_components.smart_care.const import (
    DOMAIN,
    EVENT_MEDICATION_ANSWERED,
    EVENT_MEDICATION_DUE,
)
from custom_components.smart_care.core.clinical.medication import medication_id
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_TEXT, add_person
from tests.support.blueprint_support import private_config, settle

MEDICATIONS = "Metformin 500 mg 08:00, 20:00\nAmlodipine 5 mg 08:00\nParacetamol 500 mg when needed"


@pytest.fixture(autouse=True)
async def config_dir(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[Path]:
    """Record DB and blueprints in tmp_path, before the household is set up."""
    async with private_config(hass, tmp_path) as path:
        yield path


@pytest.fixture
def events(hass: HomeAssistant) -> dict[str, list[dict[str, Any]]]:
    fired: dict[str, list[dict[str, Any]]] = {
        EVENT_MEDICATION_DUE: [],
        EVENT_MEDICATION_ANSWERED: [],
    }
    for event_type, items in fired.items():

        @callback
        def _listen(event: Event, items: list[dict[str, Any]] = items) -> None:
            items.append(dict(event.data))

        hass.bus.async_listen(event_type, _listen)
    return fired


@pytest.fixture
async def person_id(
    hass: HomeAssistant, loaded_household: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> str:
    freezer.move_to("2025-04-15 07:59:00-07:00")
    await add_person(
        hass,
        loaded_household,
        alias="Grandma",
        id_number=SENTINEL_ID,
        birth_date=SENTINEL_BIRTH,
        conditions=SENTINEL_TEXT,
        medications=MEDICATIONS,
    )
    (pid,) = loaded_household.runtime_data.household.people
    return str(pid)


async def at(hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: str) -> None:
    freezer.move_to(when)
    async_fire_time_changed(hass)
    await settle(hass)


async def adherence(hass: HomeAssistant, entry: MockConfigEntry, pid: str) -> list[dict[str, Any]]:
    settings = await hass.async_add_executor_job(
        entry.runtime_data.household.store.get_settings, pid
    )
    return list(settings.get(SETTING_ADHERENCE, []))


async def test_due_at_each_dose_time_and_rebuilt_on_reload(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    person_id: str,
    events: dict[str, list[dict[str, Any]]],
    freezer: FrozenDateTimeFactory,
) -> None:
    await at(hass, freezer, "2025-04-15 08:00:00-07:00")
    due = events[EVENT_MEDICATION_DUE]
    assert sorted(d["medication"] for d in due) == ["Amlodipine 5 mg", "Metformin 500 mg"]
    metformin = next(d for d in due if d["medication"] == "Metformin 500 mg")
    med_id = medication_id(person_id, "Metformin 500 mg")
    assert metformin == {
        "person_id": person_id,
        "person": "Grandma",
        "medication_id": med_id,
        "medication": "Metformin 500 mg",
        "time": "2025-04-15T08:00:00-07:00",
        "dose_key": "202504150800",
        "dose_id": f"{med_id}_202504150800",
        "snoozed": False,
    }
    # Only the medication text goes on the bus, nothing else from the record.
    for secret in (SENTINEL_ID, SENTINEL_BIRTH, SENTINEL_TEXT):
        assert secret not in str(due)

    # A reload (e.g. the person was edited) rebuilds the timers: no double reminders.
    await at(hass, freezer, "2025-04-15 09:00:00-07:00")
    assert await hass.config_entries.async_reload(loaded_household.entry_id)
    await settle(hass)
    due.clear()
    await at(hass, freezer, "2025-04-15 20:00:00-07:00")
    assert [d["medication"] for d in due] == ["Metformin 500 mg"]


async def test_answers_from_the_phone_are_stored_and_snooze_asks_again(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    person_id: str,
    events: dict[str, list[dict[str, Any]]],
    freezer: FrozenDateTimeFactory,
) -> None:
    med_id = medication_id(person_id, "Amlodipine 5 mg")
    await at(hass, freezer, "2025-04-15 08:00:00-07:00")
    # Not ours, malformed, or an unknown medication: ignored.
    for action in (
        "SMART_CARE_ACK_x",
        "SMART_CARE_MED_TAKEN_0123456789abcdef_202504150800",
        f"SMART_CARE_MED_TAKEN_{med_id}_2025041508",
    ):
        hass.bus.async_fire("mobile_app_notification_action", {"action": action})
    await settle(hass)
    assert events[EVENT_MEDICATION_ANSWERED] == []

    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"SMART_CARE_MED_SNOOZE_{med_id}_202504150800"}
    )
    await settle(hass)
    (answer,) = events[EVENT_MEDICATION_ANSWERED]
    assert answer["status"] == "snoozed"
    assert answer["dose_id"] == f"{med_id}_202504150800"
    assert "medication" not in answer  # answers carry ids only
    events[EVENT_MEDICATION_DUE].clear()
    await at(hass, freezer, "2025-04-15 08:15:01-07:00")
    (again,) = events[EVENT_MEDICATION_DUE]
    assert (again["medication_id"], again["dose_key"], again["snoozed"]) == (
        med_id,
        "202504150800",
        True,
    )
    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"SMART_CARE_MED_TAKEN_{med_id}_202504150800"}
    )
    await settle(hass)
    events[EVENT_MEDICATION_DUE].clear()
    await at(hass, freezer, "2025-04-15 08:45:00-07:00")
    assert events[EVENT_MEDICATION_DUE] == []
    # One entry per dose: the later answer replaced the snooze.
    (entry,) = await adherence(hass, loaded_household, person_id)
    assert entry["medication_id"] == med_id
    assert entry["dose_key"] == "202504150800"
    assert entry["status"] == "taken"
    assert entry["by"].startswith("mobile_app:")


async def test_record_medication_service(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    person_id: str,
    events: dict[str, list[dict[str, Any]]],
    freezer: FrozenDateTimeFactory,
) -> None:
    med_id = medication_id(person_id, "Metformin 500 mg")
    freezer.move_to("2025-04-15 19:30:00-07:00")

    async def call(**data: Any) -> Any:
        return await hass.services.async_call(
            DOMAIN, "record_medication", data, blocking=True, return_response=True
        )

    # Without a time: the latest dose due (20:00 is within the next hour).
    assert await call(person="grandma", medication_id=med_id, status="taken") == {
        "medication_id": med_id,
        "dose_key": "202504152000",
        "time": "2025-04-15T20:00:00-07:00",
        "status": "taken",
    }
    response = await call(
        person="Grandma", medication_id=med_id, status="missed", time="2025-04-15T08:00:00"
    )
    assert response["dose_key"] == "202504150800"
    assert [a["status"] for a in events[EVENT_MEDICATION_ANSWERED]] == ["taken", "missed"]
    assert [e["dose_key"] for e in await adherence(hass, loaded_household, person_id)] == [
        "202504152000",
        "202504150800",
    ]
    with pytest.raises(ServiceValidationError) as err:
        await call(person="Grandma", medication_id="0123456789abcdef", status="taken")
    assert err.value.translation_key == "unknown_medication"
    with pytest.raises(ServiceValidationError) as err:
        await call(person="Nobody", medication_id=med_id, status="taken")
    assert err.value.translation_key == "unknown_person"
