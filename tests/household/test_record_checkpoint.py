"""The household's record copies its WAL into the database file in the background."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.core.store.record_store import CHECKPOINT_EVERY
from custom_components.smart_care.household.runtime import Household


async def test_checkpoint_runs_after_enough_commits_without_the_caller_waiting(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    household: Household = loaded_household.runtime_data.household
    store = household.store
    await hass.async_block_till_done(wait_background_tasks=True)
    before = store.path.stat().st_size
    for value in range(CHECKPOINT_EVERY + 1):
        await hass.services.async_call(
            "smart_care",
            "record_measurement",
            {"person": "Grandma", "pulse": 60 + value % 30},
            blocking=True,
        )
    await hass.async_block_till_done(wait_background_tasks=True)
    # It ran (the count starts again) and the pages went from the WAL into the file.
    assert not store.checkpoint_due
    assert store.path.stat().st_size > before
    assert await household.record.count(next(iter(household.people))) == CHECKPOINT_EVERY + 1
