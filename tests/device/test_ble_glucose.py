"""Glucose meters: stored records over RACP, resume after the last record kept, no duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
import logging
from typing import Any
from unittest.mock import patch

from bleak.exc import BleakError
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN, EVENT_MEASUREMENT, EVENT_MEASUREMENTS
from custom_components.smart_care.device import ble
from custom_components.smart_care.household.runtime import Household, IngestResult
from tests.conftest import add_person
from tests.fakes.ble_fakes import (
    NOTIFY,
    READ,
    GlucoseMeter,
    add_device_entry,
    fast_link,
    patch_gatt,
    wake,
)

METER = "C4:7C:8D:00:00:01"


@pytest.fixture(autouse=True)
def bluetooth_on(enable_bluetooth: None) -> Iterator[None]:
    """A Bluetooth adapter (mocked scanner) and no waiting between sessions."""
    with fast_link():
        yield


def _base() -> datetime:
    # Device clocks are local and zone-less; records from this morning.
    return (dt_util.now() - timedelta(hours=6)).replace(tzinfo=None, microsecond=0)


def _meter(count: int) -> GlucoseMeter:
    meter = GlucoseMeter(METER)
    for seq in range(1, count + 1):
        meter.add_record(seq, _base() + timedelta(minutes=seq), 5.0 + seq / 10)
    return meter


def _racp(meter: GlucoseMeter) -> list[str]:
    """Every RACP request the meter received, as hex."""
    return [w.data.hex() for w in meter.writes if w.uuid == "2a52"]


def _stored_sequence(hass: HomeAssistant, hass_storage: dict[str, Any], entry_id: str) -> Any:
    return hass_storage[f"{DOMAIN}.device_{entry_id}"]["data"]["last_sequence"]


async def _count(hass: HomeAssistant, household_entry: MockConfigEntry) -> int:
    household: Household = household_entry.runtime_data.household
    return await hass.async_add_executor_job(household.store.count)


async def _last_value(hass: HomeAssistant, household_entry: MockConfigEntry) -> float:
    household: Household = household_entry.runtime_data.household
    (person_id,) = household.people
    rows = await hass.async_add_executor_job(household.store.history, person_id)
    return rows[-1].value


async def _add_and_wake(hass: HomeAssistant, meter: GlucoseMeter) -> MockConfigEntry:
    """Add the meter's device entry and let it connect once (inside ``patch_gatt``)."""
    entry = await add_device_entry(hass, meter)
    await wake(hass, meter)
    return entry


async def _wake_again(hass: HomeAssistant, meter: GlucoseMeter) -> None:
    """Forget the meter's writes so far, then let it connect again."""
    meter.writes.clear()
    await wake(hass, meter)


async def test_first_sync_fetches_all_records(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    hass_storage: dict[str, Any],
) -> None:
    meter = _meter(3)
    with patch_gatt(meter):
        entry = await _add_and_wake(hass, meter)

    # 04 01: report number of stored records, all; 01 01: report stored records, all.
    assert _racp(meter) == ["0401", "0101"]
    assert all(w.response for w in meter.writes if w.uuid == "2a52")
    # Subscribed to measurement, context and RACP before writing to RACP.
    assert meter.subscribed >= {"2a18", "2a34", "2a52"}
    assert await _count(hass, loaded_household) == 3
    # Records from the meter's memory (hours old) go to the log, not to the state.
    assert hass.states.get("sensor.grandma_blood_glucose").state == "unknown"
    assert await _last_value(hass, loaded_household) == 5.3
    assert _stored_sequence(hass, hass_storage, entry.entry_id) == 3
    # A meter has nothing more to say after the transfer: Smart Care hung up.
    assert not meter.connected


async def test_reconnect_resumes_after_last_sequence(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = _meter(3)
    with patch_gatt(meter):
        await _add_and_wake(hass, meter)
        meter.add_record(4, _base() + timedelta(hours=1), 7.1)
        meter.add_record(5, _base() + timedelta(hours=2), 7.2)
        await _wake_again(hass, meter)

    # >= 4: 03 operator, 01 filter type sequence number, 04 00 little-endian.
    assert _racp(meter) == ["0403010400", "0103010400"]
    assert await _count(hass, loaded_household) == 5
    assert await _last_value(hass, loaded_household) == 7.2


async def test_dropped_transfer_resumes_from_last_kept_record(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    hass_storage: dict[str, Any],
) -> None:
    meter = _meter(5)
    meter.hang_up_after = 2
    with patch_gatt(meter):
        entry = await _add_and_wake(hass, meter)
        assert await _count(hass, loaded_household) == 2
        assert _stored_sequence(hass, hass_storage, entry.entry_id) == 2

        meter.hang_up_after = None
        await _wake_again(hass, meter)

    assert _racp(meter) == ["0403010300", "0103010300"]
    assert await _count(hass, loaded_household) == 5
    assert _stored_sequence(hass, hass_storage, entry.entry_id) == 5


async def test_records_sent_twice_count_once(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    events: list[Event] = []
    hass.bus.async_listen(EVENT_MEASUREMENT, callback(lambda event: events.append(event)))
    batches: list[Event] = []
    hass.bus.async_listen(EVENT_MEASUREMENTS, callback(lambda event: batches.append(event)))
    meter = _meter(3)
    meter.ignore_filter = True  # re-sends its whole memory every time
    with patch_gatt(meter):
        await _add_and_wake(hass, meter)
        meter.add_record(4, _base() + timedelta(hours=1), 6.6)
        await wake(hass, meter)
        await wake(hass, meter)

    assert await _count(hass, loaded_household) == 4
    # Stored records are told of per transfer (one event for its rows), not one event each;
    # the third transfer stored nothing new and tells nothing.
    assert events == []
    assert [[m["value"] for m in e.data["measurements"]] for e in batches] == [
        [5.1, 5.2, 5.3],
        [6.6],
    ]
    household: Household = loaded_household.runtime_data.household
    grandma_person = household.person_by_alias("Grandma")
    assert grandma_person is not None
    assert {e.data["person_id"] for e in batches} == {grandma_person.person_id}


async def test_restart_resumes_from_persisted_sequence(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    hass_storage: dict[str, Any],
) -> None:
    meter = _meter(3)
    with patch_gatt(meter):
        entry = await _add_and_wake(hass, meter)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        assert _stored_sequence(hass, hass_storage, entry.entry_id) == 3

        meter.add_record(4, _base() + timedelta(hours=1), 8.0)
        meter.writes.clear()
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wake(hass, meter)

    # The first requests after the restart start after record 3 (any later session after 4).
    assert _racp(meter)[:2] == ["0403010400", "0103010400"]
    assert await _count(hass, loaded_household) == 4
    assert entry.runtime_data.last_sequence == 4


async def test_no_new_records(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = _meter(2)
    with patch_gatt(meter):
        await _add_and_wake(hass, meter)
        await _wake_again(hass, meter)
    # The count says 0: no transfer is requested.
    assert _racp(meter) == ["0403010300"]
    assert not meter.connected


async def test_meter_that_cannot_filter_sends_all(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = _meter(2)
    with patch_gatt(meter):
        await _add_and_wake(hass, meter)
        meter.refuse_filter = True
        meter.add_record(3, _base() + timedelta(hours=1), 6.0)
        await _wake_again(hass, meter)

    # Count refused (operator not supported), transfer refused, then "all records".
    assert _racp(meter) == ["0403010300", "0103010300", "0101"]
    assert await _count(hass, loaded_household) == 3


async def test_meter_without_record_count(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = _meter(2)
    meter.no_count = True
    with patch.object(ble, "RACP_IDLE_TIMEOUT", 0.05), patch_gatt(meter):
        await _add_and_wake(hass, meter)
    assert _racp(meter) == ["0401", "0101"]
    assert await _count(hass, loaded_household) == 2


async def test_slow_meter_is_waited_for_while_it_sends(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = _meter(4)
    meter.record_interval = 0.06  # the whole transfer takes longer than the quiet limit
    with patch.object(ble, "RACP_IDLE_TIMEOUT", 0.1), patch_gatt(meter):
        entry = await _add_and_wake(hass, meter)
    assert await _count(hass, loaded_household) == 4
    assert entry.runtime_data.last_sequence == 4


async def test_transfer_error_is_logged(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    meter = _meter(2)
    meter.final_response = 0x08  # procedure not completed
    with caplog.at_level(logging.WARNING), patch_gatt(meter):
        await _add_and_wake(hass, meter)
    assert f"{METER} did not send its stored records: procedure_not_completed" in caplog.text
    # The records that did arrive are kept.
    assert await _count(hass, loaded_household) == 2


async def test_records_not_kept_are_asked_for_again(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    meter = _meter(3)
    original = Household.async_ingest_batch
    calls = 0

    async def _disk_full_once(
        self: Household, source: Any, readings: list[tuple[Any, Any]]
    ) -> list[IngestResult]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database or disk is full")
        return await original(self, source, readings)

    with patch_gatt(meter), patch.object(Household, "async_ingest_batch", _disk_full_once):
        entry = await add_device_entry(hass, meter)
        await wake(hass, meter)
        # The transfer's records commit together: none was kept, the resume point stays.
        assert await _count(hass, loaded_household) == 0
        assert entry.runtime_data.last_sequence is None
        assert "Could not store 3 records from" in caplog.text
        first = _racp(meter)

        await _wake_again(hass, meter)
    # Asked for the same records again, and now they are kept.
    assert _racp(meter) == first
    assert await _count(hass, loaded_household) == 3
    assert entry.runtime_data.last_sequence == 3
    assert _stored_sequence(hass, hass_storage, entry.entry_id) == 3


async def test_without_household_nothing_is_marked_seen(
    hass: HomeAssistant, household_entry: MockConfigEntry
) -> None:
    meter = _meter(2)
    with patch_gatt(meter):
        entry = await _add_and_wake(hass, meter)
        assert entry.runtime_data.last_sequence is None

        household_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(household_entry.entry_id)
        await hass.async_block_till_done()
        await add_person_and_wake(hass, household_entry, meter)

    assert _racp(meter) == ["0401", "0101", "0401", "0101"]
    assert entry.runtime_data.last_sequence == 2


async def add_person_and_wake(
    hass: HomeAssistant, household_entry: MockConfigEntry, meter: GlucoseMeter
) -> None:
    await add_person(hass, household_entry, alias="Dad")
    await wake(hass, meter)
    assert await _last_value(hass, household_entry) == 5.2


VENDOR_SERVICE = "233bf000-5a34-1b6d-975c-000d5690abe4"
VENDOR_CHAR = "233bf001-5a34-1b6d-975c-000d5690abe4"


class ChattyMeter(GlucoseMeter):
    """Announces a stale RACP result on subscription, and streams a heart rate."""

    def on_subscribe(self, short: str) -> None:
        if short == "2a52":
            self.send("2a52", bytes.fromhex("06000101"))
        if short == "2a37":
            for bpm in (70, 71, 72):
                self.send("2a37", bytes((0x00, bpm)))


async def test_meter_with_more_than_glucose(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = ChattyMeter(
        METER,
        extra_gatt={
            VENDOR_SERVICE: {VENDOR_CHAR: ["write", "notify"]},
            "1805": {"2a2b": ["read", "notify"]},  # clock not writable
            "1809": {"2a1c": READ},  # a measurement it cannot indicate
            "180d": {"2a37": NOTIFY},
        },
    )
    for seq in (1, 2):
        meter.add_record(seq, _base() + timedelta(minutes=seq), 6.0)
    meter.double_response = True
    meter.read_errors = {
        "2a19": BleakError("Read failed"),
        "2a29": BleakError("Read failed"),
    }
    with patch.object(ble, "IDLE_TIMEOUT", 0.05), patch_gatt(meter):
        entry = await _add_and_wake(hass, meter)

    assert meter.subscribed == {"2a18", "2a34", "2a52", "2a37"}
    assert [w.uuid for w in meter.writes] == ["2a52", "2a52"]
    assert await _count(hass, loaded_household) == 3  # two glucose records, one heart rate
    assert hass.states.get("sensor.grandma_heart_rate").state == "70.0"
    assert entry.runtime_data.battery is None
    assert entry.runtime_data.last_sequence == 2
    # It kept streaming, so Smart Care stayed until it was quiet, then hung up.
    assert meter.disconnects == 1


class HangUpMeter(GlucoseMeter):
    """Drops the link when asked for its records."""

    def on_write(self, short: str, data: bytes) -> None:
        if short == "2a52" and self.client is not None:
            self.client.drop_now()
            raise BleakError("Disconnected")


async def test_meter_that_drops_the_link_when_asked(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = HangUpMeter(METER)
    meter.add_record(1, _base(), 6.0)
    with patch_gatt(meter):
        entry = await _add_and_wake(hass, meter)
    # Nothing kept, nothing marked seen; the link itself worked.
    assert await _count(hass, loaded_household) == 0
    assert entry.runtime_data.last_sequence is None
    assert entry.runtime_data.failures == 0


async def test_records_that_need_bonding_raise_a_repair(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = _meter(1)
    meter.write_errors = {"2a52": BleakError("ATT error: Insufficient Authentication")}
    with patch_gatt(meter):
        entry = await add_device_entry(hass, meter)
        for _ in range(3):
            await wake(hass, meter)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"device_connection_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "device_bonding_required"
    assert meter.connections == 3
