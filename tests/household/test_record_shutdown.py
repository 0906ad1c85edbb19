"""Home Assistant stops without unloading entries: the record is closed all the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
import gc
from pathlib import Path
import sqlite3
import threading
from typing import Any
import warnings

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_CLOSE
from homeassistant.core import CoreState, Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care import DATA_CLOSED
from custom_components.smart_care.const import DOMAIN, ISSUE_KEY_MISSING
from custom_components.smart_care.core.store.record_store import RecordStore
from custom_components.smart_care.household import keys
from custom_components.smart_care.household.runtime import Household
from tests.support.open_files import open_files


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


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (at most 20 s) for something another thread does: it signals nothing to await."""
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert condition(), what


@asynccontextmanager
async def _cancelled_setup(hass: HomeAssistant, entry: MockConfigEntry) -> AsyncIterator[Path]:
    """Unload; the body sets up again and cancels that; then nothing holds the record's
    file, no connection went to the garbage collector, and the household sets up again."""
    path = entry.runtime_data.household.store.path
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert open_files(path) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield path
        await _until(lambda: entry.state is ConfigEntryState.SETUP_ERROR, "the setup failed")
        await _until(lambda: open_files(path) == 0, "the record was closed")
        gc.collect()
        # It stopped before Home Assistant set up the household's entities again.
        pulse = hass.states.get("sensor.grandma_pulse")
        assert pulse is not None
        assert pulse.attributes.get("restored") is True  # left so by the unload
    assert not [w for w in caught if "unclosed database" in str(w.message)]
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert [p.alias for p in entry.runtime_data.household.people.values()] == ["Grandma"]


@asynccontextmanager
async def _setup_waiting_to_open(
    hass: HomeAssistant, entry: MockConfigEntry, path: Path
) -> AsyncIterator[tuple[asyncio.Task[bool], sqlite3.Connection]]:
    """A setup whose thread waits to open the record (SQLite's busy wait): another
    connection holds the file until the body, or the end, closes it."""
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
        await _until(lambda: open_files(path) == 2, "the setup's thread opened the file")
        yield setup, holder


async def test_a_setup_cancelled_while_the_record_opens_leaves_it_closed(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    # Home Assistant stopping cancels a setup still running (e.g. a reload after a person was
    # edited, or a long migration). The executor thread cannot be stopped: it finishes
    # opening the record, and the record must not be left open to the garbage collector.
    entry = loaded_household
    async with (
        _cancelled_setup(hass, entry) as path,
        _setup_waiting_to_open(hass, entry, path) as (setup, _holder),
    ):
        setup.cancel()
        await _until(lambda: entry.state is ConfigEntryState.SETUP_ERROR, "it failed")
        # Then the holder lets go: the thread opens the record, and nobody takes it, so
        # the thread closes it itself.


@pytest.fixture
def opened_stores(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, list[RecordStore]]:
    """Tell the test when the setup's thread has opened a record, and which store it is.

    A spy: the real open runs and its result is returned unchanged.
    """
    opened = threading.Event()
    stores: list[RecordStore] = []
    real_open = keys._Opening.open

    def _open(self: Any, db_path: Path, key_file: Path) -> Any:
        result = real_open(self, db_path, key_file)
        stores.append(result[0])
        opened.set()
        return result

    monkeypatch.setattr(keys._Opening, "open", _open)
    return opened, stores


async def test_a_setup_cancelled_as_the_record_is_handed_over_closes_it(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    opened_stores: tuple[threading.Event, list[RecordStore]],
) -> None:
    # The narrow case: the thread has opened the record and handed it over, but the setup
    # has not resumed yet when it is cancelled. The result goes nowhere; the setup closes it.
    entry = loaded_household
    opened, _stores = opened_stores
    async with (
        _cancelled_setup(hass, entry) as path,
        _setup_waiting_to_open(hass, entry, path) as (setup, holder),
    ):
        # From here to the cancel the loop does not run: the setup cannot take the store
        # the thread hands over. (Only closing ends an exclusive-mode lock.)
        holder.close()
        assert opened.wait(20), "the thread finished opening"
        setup.cancel()


async def test_a_setup_cancelled_while_the_household_loads_closes_the_record(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    opened_stores: tuple[threading.Event, list[RecordStore]],
) -> None:
    entry = loaded_household
    _opened, stores = opened_stores
    # Opening the record clears a "key missing" issue. The callback runs inside the setup's
    # own step, so it cancels the setup's task itself; the cancel lands at its next real
    # wait, the household's load, before any of Home Assistant's platform set-up.
    issue_id = f"{ISSUE_KEY_MISSING}_{entry.entry_id}"
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.CRITICAL,
        translation_key=ISSUE_KEY_MISSING,
    )
    open_when_cancelled: list[int] = []

    @callback
    def _record_opened(event: Event) -> None:
        if event.data["action"] == "remove" and event.data["issue_id"] == issue_id:
            open_when_cancelled.append(open_files(path))
            # The load's thread waits for the store (as behind a slow disk) until the loop
            # runs again. Without that wait, Python 3.14 may finish a quick executor job
            # before the setup awaits it, and the setup would not stop until HA's platforms.
            lock = stores[-1]._lock
            lock.acquire()
            hass.loop.call_soon(lock.release)
            setup = asyncio.current_task()
            assert setup is not None
            setup.cancel()

    async with _cancelled_setup(hass, entry) as path:
        unsubscribe = hass.bus.async_listen(ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED, _record_opened)
        hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
        await _until(lambda: bool(open_when_cancelled), "the record was opened")
        unsubscribe()
    assert open_when_cancelled == [1]


async def test_a_setup_ending_after_home_assistant_closed_closes_the_record(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    # Home Assistant closes the records at its close event, and cancels a setup still
    # running only after it. A setup (a reload under way) that ends in between missed the
    # event; it must close the record itself rather than leave it to the garbage collector.
    entry = loaded_household
    path = entry.runtime_data.household.store.path
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert open_files(path) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        async with _setup_waiting_to_open(hass, entry, path) as (setup, _holder):
            # The close stage of Home Assistant stopping, while the record opens.
            hass.bus.async_fire(EVENT_HOMEASSISTANT_CLOSE)
            await _until(lambda: hass.data.get(DATA_CLOSED, False), "the close event came")
        assert await setup  # the holder let go: the setup ends, the entry is loaded
        assert entry.state is ConfigEntryState.LOADED
        await _until(lambda: open_files(path) == 0, "the record was closed")
        with pytest.raises(sqlite3.ProgrammingError):
            entry.runtime_data.household.store.person_ids()
        gc.collect()
    assert not [w for w in caught if "unclosed database" in str(w.message)]
