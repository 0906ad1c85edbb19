"""The household's record copies its WAL into the database file in the background."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.core.store.record_store import CHECKPOINT_EVERY, RecordStore
from custom_components.smart_care.household.record import AsyncRecord
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


async def test_a_failed_checkpoint_is_a_warning_and_loses_nothing(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = RecordStore(tmp_path / "record.db")
    record = AsyncRecord(hass, store)
    try:
        # Before any checkpoint can be due: the checkpoint's own connection cannot open the
        # file (a folder stands in its way); the store's open connection goes on.
        store.path.rename(tmp_path / "aside.db")
        store.path.mkdir()
        for value in range(CHECKPOINT_EVERY + 1):
            await record.put_setting("p1", "n", value)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert "Could not checkpoint the health record" in caplog.text
        assert await record.get_settings("p1") == {"n": CHECKPOINT_EVERY}
    finally:
        store.close()
