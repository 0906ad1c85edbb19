"""Bluetooth health devices at the GATT level, for tests against a real HA core.

``FakeBleakClient`` implements bleak's client interface (connect, disconnect, is_connected,
services, start_notify, stop_notify, read_gatt_char, write_gatt_char). It is what
bleak-retry-connector's ``establish_connection`` builds when a test patches
``bleak_retry_connector.BleakClientWithServiceCache``; it answers from a ``FakeHealthDevice``
that behaves like the real thing: a cuff that indicates its stored measurement once
subscribed and then hangs up, a glucose meter that answers RACP requests with its records
and a response code, a scale with two users.

``inject_advertisement`` feeds an advertisement through HA's bluetooth manager, as core's
``inject_bluetooth_service_info`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
import inspect
import struct
from typing import Any, ClassVar
from unittest.mock import patch
from uuid import UUID

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
import bleak_retry_connector
from homeassistant.components.bluetooth import (
    MONOTONIC_TIME,
    SOURCE_LOCAL,
    BluetoothServiceInfoBleak,
    async_get_advertisement_callback,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.device import ble

# bleak 0.22 (HA 2025.4) and bleak >= 1 (HA 2026) build these objects differently: 0.22's are
# abstract with (obj[, size]) constructors, >= 1's are concrete and take handle and uuid.
BLEAK_1 = "handle" in inspect.signature(BleakGATTService.__init__).parameters
_DEVICE_TAKES_RSSI = "rssi" in inspect.signature(BLEDevice.__init__).parameters


def ble_device(address: str, name: str | None, details: Any, rssi: int) -> BLEDevice:
    """A BLEDevice on either bleak (>= 1 keeps the RSSI in the advertisement only)."""
    if _DEVICE_TAKES_RSSI:
        return BLEDevice(address, name, details, rssi)
    return BLEDevice(address, name, details)


def sig(short: str) -> str:
    """Full 128-bit form of a Bluetooth SIG 16-bit UUID (vendor UUIDs pass unchanged)."""
    return f"0000{short}-0000-1000-8000-00805f9b34fb" if len(short) == 4 else short


# ------------------------------------------------------------------ advertisements


_last_time = 0.0


def _now() -> float:
    # The coarse monotonic clock can repeat within a test; advertisements must not.
    global _last_time
    _last_time = max(MONOTONIC_TIME(), _last_time + 0.001)
    return _last_time


def service_info(
    address: str, name: str, services: list[str], rssi: int = -60, connectable: bool = True
) -> BluetoothServiceInfoBleak:
    """An advertisement as HA's bluetooth manager hands it on."""
    uuids = [sig(s) for s in services]
    device = ble_device(address, name, {"source": SOURCE_LOCAL}, rssi)
    advertisement = AdvertisementData(
        local_name=name,
        manufacturer_data={},
        service_data={},
        service_uuids=uuids,
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )
    return BluetoothServiceInfoBleak(
        name=name,
        address=address,
        rssi=rssi,
        manufacturer_data={},
        service_data={},
        service_uuids=uuids,
        source=SOURCE_LOCAL,
        device=device,
        advertisement=advertisement,
        connectable=connectable,
        time=_now(),
        tx_power=None,
    )


def inject_advertisement(hass: HomeAssistant, info: BluetoothServiceInfoBleak) -> None:
    """Deliver an advertisement through HA's bluetooth manager."""
    async_get_advertisement_callback(hass)(info)


# ------------------------------------------------------------------ GATT table


class FakeCharacteristic(BleakGATTCharacteristic):
    """A characteristic of a fake device."""

    def __init__(self, service: FakeService, short: str, handle: int, props: list[str]) -> None:
        if BLEAK_1:
            super().__init__(None, handle, sig(short), props, lambda: 20, service)
        else:
            super().__init__(None, lambda: 20)
        self._service = service
        self.short = short
        self._handle = handle
        self._props = props

    @property
    def service_uuid(self) -> str:
        return self._service.uuid

    @property
    def service_handle(self) -> int:
        return self._service.handle

    @property
    def handle(self) -> int:
        return self._handle

    @property
    def uuid(self) -> str:
        return sig(self.short)

    @property
    def properties(self) -> list[str]:
        return self._props

    @property
    def descriptors(self) -> list[BleakGATTDescriptor]:
        return []

    def get_descriptor(self, specifier: int | str | UUID) -> BleakGATTDescriptor | None:
        return None

    def add_descriptor(self, descriptor: BleakGATTDescriptor) -> None:
        raise NotImplementedError


class FakeService(BleakGATTService):
    """A primary service of a fake device."""

    def __init__(self, short: str, handle: int) -> None:
        if BLEAK_1:
            super().__init__(None, handle, sig(short))
        else:
            super().__init__(None)
        self.short = short
        self._handle = handle
        self._chars: list[BleakGATTCharacteristic] = []

    @property
    def handle(self) -> int:
        return self._handle

    @property
    def uuid(self) -> str:
        return sig(self.short)

    @property
    def characteristics(self) -> list[BleakGATTCharacteristic]:
        return self._chars

    def add_characteristic(self, characteristic: BleakGATTCharacteristic) -> None:
        self._chars.append(characteristic)


NOTIFY = ["notify"]
INDICATE = ["indicate"]
READ = ["read"]
DEVICE_INFORMATION = {"2a29": READ, "2a24": READ, "2a26": READ}
BATTERY = {"2a19": ["read", "notify"]}
CURRENT_TIME = {"2a2b": ["read", "write", "notify"]}


# ------------------------------------------------------------------ devices


@dataclass
class Write:
    """One GATT write the device received."""

    uuid: str
    data: bytes
    response: bool


class FakeHealthDevice:
    """The device side of the link: GATT table, values, and what it does when spoken to."""

    def __init__(
        self,
        address: str,
        name: str,
        advertised: list[str],
        gatt: dict[str, dict[str, list[str]]],
        values: dict[str, bytes] | None = None,
    ) -> None:
        self.address = address
        self.name = name
        self.advertised = advertised
        self.values = dict(values or {})
        self.services = BleakGATTServiceCollection()
        handle = 1
        for service_short, chars in gatt.items():
            service = FakeService(service_short, handle)
            self.services.add_service(service)
            handle += 1
            for char_short, props in chars.items():
                self.services.add_characteristic(
                    FakeCharacteristic(service, char_short, handle, props)
                )
                handle += 2
        self.writes: list[Write] = []
        self.reads: list[str] = []
        self.subscribed: set[str] = set()
        # Exceptions raised by the next connection attempts, one per attempt.
        self.connect_errors: list[BaseException] = []
        self.subscribe_error: BaseException | None = None
        # Characteristics whose reads or writes fail (e.g. they need encryption).
        self.read_errors: dict[str, BaseException] = {}
        self.write_errors: dict[str, BaseException] = {}
        self.attempts = 0  # clients built for it: one per session
        self.connections = 0
        self.disconnects = 0
        self.client: FakeBleakClient | None = None

    def advertisement(self, rssi: int = -60) -> BluetoothServiceInfoBleak:
        """What the device advertises when it wakes."""
        return service_info(self.address, self.name, self.advertised, rssi)

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    def char(self, short: str) -> FakeCharacteristic:
        found = [
            c
            for c in self.services.characteristics.values()
            if isinstance(c, FakeCharacteristic) and c.short == short
        ]
        assert len(found) == 1, short
        return found[0]

    def send(self, short: str, data: bytes, delay: float = 0) -> None:
        """Notify or indicate a value (delivered after the current GATT operation)."""
        if self.client is not None:
            self.client.deliver(self.char(short), data, delay)

    def hang_up(self) -> None:
        """The device ends the connection, after everything already sent."""
        if self.client is not None:
            self.client.remote_disconnect()

    # Behaviour hooks ------------------------------------------------------------------

    def on_subscribe(self, short: str) -> None:
        """Notifications or indications were enabled on ``short``."""

    def on_write(self, short: str, data: bytes) -> None:
        """The client wrote ``data`` to ``short``."""


class BloodPressureCuff(FakeHealthDevice):
    """Indicates its unsent measurements once indications are on, then hangs up."""

    def __init__(self, address: str, name: str = "UA-651BLE", **kwargs: Any) -> None:
        super().__init__(
            address,
            name,
            ["1810"],
            {
                "1800": {"2a00": READ},
                "180a": DEVICE_INFORMATION,
                "180f": BATTERY,
                "1805": CURRENT_TIME,
                "1810": {"2a35": INDICATE, "2a36": NOTIFY, "2a49": READ},
            },
            {"2a29": b"A&D Medical\x00", "2a24": b"UA-651BLE", "2a26": b"1.4", "2a19": b"\x57"},
            **kwargs,
        )
        self.pending: list[bytes] = []

    def on_subscribe(self, short: str) -> None:
        if short != "2a35":
            return
        for value in self.pending:
            self.send("2a35", value)
        self.pending.clear()
        self.hang_up()


class WeightScale(FakeHealthDevice):
    """A scale shared by several users: indicates each stored weight, then hangs up."""

    def __init__(self, address: str, name: str = "BF720", **kwargs: Any) -> None:
        super().__init__(
            address,
            name,
            ["181d", "181b"],
            {
                "180f": BATTERY,
                "181d": {"2a9e": READ, "2a9d": INDICATE},
                "181b": {"2a9b": READ, "2a9c": INDICATE},
            },
            {"2a19": b"\x64"},
            **kwargs,
        )
        self.pending: list[bytes] = []

    def on_subscribe(self, short: str) -> None:
        # Subscriptions come in GATT order; the scale waits for the last one.
        if short != "2a9c":
            return
        for value in self.pending:
            self.send("2a9d", value)
        self.pending.clear()
        self.hang_up()


class Thermometer(FakeHealthDevice):
    """Stays connected after indicating (the link leaves when it is quiet)."""

    def __init__(self, address: str, name: str = "TEMP-01", **kwargs: Any) -> None:
        super().__init__(
            address, name, ["1809"], {"1809": {"2a1c": INDICATE, "2a1e": NOTIFY}}, **kwargs
        )
        self.pending: list[bytes] = []

    def on_subscribe(self, short: str) -> None:
        if short == "2a1c":
            for value in self.pending:
                self.send("2a1c", value)
            self.pending.clear()


class GlucoseMeter(FakeHealthDevice):
    """Keeps records and answers Record Access Control Point requests (GLS 1.0 §3.2)."""

    def __init__(
        self,
        address: str,
        name: str = "Contour7830H",
        extra_gatt: dict[str, dict[str, list[str]]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address,
            name,
            ["1808"],
            {
                "180a": DEVICE_INFORMATION,
                "180f": BATTERY,
                "1805": CURRENT_TIME,
                "1808": {
                    "2a18": NOTIFY,
                    "2a34": NOTIFY,
                    "2a51": READ,
                    "2a52": ["write", "indicate"],
                },
                **(extra_gatt or {}),
            },
            {"2a29": b"Ascensia", "2a24": b"Contour Next One", "2a19": b"\x32"},
            **kwargs,
        )
        self.records: list[tuple[int, bytes]] = []
        # Misbehaviours.
        self.ignore_filter = False  # sends every record whatever the request says
        self.refuse_filter = False  # answers "operator not supported" to >= requests
        self.no_count = False  # never answers "report number of stored records"
        self.hang_up_after: int | None = None  # drops the link after this many records
        self.final_response: int | None = None  # response code instead of success
        self.double_response = False  # indicates every response code twice
        self.record_interval = 0.0  # seconds between records (a slow meter)

    def add_record(self, sequence_number: int, when: datetime, mmol_per_l: float) -> bytes:
        value = glucose_measurement(sequence_number, when, mmol_per_l)
        self.records.append((sequence_number, value))
        return value

    def _respond(self, request_op: int, code: int) -> None:
        for _ in range(2 if self.double_response else 1):
            self.send("2a52", bytes((0x06, 0x00, request_op, code)))

    def on_write(self, short: str, data: bytes) -> None:
        if short != "2a52":
            return
        op, operator = data[0], data[1]
        if op not in (0x01, 0x04):
            self._respond(op, 0x02)  # op code not supported
            return
        if operator == 0x01 or self.ignore_filter:
            selected = list(self.records)
        elif operator == 0x03 and data[2] == 0x01 and not self.refuse_filter:
            first = int.from_bytes(data[3:5], "little")
            selected = [r for r in self.records if r[0] >= first]
        else:
            self._respond(op, 0x04)  # operator not supported
            return
        if op == 0x04:
            if not self.no_count:
                self.send("2a52", bytes((0x05, 0x00)) + len(selected).to_bytes(2, "little"))
            return
        if not selected:
            self._respond(op, 0x06)  # no records found
            return
        for sent, (_, value) in enumerate(selected, start=1):
            self.send("2a18", value, delay=self.record_interval * sent)
            if sent == self.hang_up_after:
                self.hang_up()
                return
        if self.record_interval:
            when = self.record_interval * (len(selected) + 1)
            asyncio.get_running_loop().call_later(
                when, self._respond, op, self.final_response or 0x01
            )
            return
        self._respond(op, self.final_response or 0x01)


# ------------------------------------------------------------------ the client


class FakeBleakClient:
    """bleak's client interface, answering from the registered ``FakeHealthDevice``."""

    devices: ClassVar[dict[str, FakeHealthDevice]] = {}

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        disconnected_callback: Callable[[FakeBleakClient], None] | None = None,
        **kwargs: Any,
    ) -> None:
        address = (
            address_or_ble_device.address
            if isinstance(address_or_ble_device, BLEDevice)
            else address_or_ble_device
        )
        self.address = address
        self._device = self.devices[address]
        self._device.attempts += 1
        self._disconnected_callback = disconnected_callback
        self._connected = False
        self._callbacks: dict[int, Callable[[BleakGATTCharacteristic, bytearray], Any]] = {}

    # bleak's interface ----------------------------------------------------------------

    async def connect(self, **kwargs: Any) -> bool:
        device = self._device
        if device.connect_errors:
            raise device.connect_errors.pop(0)
        self._connected = True
        device.client = self
        device.connections += 1
        device.subscribed.clear()
        return True

    async def disconnect(self) -> bool:
        if self._connected:
            self._connected = False
            self._device.disconnects += 1
        return True

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def services(self) -> BleakGATTServiceCollection:
        return self._device.services

    def _char(self, specifier: BleakGATTCharacteristic | int | str | UUID) -> FakeCharacteristic:
        if not self._connected:
            raise BleakError("Not connected")
        if isinstance(specifier, FakeCharacteristic):
            return specifier
        char = self._device.services.get_characteristic(str(specifier))
        if not isinstance(char, FakeCharacteristic):
            raise BleakError(f"Characteristic {specifier} was not found!")
        return char

    async def start_notify(
        self,
        char_specifier: BleakGATTCharacteristic | int | str | UUID,
        callback: Callable[[BleakGATTCharacteristic, bytearray], Any],
        **kwargs: Any,
    ) -> None:
        char = self._char(char_specifier)
        if not {"notify", "indicate"} & set(char.properties):
            raise BleakError("Characteristic does not support notify or indicate")
        if self._device.subscribe_error is not None:
            raise self._device.subscribe_error
        self._callbacks[char.handle] = callback
        self._device.subscribed.add(char.short)
        self._device.on_subscribe(char.short)

    async def stop_notify(self, char_specifier: BleakGATTCharacteristic | int | str | UUID) -> None:
        char = self._char(char_specifier)
        self._callbacks.pop(char.handle, None)
        self._device.subscribed.discard(char.short)

    async def read_gatt_char(
        self, char_specifier: BleakGATTCharacteristic | int | str | UUID, **kwargs: Any
    ) -> bytearray:
        char = self._char(char_specifier)
        if "read" not in char.properties:
            raise BleakError("Read not permitted")
        if (error := self._device.read_errors.get(char.short)) is not None:
            raise error
        self._device.reads.append(char.short)
        return bytearray(self._device.values.get(char.short, b""))

    async def write_gatt_char(
        self,
        char_specifier: BleakGATTCharacteristic | int | str | UUID,
        data: bytes | bytearray | memoryview,
        response: bool | None = None,
    ) -> None:
        char = self._char(char_specifier)
        if not {"write", "write-without-response"} & set(char.properties):
            raise BleakError("Write not permitted")
        if (error := self._device.write_errors.get(char.short)) is not None:
            raise error
        self._device.writes.append(Write(char.short, bytes(data), bool(response)))
        self._device.on_write(char.short, bytes(data))

    async def clear_cache(self) -> bool:
        return True

    # device side ----------------------------------------------------------------------

    def deliver(self, char: FakeCharacteristic, data: bytes, delay: float = 0) -> None:
        """Queue a notification as the radio would: after the current operation."""
        callback = self._callbacks.get(char.handle)
        if callback is None or not self._connected:
            return
        loop = asyncio.get_running_loop()
        if delay:
            loop.call_later(delay, callback, char, bytearray(data))
        else:
            loop.call_soon(callback, char, bytearray(data))

    def drop_now(self) -> None:
        """The link drops at once (as during a write that then fails)."""
        self._connected = False
        self._device.disconnects += 1
        if self._disconnected_callback is not None:
            self._disconnected_callback(self)

    def remote_disconnect(self) -> None:
        def _drop() -> None:
            if not self._connected:
                return
            self._connected = False
            self._device.disconnects += 1
            if self._disconnected_callback is not None:
                self._disconnected_callback(self)

        asyncio.get_running_loop().call_soon(_drop)


@contextmanager
def patch_gatt(*devices: FakeHealthDevice) -> Iterator[None]:
    """Route bleak-retry-connector's client to the fake devices (and skip its back-off)."""
    FakeBleakClient.devices = {device.address: device for device in devices}
    with (
        patch.object(bleak_retry_connector, "BleakClientWithServiceCache", FakeBleakClient),
        patch.multiple(
            bleak_retry_connector,
            BLEAK_BACKOFF_TIME=0,
            BLEAK_DBUS_BACKOFF_TIME=0,
            BLEAK_OUT_OF_SLOTS_BACKOFF_TIME=0,
            BLEAK_TRANSIENT_BACKOFF_TIME=0,
            BLEAK_TRANSIENT_MEDIUM_BACKOFF_TIME=0,
            BLEAK_TRANSIENT_LONG_BACKOFF_TIME=0,
        ),
    ):
        yield
    FakeBleakClient.devices = {}


# ------------------------------------------------------------------ measurement bytes


def sfloat(value: float, exponent: int = 0) -> bytes:
    """IEEE-11073 16-bit SFLOAT: 4-bit exponent, 12-bit mantissa (two's complement)."""
    mantissa = round(value / 10**exponent)
    assert -2048 <= mantissa <= 2047
    return (((exponent & 0x0F) << 12) | (mantissa & 0x0FFF)).to_bytes(2, "little")


def date_time(when: datetime) -> bytes:
    """BLE Date Time (year, month, day, hours, minutes, seconds)."""
    return struct.pack(
        "<HBBBBB", when.year, when.month, when.day, when.hour, when.minute, when.second
    )


def blood_pressure(
    systolic: int,
    diastolic: int,
    mean: int,
    *,
    when: datetime | None = None,
    pulse: int | None = None,
    user: int | None = None,
) -> bytes:
    """Blood Pressure Measurement (0x2A35) in mmHg."""
    flags = 0
    body = sfloat(systolic) + sfloat(diastolic) + sfloat(mean)
    if when is not None:
        flags |= 0x02
        body += date_time(when)
    if pulse is not None:
        flags |= 0x04
        body += sfloat(pulse)
    if user is not None:
        flags |= 0x08
        body += bytes((user,))
    return bytes((flags,)) + body


def glucose_measurement(sequence_number: int, when: datetime, mmol_per_l: float) -> bytes:
    """Glucose Measurement (0x2A18): mol/L, capillary whole blood, finger."""
    flags = 0x02 | 0x04  # concentration + type/location present, unit mol/L
    return (
        bytes((flags,))
        + sequence_number.to_bytes(2, "little")
        + date_time(when)
        + sfloat(mmol_per_l / 1000, -5)
        + bytes((0x11,))
    )


def weight(kg: float, *, user: int | None = None, when: datetime | None = None) -> bytes:
    """Weight Measurement (0x2A9D) in kg (resolution 0.005 kg)."""
    flags = 0
    body = round(kg / 0.005).to_bytes(2, "little")
    if when is not None:
        flags |= 0x02
        body += date_time(when)
    if user is not None:
        flags |= 0x04
        body += bytes((user,))
    return bytes((flags,)) + body


def temperature(celsius: float) -> bytes:
    """Temperature Measurement (0x2A1C) in °C, FLOAT with exponent -1."""
    mantissa = round(celsius * 10)
    return bytes((0x00,)) + (mantissa & 0xFFFFFF).to_bytes(3, "little") + bytes((0xFF,))


# ------------------------------------------------------------------ entries


@contextmanager
def fast_link() -> Iterator[None]:
    """No reconnect cool-down or retry back-off between the sessions of a test."""
    with (
        patch.object(ble, "RECONNECT_COOLDOWN", timedelta(0)),
        patch.object(ble, "RETRY_BASE", timedelta(0)),
    ):
        yield


async def add_device_entry(
    hass: HomeAssistant, device: FakeHealthDevice, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    """A device entry as the Bluetooth discovery flow creates it, set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=device.name,
        unique_id=device.address,
        data={
            "entry_type": "device",
            "address": device.address,
            "name": device.name,
            "services": list(device.advertised),
        },
        options=options or {},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def wake(hass: HomeAssistant, device: FakeHealthDevice, rssi: int = -60) -> None:
    """The device advertises; wait for the session it starts to end.

    A repeated advertisement with unchanged data reaches no callback (HA's bluetooth
    manager only dispatches changes): the link then notices it at its next wake check.
    """
    attempts = device.attempts
    inject_advertisement(hass, device.advertisement(rssi))
    await hass.async_block_till_done(wait_background_tasks=True)
    if device.attempts == attempts:
        async_fire_time_changed(hass, dt_util.utcnow() + ble.WAKE_CHECK_INTERVAL)
        await hass.async_block_till_done(wait_background_tasks=True)
