"""Connection handling: failures become a repair with instructions, success clears it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from bleak.exc import BleakDBusError, BleakError
from bleak_retry_connector import BleakConnectionError, BleakNotFoundError
from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.device import ble
from custom_components.smart_care.device.ble import (
    REASON_BONDING,
    REASON_OUT_OF_RANGE,
    REASON_PAIRING_MODE,
    failure_reason,
)
from tests.fakes.ble_fakes import (
    INDICATE,
    NOTIFY,
    BloodPressureCuff,
    FakeHealthDevice,
    Thermometer,
    add_device_entry,
    blood_pressure,
    fast_link,
    inject_advertisement,
    patch_gatt,
    temperature,
    wake,
)

CUFF = "A4:C1:38:00:00:01"


@pytest.fixture
def fast() -> Iterator[None]:
    """No waiting between sessions."""
    with fast_link():
        yield


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"device_connection_{entry.entry_id}")


@pytest.mark.usefixtures("enable_bluetooth", "fast")
async def test_refused_connections_raise_a_repair_until_one_works(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    cuff = BloodPressureCuff(CUFF)
    # Each session makes three attempts; three sessions fail.
    cuff.connect_errors = [BleakError("Device refused the connection")] * 9
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        await wake(hass, cuff)
        await wake(hass, cuff)
        assert _issue(hass, entry) is None  # two failures can be bad luck
        await wake(hass, cuff)
        issue = _issue(hass, entry)
        assert issue is not None
        assert issue.translation_key == "device_pairing_mode"
        assert issue.severity is ir.IssueSeverity.WARNING
        assert not issue.is_fixable
        assert issue.translation_placeholders == {
            "device": "UA-651BLE",
            "address": CUFF,
            "attempts": "3",
        }
        assert cuff.connect_errors == []
        assert cuff.connections == 0

        cuff.pending.append(blood_pressure(126, 81, 96))
        await wake(hass, cuff)
    assert _issue(hass, entry) is None
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "126.0"


@pytest.mark.usefixtures("enable_bluetooth", "fast")
async def test_device_that_needs_bonding(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.subscribe_error = BleakDBusError(
        "org.bluez.Error.NotPermitted", ["Insufficient Authentication"]
    )
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        for _ in range(3):
            await wake(hass, cuff)
        issue = _issue(hass, entry)
        assert issue is not None
        assert issue.translation_key == "device_bonding_required"
        # Connected each time, and let go of the link after the refusal.
        assert cuff.connections == 3
        assert not cuff.connected

        cuff.subscribe_error = None
        await wake(hass, cuff)
    assert _issue(hass, entry) is None


@pytest.mark.usefixtures("enable_bluetooth", "fast")
async def test_device_out_of_range(hass: HomeAssistant, loaded_household: MockConfigEntry) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.connect_errors = [TimeoutError()] * 9
    with patch_gatt(cuff):
        entry = await add_device_entry(hass, cuff)
        for _ in range(3):
            await wake(hass, cuff)
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "device_out_of_range"
    # Unloading takes the notice away with the device.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert _issue(hass, entry) is None


@pytest.mark.usefixtures("enable_bluetooth", "fast")
async def test_no_connectable_adapter_sees_it(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    cuff = BloodPressureCuff(CUFF)
    with (
        patch_gatt(cuff),
        patch.object(bluetooth, "async_ble_device_from_address", return_value=None),
    ):
        entry = await add_device_entry(hass, cuff)
        for _ in range(3):
            await wake(hass, cuff)
    assert cuff.connections == 0
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "device_out_of_range"


@pytest.mark.usefixtures("enable_bluetooth")
async def test_back_off_after_failure_and_cool_down_after_success(
    hass: HomeAssistant, loaded_household: MockConfigEntry, freezer: Any
) -> None:
    cuff = BloodPressureCuff(CUFF)
    cuff.connect_errors = [BleakError("Device refused the connection")] * 3
    with patch_gatt(cuff):
        await add_device_entry(hass, cuff)
        await wake(hass, cuff)
        assert cuff.connect_errors == []
        # Awake again at once: not retried before the back-off.
        await wake(hass, cuff)
        assert cuff.connections == 0
        freezer.tick(ble.RETRY_BASE + timedelta(seconds=1))
        await wake(hass, cuff)
        assert cuff.connections == 1
        # Still advertising right after a good session: left alone.
        await wake(hass, cuff)
        assert cuff.connections == 1
        freezer.tick(ble.RECONNECT_COOLDOWN + timedelta(seconds=1))
        await wake(hass, cuff)
        assert cuff.connections == 2


@pytest.mark.usefixtures("enable_bluetooth", "fast")
async def test_old_advertisement_does_not_connect(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    cuff = BloodPressureCuff(CUFF)
    with patch_gatt(cuff):
        await add_device_entry(hass, cuff)
        stale = cuff.advertisement()
        stale.time -= ble.FRESH_ADVERTISEMENT + 1
        inject_advertisement(hass, stale)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert cuff.connections == 0


@pytest.mark.usefixtures("enable_bluetooth", "fast")
async def test_thermometer_left_when_quiet(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    thermometer = Thermometer("00:1A:7D:00:00:03")
    thermometer.pending.append(temperature(38.2))
    with patch.object(ble, "IDLE_TIMEOUT", 0.05), patch_gatt(thermometer):
        await add_device_entry(hass, thermometer)
        await wake(hass, thermometer)
    assert hass.states.get("sensor.grandma_body_temperature").state == "38.2"
    # It stayed connected; Smart Care hung up once it was quiet.
    assert thermometer.disconnects == 1
    assert not thermometer.connected
    # Intermediate temperatures are not readings: not subscribed.
    assert thermometer.subscribed == {"2a1c"}


@pytest.mark.usefixtures("enable_bluetooth", "fast")
async def test_heart_rate_stream_is_thinned(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    class Strap(FakeHealthDevice):
        def on_subscribe(self, short: str) -> None:
            # One beat now, more while Smart Care waits for the stream to end.
            for i, bpm in enumerate((72, 74, 75)):
                self.send("2a37", bytes((0x00, bpm)), delay=0.15 * i)

    strap = Strap(
        "F0:0D:00:00:00:04", "HRM-Pro", ["180d"], {"180d": {"2a37": NOTIFY, "2a38": INDICATE}}
    )
    with patch.object(ble, "IDLE_TIMEOUT", 0.2), patch_gatt(strap):
        await add_device_entry(hass, strap)
        await wake(hass, strap)
    assert strap.disconnects == 1
    count = await hass.async_add_executor_job(loaded_household.runtime_data.household.store.count)
    assert count == 1  # one a minute, not one a second
    assert hass.states.get("sensor.grandma_heart_rate").state == "72.0"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (None, REASON_OUT_OF_RANGE),
        (BleakNotFoundError("UA-651BLE - A4:C1: Failed to connect"), REASON_OUT_OF_RANGE),
        (TimeoutError(), REASON_OUT_OF_RANGE),
        (BleakError("org.bluez.Error.AuthenticationFailed"), REASON_BONDING),
        (BleakError("Insufficient encryption"), REASON_BONDING),
        (BleakError("Disconnected"), REASON_PAIRING_MODE),
    ],
)
def test_failure_reason(error: BaseException | None, reason: str) -> None:
    assert failure_reason(error) == reason


def test_failure_reason_follows_the_cause() -> None:
    outer = BleakConnectionError("Failed to connect after 3 attempt(s)")
    outer.__cause__ = BleakError("[org.bluez.Error.Failed] Not paired")
    assert failure_reason(outer) == REASON_BONDING
    # A cause that points back at itself does not loop.
    loop = BleakError("le-connection-abort-by-local")
    loop.__context__ = loop
    assert failure_reason(loop) == REASON_PAIRING_MODE
