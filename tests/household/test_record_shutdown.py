"""Home Assistant stops without unloading entries: the record is closed all the same."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
import sqlite3

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CoreState, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.household.runtime import Household


async def test_stopping_home_assistant_closes_the_record_and_keeps_every_reading(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    household: Household = loaded_household.runtime_data.household
    store = household.store
    for pulse in (61, 62, 63):
        await hass.services.async_call(
            "smart_care", "record_measurement", {"person": "Grandma", "pulse": pulse}, blocking=True
        )
    wal = Path(f"{store.path}-wal")
    assert wal.exists()  # the readings are in the WAL, fsync'd, not yet in the file

    await hass.async_stop()

    assert hass.state is CoreState.stopped
    assert loaded_household.state is ConfigEntryState.LOADED  # not unloaded, yet closed:
    with pytest.raises(sqlite3.ProgrammingError):
        store.person_ids()
    # The last connection's close folded the WAL into the file: one whole file on disk.
    assert not wal.exists()
    with closing(sqlite3.connect(store.path)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM measurements").fetchone()
    assert count == 3
