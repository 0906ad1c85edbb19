"""Bluetooth health devices end to end: advertisement -> GATT session -> person's entities."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
import logging
from unittest.mock import patch

from bleak.exc import BleakError
from bluetooth_data_tools import monotonic_time_coarse
from homeassistant.components.bluetooth import FALLBACK_MAXIMUM_STALE_ADVERTISEMENT_SECONDS
from homeassistant.components.bluetooth.const import UNAVAILABLE_TRACK_SECONDS
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.device import ble
from tests.conftest import add_person
from tests.fakes.ble_fakes import (
    BloodPressureCuff,
    WeightScale,
    add_device_entry,
    blood_pressure,
    fast_link,
    inject_advertisement,
    patch_gatt,
    wake,
    weight,
)
from tests.support.device_lookup import find_device

CUFF = "A4:C1:38:00:00:01"
SCALE = "A4:C1:38:00:00:02"


@pytest.fixture(autouse=True)
def bluetooth_on(enable_bluetooth: None) -> Iterator[None]:
    """A Bluetooth adapter (mocked scanner) and no waiting between sessions."""
    with fast_link():
        yield


def _entity_id(hass: HomeAssistant, address: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{address}_{key}")
    assert entity_id is not None
    return entity_id


async def test_cuff_reading_reaches_the_person(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    cuff = BloodPressureCuff(CUFF)
    taken = (dt_util.now() - timedelta(minutes=3)).replace(tzinfo=None, microsecond=0)
    cuff.pending.append(blood_pressure(142, 91, 108, when=taken, pulse=77, user=1))
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        assert entry.state is ConfigEntryState.LOADED
        await wake(hass, cuff)

    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "142.0"
    assert hass.states.get("sensor.grandma_diastolic_blood_pressure").state == "91.0"
    assert hass.states.get("sensor.grandma_pulse").state == "77.0"
    # The device itself shows no vital values, only its own state.
    last = hass.states.get(_entity_id(hass, CUFF, "last_reading"))
    assert dt_util.parse_datetime(last.state) == dt_util.as_utc(
        taken.replace(tzinfo=dt_util.get_default_time_zone())
    )
    assert not [
        e
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if "pressure" in e.entity_id
    ]
    # Subscribed to the final measurement only, then the cuff hung up.
    assert cuff.subscribed == {"2a35"}
    assert cuff.connections == 1
    assert not cuff.connected


async def test_clock_battery_and_device_information(
    hass: HomeAssistant, loaded_household: MockConfigEntry, freezer: pytest.FixtureRequest
) -> None:
    cuff = BloodPressureCuff(CUFF)
    # 2025-03-04 05:06:07.5 UTC is 2025-03-03 21:06:07.5 in the test zone (US/Pacific, PST).
    freezer.move_to("2025-03-04 05:06:07.5+00:00")
    with patch_gatt(cuff):
        await add_device_entry(hass, cuff)
        await wake(hass, cuff)

    (write,) = [w for w in cuff.writes if w.uuid == "2a2b"]
    # e9 07 = 2025, 03 = March, 03, 0x15 = 21 h, 06 min, 07 s, 01 = Monday,
    # 0x80 = 128/256 s, 02 = adjust reason "external reference time update".
    assert write.data == bytes.fromhex("e9070303150607018002")
    assert write.response is True

    battery = hass.states.get(_entity_id(hass, CUFF, "battery"))
    assert battery.state == "87"
    assert battery.attributes["unit_of_measurement"] == "%"
    assert battery.attributes["device_class"] == "battery"
    entity = er.async_get(hass).async_get(_entity_id(hass, CUFF, "battery"))
    assert entity.entity_category is not None

    device = find_device(hass, connection=(dr.CONNECTION_BLUETOOTH, CUFF))
    assert device is not None
    assert device.manufacturer == "A&D Medical"  # NUL terminator stripped
    assert device.model == "UA-651BLE"
    assert device.sw_version == "1.4"
    assert device.name == "UA-651BLE"


async def test_signal_strength_follows_advertisements(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    cuff = BloodPressureCuff(CUFF)
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        registry = er.async_get(hass)
        entity_id = _entity_id(hass, CUFF, "signal_strength")
        # Diagnostic and off by default, as in core's Bluetooth integrations.
        assert registry.async_get(entity_id).disabled_by is er.RegistryEntryDisabler.INTEGRATION
        registry.async_update_entity(entity_id, disabled_by=None)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
        await wake(hass, cuff, rssi=-71)
        state = hass.states.get(entity_id)
        assert state.state == "-71"
        assert state.attributes["unit_of_measurement"] == "dBm"

        # Asleep: the bluetooth manager reports it unavailable; the last battery stays.
        later = monotonic_time_coarse() + FALLBACK_MAXIMUM_STALE_ADVERTISEMENT_SECONDS + 1
        with patch("habluetooth.manager.monotonic_time_coarse", return_value=later):
            async_fire_time_changed(
                hass, dt_util.utcnow() + timedelta(seconds=UNAVAILABLE_TRACK_SECONDS + 1)
            )
            await hass.async_block_till_done()
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
        assert hass.states.get(_entity_id(hass, CUFF, "battery")).state == "87"


async def test_shared_scale_maps_user_numbers(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await add_person(hass, loaded_household, alias="Grandpa")
    people = {p.alias: pid for pid, p in loaded_household.runtime_data.household.people.items()}
    scale = WeightScale(SCALE)
    now = dt_util.now().replace(tzinfo=None, microsecond=0)
    scale.pending += [
        weight(61.2, user=1, when=now - timedelta(minutes=5)),
        weight(78.4, user=2, when=now - timedelta(minutes=4)),
    ]
    with patch_gatt(scale):
        await add_device_entry(
            hass, scale, {"user_map": {"1": people["Grandma"], "2": people["Grandpa"]}}
        )
        await wake(hass, scale)

    assert hass.states.get("sensor.grandma_weight").state == "61.2"
    assert hass.states.get("sensor.grandpa_weight").state == "78.4"
    assert scale.subscribed == {"2a9d", "2a9c"}
    # No clock service on this scale: nothing written.
    assert scale.writes == []


async def test_owner_gets_readings_of_a_personal_device(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await add_person(hass, loaded_household, alias="Grandpa")
    people = {p.alias: pid for pid, p in loaded_household.runtime_data.household.people.items()}
    cuff = BloodPressureCuff(CUFF)
    cuff.pending.append(blood_pressure(128, 79, 95))
    with patch_gatt(cuff):
        await add_device_entry(hass, cuff, {"owner": people["Grandpa"]})
        await wake(hass, cuff)
    assert hass.states.get("sensor.grandpa_systolic_blood_pressure").state == "128.0"
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "unknown"


async def test_malformed_bytes_logged_and_skipped(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.pending += [
        bytes.fromhex("1e8e00"),  # flags promise a timestamp, pulse, user, status: 3 bytes
        blood_pressure(131, 84, 99),
    ]
    with caplog.at_level(logging.WARNING), patch_gatt(cuff):
        await add_device_entry(hass, cuff)
        await wake(hass, cuff)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Ignored malformed data from A4:C1:38:00:00:01" in warnings[0].getMessage()
    assert "blood_pressure (0x2A35)" in warnings[0].getMessage()
    assert "Grandma" not in caplog.text
    # The reading after the bad one still arrived.
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "131.0"


async def test_clock_refused_readings_still_flow(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.write_errors = {"2a2b": BleakError("Write not permitted")}
    cuff.pending.append(blood_pressure(119, 77, 91))
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        await wake(hass, cuff)
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "119.0"
    assert entry.runtime_data.failures == 0


async def test_bad_battery_value_is_ignored(
    hass: HomeAssistant, loaded_household: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.values["2a19"] = bytes((180,))
    with patch_gatt(cuff):
        await add_device_entry(hass, cuff)
        await wake(hass, cuff)
    assert "Ignored a malformed battery level" in caplog.text
    assert hass.states.get(_entity_id(hass, CUFF, "battery")).state == "unknown"
    assert cuff.subscribed == {"2a35"}


async def test_reading_without_household_is_not_lost_silently(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.pending += [blood_pressure(120, 80, 93), blood_pressure(121, 80, 93)]
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        await wake(hass, cuff)
    assert caplog.text.count("not stored: Smart Care has no loaded household") == 1
    assert entry.runtime_data.last_reading is None


async def test_unload_disconnects(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    scale = WeightScale(SCALE)
    scale.on_subscribe = lambda short: None  # stays connected, sends nothing
    with patch_gatt(scale):
        entry = await add_device_entry(hass, scale)
        inject_advertisement(hass, scale.advertisement())
        await hass.async_block_till_done()
        assert scale.connected
        assert entry.runtime_data.link.connected
        # Still advertising while connected: no second session.
        inject_advertisement(hass, scale.advertisement())
        async_fire_time_changed(hass, dt_util.utcnow() + ble.WAKE_CHECK_INTERVAL)
        await hass.async_block_till_done()
        assert scale.attempts == 1
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    assert not scale.connected
    assert scale.disconnects == 1
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_remove_entry_keeps_readings(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    hass_storage: dict[str, object],
) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.pending.append(blood_pressure(133, 85, 101))
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        await wake(hass, cuff)
        assert f"{DOMAIN}.device_{entry.entry_id}" in hass_storage
        assert await hass.config_entries.async_remove(entry.entry_id)
        await hass.async_block_till_done()
    assert f"{DOMAIN}.device_{entry.entry_id}" not in hass_storage
    count = await hass.async_add_executor_job(loaded_household.runtime_data.household.store.count)
    assert count == 3  # systolic, diastolic, mean arterial pressure: they stay
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"device_connection_{entry.entry_id}") is None


async def test_diagnostics_name_nobody(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
) -> None:
    person_id = loaded_household.subentries[grandma].data["person_id"]
    cuff = BloodPressureCuff(CUFF)
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff, {"owner": person_id})
        await wake(hass, cuff, rssi=-66)
    assert await async_setup_component(hass, "diagnostics", {})
    data = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert data["entry"]["data"]["address"] == CUFF
    assert data["entry"]["options"] == {"owner": "**REDACTED**"}
    assert data["state"] == {
        "last_sequence": None,
        "battery": 87,
        "last_reading": None,
        "rssi": -66,
        "present": True,
        "connected": False,
        "consecutive_failures": 0,
    }
    assert person_id not in str(data)
