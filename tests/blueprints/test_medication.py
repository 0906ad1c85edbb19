"""medication_reminder.yaml in a real HA with real phones: taken, snoozed, skipped, missed."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.smart_care.care.medication import SETTING_ADHERENCE
from custom_components.smart_care.core.clinical.medication import medication_id
from tests.conftest import SENTINEL_ID, SENTINEL_TEXT, add_person
from tests.support.blueprint_support import (
    Phone,
    PhoneFactory,
    config_dir_fixture,  # noqa: F401  (autouse fixture)
    phone_factory_fixture,  # noqa: F401  (fixture)
    settle,
    setup_blueprint_automations,
    tick,
)

BLUEPRINT = "medication_reminder.yaml"


class Family:
    """Grandma's tablet (reminded) and Dad's phone (told about missed doses)."""

    def __init__(self, tablet: Phone, dad: Phone, person_id: str) -> None:
        self.tablet = tablet
        self.dad = dad
        self.person_id = person_id
        self.med_id = medication_id(person_id, "Metformin 500 mg")
        self.dose_id = f"{self.med_id}_202504150800"


@pytest.fixture
async def family(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> Family:
    freezer.move_to("2025-04-15 07:59:00-07:00")
    await add_person(
        hass,
        loaded_household,
        alias="Grandma",
        id_number=SENTINEL_ID,
        allergies=SENTINEL_TEXT,
        medications="Metformin 500 mg 08:00, 20:00",
    )
    (person_id,) = loaded_household.runtime_data.household.people
    tablet = await phone_factory("Grandma's iPad")
    dad = await phone_factory("Dad's iPhone")
    await setup_blueprint_automations(
        hass,
        BLUEPRINT,
        {"phones": [tablet.device_id], "family_phones": [dad.device_id], "grace_minutes": 30},
    )
    freezer.move_to("2025-04-15 08:00:00-07:00")
    async_fire_time_changed(hass)
    await settle(hass)
    return Family(tablet, dad, str(person_id))


async def adherence(hass: HomeAssistant, entry: MockConfigEntry, pid: str) -> list[dict[str, Any]]:
    settings = await hass.async_add_executor_job(
        entry.runtime_data.household.store.get_settings, pid
    )
    return list(settings.get(SETTING_ADHERENCE, []))


async def test_reminder_with_buttons_and_taken_from_the_tablet(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    family: Family,
    freezer: FrozenDateTimeFactory,
) -> None:
    (push,) = family.tablet.take()
    assert push["title"] == "Grandma: medication"
    assert push["message"] == "Time to take Metformin 500 mg (08:00)."
    assert push["data"] == {
        "tag": f"smart_care_med_{family.dose_id}",
        "group": "smart_care_medication",
        "push": {"interruption-level": "time-sensitive"},
        "actions": [
            {"action": f"SMART_CARE_MED_TAKEN_{family.dose_id}", "title": "Taken"},
            {"action": f"SMART_CARE_MED_SKIP_{family.dose_id}", "title": "Skip"},
            {"action": f"SMART_CARE_MED_SNOOZE_{family.dose_id}", "title": "In 15 min"},
        ],
    }
    # Nothing from the record but the medication line reaches the phone.
    assert SENTINEL_ID not in str(push)
    assert SENTINEL_TEXT not in str(push)

    await family.tablet.tap(f"SMART_CARE_MED_TAKEN_{family.dose_id}")
    await settle(hass)
    assert family.tablet.messages() == ["clear_notification"]
    await tick(hass, freezer, minutes=45)
    assert family.dad.pushes == []
    (entry,) = await adherence(hass, loaded_household, family.person_id)
    assert (entry["medication_id"], entry["dose_key"], entry["status"]) == (
        family.med_id,
        "202504150800",
        "taken",
    )


async def test_missed_dose_is_recorded_and_the_family_told(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    family: Family,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert len(family.tablet.take()) == 1
    await tick(hass, freezer, minutes=29)
    assert family.dad.pushes == []
    await tick(hass, freezer, minutes=1, seconds=1)
    (push,) = family.dad.take()
    assert push["title"] == "Grandma: dose not confirmed"
    assert push["message"] == "Metformin 500 mg due at 08:00 has not been confirmed."
    assert push["data"]["tag"] == f"smart_care_med_missed_{family.dose_id}"
    (entry,) = await adherence(hass, loaded_household, family.person_id)
    assert (entry["dose_key"], entry["status"]) == ("202504150800", "missed")


async def test_snooze_reminds_again_then_skip(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    family: Family,
    freezer: FrozenDateTimeFactory,
) -> None:
    family.tablet.take()
    await family.tablet.tap(f"SMART_CARE_MED_SNOOZE_{family.dose_id}")
    await settle(hass)
    assert family.tablet.messages() == ["clear_notification"]
    family.tablet.take()
    await tick(hass, freezer, minutes=15, seconds=1)
    # The same dose again (same tag and buttons), 15 minutes later.
    (again,) = family.tablet.take()
    assert again["data"]["tag"] == f"smart_care_med_{family.dose_id}"
    await family.tablet.tap(f"SMART_CARE_MED_SKIP_{family.dose_id}")
    await settle(hass)
    await tick(hass, freezer, minutes=60)
    assert family.dad.pushes == []
    (entry,) = await adherence(hass, loaded_household, family.person_id)
    assert entry["status"] == "skipped"
