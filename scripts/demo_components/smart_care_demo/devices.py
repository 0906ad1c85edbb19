"""Simulated Bluetooth LE health devices and the bleak backend that talks to them.

``SimulatedGattClient`` is a bleak *backend* client (``BaseBleakClient``), the same layer
as ESPHome's proxy client: HA's ``HaBleakClientWrapper`` picks it for any device the
simulated proxy advertises, so Smart Care's ``establish_connection`` → ``read_gatt_char`` /
``write_gatt_char`` / ``start_notify`` calls arrive here exactly as they would reach a
Bluetooth proxy. Each device answers from its GATT table with spec-correct bytes
(``payloads.py``) and behaves like its real counterpart:

* the blood pressure cuff and the scale keep unsent measurements and indicate them once
  the client enables indications, then hang up;
* the pulse oximeter indicates its spot-check result the same way;
* the glucose meter keeps numbered records and answers Record Access Control Point
  requests ("how many records after n", "send them"), then waits to be disconnected;
* every device accepts the Current Time write that sets its clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
import inspect
import logging
import time
from typing import Any, ClassVar
from uuid import UUID

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from . import payloads

_LOGGER = logging.getLogger(__name__)

# A device advertises (and accepts connections) this long after it wakes.
AWAKE_SECONDS = 45.0
# Indications are confirmed one by one; a device hangs up a moment after the last one.
HANG_UP_AFTER = 1.0
# Connecting over a proxy takes a little while.
CONNECT_DELAY = 0.3


# bleak 0.22 (HA 2025.4) and bleak >= 1 (HA 2026) build GATT objects differently: 0.22's
# are abstract with (obj[, size]) constructors, >= 1's are concrete and take handle and uuid.
BLEAK_1 = "handle" in inspect.signature(BleakGATTService.__init__).parameters


def sig(short: str) -> str:
    """Full 128-bit form of a Bluetooth SIG 16-bit UUID."""
    return f"0000{short}-0000-1000-8000-00805f9b34fb"


class SimCharacteristic(BleakGATTCharacteristic):
    """A characteristic in a simulated device's GATT table."""

    def __init__(self, service: SimService, short: str, handle: int, props: list[str]) -> None:
        """Belong to ``service``; ``props`` are bleak's property names."""
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
        """UUID of the service."""
        return self._service.uuid

    @property
    def service_handle(self) -> int:
        """Handle of the service."""
        return self._service.handle

    @property
    def handle(self) -> int:
        """Attribute handle."""
        return self._handle

    @property
    def uuid(self) -> str:
        """Full UUID."""
        return sig(self.short)

    @property
    def properties(self) -> list[str]:
        """Read / write / notify / indicate ..."""
        return self._props

    @property
    def descriptors(self) -> list[BleakGATTDescriptor]:
        """No descriptors are modelled (bleak writes the CCCD itself)."""
        return []

    def get_descriptor(self, specifier: int | str | UUID) -> BleakGATTDescriptor | None:
        """No descriptors."""
        return None

    def add_descriptor(self, descriptor: BleakGATTDescriptor) -> None:
        """Not modelled."""
        raise NotImplementedError


class SimService(BleakGATTService):
    """A primary service of a simulated device."""

    def __init__(self, short: str, handle: int) -> None:
        """A SIG service at ``handle``."""
        if BLEAK_1:
            super().__init__(None, handle, sig(short))
        else:
            super().__init__(None)
        self.short = short
        self._handle = handle
        self._chars: list[BleakGATTCharacteristic] = []

    @property
    def handle(self) -> int:
        """Attribute handle."""
        return self._handle

    @property
    def uuid(self) -> str:
        """Full UUID."""
        return sig(self.short)

    @property
    def characteristics(self) -> list[BleakGATTCharacteristic]:
        """Characteristics in handle order."""
        return self._chars

    def add_characteristic(self, characteristic: BleakGATTCharacteristic) -> None:
        """Add one."""
        self._chars.append(characteristic)


READ = ["read"]
INDICATE = ["indicate"]
NOTIFY = ["notify"]
DEVICE_INFORMATION = {"2a29": READ, "2a24": READ, "2a26": READ}
BATTERY = {"2a19": ["read", "notify"]}
CURRENT_TIME = {"2a2b": ["read", "write", "notify"]}


class SimulatedDevice:
    """One health device: GATT table, memory, clock, and what it does when spoken to."""

    kind: ClassVar[str] = ""

    def __init__(
        self,
        address: str,
        name: str,
        advertised: list[str],
        gatt: dict[str, dict[str, list[str]]],
        info: dict[str, bytes],
        now_local: Callable[[], datetime],
    ) -> None:
        """Build the GATT table; ``now_local`` gives HA's local wall time (naive)."""
        self.address = address
        self.name = name
        self.advertised = advertised
        self.values = dict(info)
        self._now_local = now_local
        self.clock_offset = timedelta(0)
        self.services = BleakGATTServiceCollection()
        handle = 1
        for service_short, chars in gatt.items():
            service = SimService(service_short, handle)
            self.services.add_service(service)
            handle += 1
            for char_short, props in chars.items():
                self.services.add_characteristic(
                    SimCharacteristic(service, char_short, handle, props)
                )
                handle += 2  # value handle + CCCD
        self.client: SimulatedGattClient | None = None
        self.battery = 96
        self.awake_until = 0.0
        self.sessions = 0
        # Called when the device wakes (the proxy starts advertising it).
        self.on_wake: Callable[[SimulatedDevice], None] | None = None

    # Clock and power ---------------------------------------------------------------

    def clock(self) -> datetime:
        """The device's own wall clock (set by the client through Current Time)."""
        return (self._now_local() + self.clock_offset).replace(microsecond=0)

    @property
    def awake(self) -> bool:
        """Advertising and connectable."""
        return time.monotonic() < self.awake_until

    def wake(self, seconds: float = AWAKE_SECONDS) -> None:
        """Start advertising (after a measurement, or in pairing mode)."""
        self.awake_until = time.monotonic() + seconds
        if self.on_wake is not None:
            self.on_wake(self)

    def sleep(self) -> None:
        """Stop advertising (the device has nothing more to say)."""
        self.awake_until = 0.0

    @property
    def has_news(self) -> bool:
        """Whether the device holds something the client has not fetched yet."""
        return False

    # GATT ----------------------------------------------------------------------------

    def char(self, short: str) -> SimCharacteristic:
        """The characteristic with this short UUID."""
        for char in self.services.characteristics.values():
            if isinstance(char, SimCharacteristic) and char.short == short:
                return char
        raise KeyError(short)

    def read(self, short: str) -> bytes:
        """Value of a readable characteristic."""
        if short == "2a19":
            return payloads.battery_level(self.battery)
        if short == "2a2b":
            now = self.clock()
            return payloads.date_time(now) + bytes((now.isoweekday(), 0, 0))
        return self.values.get(short, b"")

    def send(self, short: str, data: bytes) -> None:
        """Notify or indicate ``data`` on ``short`` (if the client subscribed)."""
        if self.client is not None:
            self.client.deliver(self.char(short), data)

    def hang_up(self, delay: float = HANG_UP_AFTER) -> None:
        """End the connection from the device side, after what was already sent."""
        if self.client is not None:
            self.client.remote_disconnect(delay)

    def on_connect(self) -> None:
        """A client connected."""
        self.sessions += 1
        self.battery = max(5, self.battery - 1)

    def on_disconnect(self) -> None:
        """The link is gone: sleep unless there is still something to send."""
        if not self.has_news:
            self.sleep()

    def on_subscribe(self, short: str) -> None:
        """Indications or notifications were enabled on ``short``."""

    def on_write(self, short: str, data: bytes) -> None:
        """The client wrote ``data`` to ``short``."""
        if short == "2a2b":
            written = payloads.parse_current_time(data)
            self.clock_offset = written - self._now_local().replace(microsecond=0)
            _LOGGER.debug("%s: clock set to %s", self.name, written)


class IndicatingDevice(SimulatedDevice):
    """A cuff, scale or oximeter: unsent measurements go out once indications are on."""

    measurement: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Start with an empty memory."""
        super().__init__(*args, **kwargs)
        self.pending: list[bytes] = []

    @property
    def has_news(self) -> bool:
        """Unsent measurements."""
        return bool(self.pending)

    def remember(self, value: bytes) -> None:
        """Store a measurement until a client collects it."""
        self.pending.append(value)

    def on_subscribe(self, short: str) -> None:
        """Send every unsent measurement, then hang up."""
        if short != self.measurement:
            return
        for value in self.pending:
            self.send(short, value)
        self.pending.clear()
        self.hang_up()


class BloodPressureCuff(IndicatingDevice):
    """Upper-arm cuff shared by two users (user 1 and user 2 buttons)."""

    kind = "blood_pressure"
    measurement = "2a35"

    def __init__(self, address: str, name: str, now_local: Callable[[], datetime]) -> None:
        """A cuff with Blood Pressure, Device Information, Battery and Current Time."""
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
            {
                "2a00": name.encode(),
                "2a29": b"Smart Care demo",
                "2a24": b"Simulated BP cuff",
                "2a26": b"1.0",
                "2a49": (0x0000).to_bytes(2, "little"),
            },
            now_local,
        )

    def measure(
        self, user: int, systolic: int, diastolic: int, pulse: int, when: datetime | None = None
    ) -> bytes:
        """Take a measurement now (or at ``when``, for memory); it waits until collected."""
        value = payloads.blood_pressure(
            systolic, diastolic, when=when or self.clock(), pulse=pulse, user=user
        )
        self.remember(value)
        return value


class PulseOximeter(IndicatingDevice):
    """Fingertip pulse oximeter with spot-check measurements."""

    kind = "pulse_oximeter"
    measurement = "2a5e"

    def __init__(self, address: str, name: str, now_local: Callable[[], datetime]) -> None:
        """An oximeter with PLX, Device Information, Battery and Current Time."""
        super().__init__(
            address,
            name,
            ["1822"],
            {
                "180a": DEVICE_INFORMATION,
                "180f": BATTERY,
                "1805": CURRENT_TIME,
                "1822": {"2a5e": INDICATE, "2a60": READ},
            },
            {
                "2a29": b"Smart Care demo",
                "2a24": b"Simulated oximeter",
                "2a26": b"1.0",
                "2a60": (0x0000).to_bytes(2, "little"),
            },
            now_local,
        )

    def measure(self, spo2: int, pulse: int) -> bytes:
        """Take a spot-check measurement now."""
        value = payloads.plx_spot_check(spo2, pulse, when=self.clock())
        self.remember(value)
        return value


class WeightScale(IndicatingDevice):
    """Bathroom scale that recognises its users and knows their heights."""

    kind = "weight_scale"
    measurement = "2a9d"

    def __init__(
        self,
        address: str,
        name: str,
        now_local: Callable[[], datetime],
        heights: dict[int, float],
    ) -> None:
        """A scale with Weight Scale, Device Information, Battery and Current Time."""
        super().__init__(
            address,
            name,
            ["181d"],
            {
                "180a": DEVICE_INFORMATION,
                "180f": BATTERY,
                "1805": CURRENT_TIME,
                "181d": {"2a9e": READ, "2a9d": INDICATE},
            },
            {
                "2a29": b"Smart Care demo",
                "2a24": b"Simulated scale",
                "2a26": b"1.0",
                # Weight Scale Feature: time stamp, multiple users, BMI; 0.005 kg, 0.001 m.
                "2a9e": (0x07 | (7 << 3) | (3 << 7)).to_bytes(4, "little"),
            },
            now_local,
        )
        self.heights = heights

    def measure(self, user: int, kg: float, when: datetime | None = None) -> bytes:
        """Weigh a user now (or at ``when``, for memory built before the demo)."""
        value = payloads.weight(
            kg, when=when or self.clock(), user=user, height_m=self.heights.get(user)
        )
        self.remember(value)
        return value


class GlucoseMeter(SimulatedDevice):
    """Glucose meter: numbered records, read out through the Record Access Control Point."""

    kind = "glucose"

    def __init__(self, address: str, name: str, now_local: Callable[[], datetime]) -> None:
        """A meter with Glucose (RACP), Device Information, Battery and Current Time."""
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
            },
            {
                "2a29": b"Smart Care demo",
                "2a24": b"Simulated glucose meter",
                "2a26": b"1.0",
                "2a51": (0x0000).to_bytes(2, "little"),
            },
            now_local,
        )
        self.records: list[tuple[int, bytes]] = []
        self.next_sequence = 1
        self.fetched_up_to = 0  # highest sequence number a client asked for and got

    @property
    def has_news(self) -> bool:
        """Records newer than the last transfer."""
        return any(seq > self.fetched_up_to for seq, _ in self.records)

    def measure(self, mmol_per_l: float, when: datetime | None = None) -> bytes:
        """Store a new numbered record (now, or at ``when`` for memory)."""
        sequence = self.next_sequence
        self.next_sequence += 1
        value = payloads.glucose(sequence, when=when or self.clock(), mmol_per_l=mmol_per_l)
        self.records.append((sequence, value))
        return value

    def on_write(self, short: str, data: bytes) -> None:
        """Current Time, or a Record Access Control Point request."""
        if short != "2a52":
            super().on_write(short, data)
            return
        try:
            request = payloads.parse_racp_request(data)
        except ValueError:
            self.send("2a52", payloads.racp_response(data[0] if data else 0, 0x03))
            return
        if request.op_code not in (
            payloads.RACP_REPORT_STORED_RECORDS,
            payloads.RACP_REPORT_NUMBER_OF_RECORDS,
        ):
            self.send(
                "2a52",
                payloads.racp_response(request.op_code, payloads.RACP_OP_CODE_NOT_SUPPORTED),
            )
            return
        if request.operator == payloads.RACP_OPERATOR_ALL:
            selected = list(self.records)
        elif request.operator == payloads.RACP_OPERATOR_GREATER_OR_EQUAL:
            first = request.first_sequence or 0
            selected = [r for r in self.records if r[0] >= first]
        else:
            self.send(
                "2a52",
                payloads.racp_response(request.op_code, payloads.RACP_OPERATOR_NOT_SUPPORTED),
            )
            return
        if request.op_code == payloads.RACP_REPORT_NUMBER_OF_RECORDS:
            self.send("2a52", payloads.racp_number_of_records(len(selected)))
            return
        if not selected:
            self.send(
                "2a52",
                payloads.racp_response(request.op_code, payloads.RACP_NO_RECORDS_FOUND),
            )
            self.fetched_up_to = max([self.fetched_up_to, *(s for s, _ in self.records)])
            return
        for _, value in selected:
            self.send("2a18", value)
        self.send("2a52", payloads.racp_response(request.op_code, payloads.RACP_SUCCESS))
        self.fetched_up_to = max(self.fetched_up_to, *(s for s, _ in selected))


class SimulatedGattClient(BaseBleakClient):
    """bleak backend for the simulated proxy: the radio between Smart Care and a device."""

    devices: ClassVar[dict[str, SimulatedDevice]] = {}

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        """Created by HA's client wrapper for every connection attempt."""
        super().__init__(address_or_ble_device, **kwargs)
        self._connected = False
        self._callbacks: dict[int, NotifyCallback] = {}
        self._device: SimulatedDevice | None = None

    @property
    def name(self) -> str:
        """The device's name (bleak >= 1 asks the backend)."""
        device = self.devices.get(self.address)
        return device.name if device is not None else self.address

    @property
    def mtu_size(self) -> int:
        """ATT MTU negotiated with the device."""
        return 23

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connected

    async def connect(self, pair: bool = False, **kwargs: Any) -> bool:
        """Connect, if the device is awake (a sleeping device does not answer).

        bleak >= 1 passes ``pair`` positionally; these devices need no bonding.
        """
        device = self.devices.get(self.address)
        if device is None:
            raise BleakDeviceNotFoundError(self.address, f"{self.address} is not known")
        await asyncio.sleep(CONNECT_DELAY)
        if not device.awake:
            raise BleakError(f"{device.name} ({self.address}) did not answer: it is asleep")
        if device.client is not None and device.client.is_connected:
            raise BleakError(f"{device.name} is already connected")
        self._device = device
        self._connected = True
        self.services = device.services
        device.client = self
        device.on_connect()
        return True

    async def disconnect(self) -> bool:
        """Disconnect from our side."""
        self._drop()
        return True

    async def pair(self, *args: Any, **kwargs: Any) -> bool:
        """These devices work without bonding."""
        return True

    async def unpair(self) -> bool:
        """Nothing to forget."""
        return True

    async def get_services(self, **kwargs: Any) -> BleakGATTServiceCollection:
        """The device's GATT table."""
        return self._require().services

    def _require(self) -> SimulatedDevice:
        if not self._connected or self._device is None:
            raise BleakError("Not connected")
        return self._device

    def _char(self, specifier: BleakGATTCharacteristic | int | str | UUID) -> SimCharacteristic:
        device = self._require()
        if isinstance(specifier, SimCharacteristic):
            return specifier
        char = device.services.get_characteristic(
            specifier if isinstance(specifier, int) else str(specifier)
        )
        if not isinstance(char, SimCharacteristic):
            raise BleakError(f"Characteristic {specifier} was not found")
        return char

    async def read_gatt_char(
        self, char_specifier: BleakGATTCharacteristic | int | str | UUID, **kwargs: Any
    ) -> bytearray:
        """Read a value."""
        char = self._char(char_specifier)
        if "read" not in char.properties:
            raise BleakError("Read not permitted")
        return bytearray(self._require().read(char.short))

    async def read_gatt_descriptor(self, handle: int, **kwargs: Any) -> bytearray:
        """Descriptors are not modelled."""
        raise BleakError("Descriptor reads are not supported by the simulation")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Write a value (Current Time, RACP)."""
        char = self._char(characteristic)
        if not {"write", "write-without-response"} & set(char.properties):
            raise BleakError("Write not permitted")
        self._require().on_write(char.short, bytes(data))

    async def write_gatt_descriptor(self, handle: int, data: Any) -> None:
        """Descriptors are not modelled."""
        raise BleakError("Descriptor writes are not supported by the simulation")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications or indications (the CCCD write)."""
        char = self._char(characteristic)
        if not {"notify", "indicate"} & set(char.properties):
            raise BleakError("Characteristic does not support notify or indicate")
        self._callbacks[char.handle] = callback
        self._require().on_subscribe(char.short)

    async def stop_notify(self, char_specifier: BleakGATTCharacteristic | int | str | UUID) -> None:
        """Disable notifications or indications."""
        char = self._char(char_specifier)
        self._callbacks.pop(char.handle, None)

    # Device side ----------------------------------------------------------------------

    def deliver(self, char: SimCharacteristic, data: bytes) -> None:
        """Queue a notification as the radio would: after the current GATT operation."""
        callback = self._callbacks.get(char.handle)
        if callback is None or not self._connected:
            return
        asyncio.get_running_loop().call_soon(self._notify, callback, bytearray(data))

    def _notify(self, callback: NotifyCallback, data: bytearray) -> None:
        if self._connected:
            callback(data)

    def remote_disconnect(self, delay: float) -> None:
        """The device ends the link after ``delay`` seconds."""
        asyncio.get_running_loop().call_later(delay, self._drop)

    def _drop(self) -> None:
        if not self._connected:
            return
        self._connected = False
        self._callbacks.clear()
        device = self._device
        if device is not None:
            if device.client is self:
                device.client = None
            device.on_disconnect()
        if self._disconnected_callback is not None:
            self._disconnected_callback()
