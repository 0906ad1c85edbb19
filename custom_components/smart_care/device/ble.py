"""Bluetooth LE link to one health device: connect when it wakes, subscribe, sync (HA glue).

Notes: docs/modules.md (device/ble.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
from datetime import datetime, timedelta
from functools import partial
import logging
from typing import TYPE_CHECKING, Final, Protocol

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError
import bleak_retry_connector
from bleak_retry_connector import (
    BleakAbortedError,
    BleakNotFoundError,
    BleakOutOfConnectionSlotsError,
    establish_connection,
)
from homeassistant.components import bluetooth
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from ..core.gatt import (
    BatteryReading,
    DecodeError,
    RacpReading,
    Reading,
    UnknownCharacteristicError,
    decode,
    racp,
    short_uuid,
)
from ..core.gatt.const import (
    BATTERY_LEVEL,
    BATTERY_SERVICE,
    BLOOD_PRESSURE_MEASUREMENT,
    BODY_COMPOSITION_MEASUREMENT,
    CURRENT_TIME,
    CURRENT_TIME_SERVICE,
    DEVICE_INFORMATION_SERVICE,
    GLUCOSE_MEASUREMENT,
    GLUCOSE_MEASUREMENT_CONTEXT,
    GLUCOSE_SERVICE,
    HARDWARE_REVISION,
    HEART_RATE_MEASUREMENT,
    MANUFACTURER_NAME,
    MODEL_NUMBER,
    PLX_CONTINUOUS_MEASUREMENT,
    PLX_SPOT_CHECK_MEASUREMENT,
    RACP,
    SOFTWARE_REVISION,
    TEMPERATURE_MEASUREMENT,
    WEIGHT_MEASUREMENT,
)

if TYPE_CHECKING:
    from bleak import BleakClient
    from homeassistant.config_entries import ConfigEntry

_LOGGER = logging.getLogger(__name__)

# Measurement characteristics Smart Care subscribes to when a device has them.
# Intermediate values (cuff pressure 0x2A36, temperature 0x2A1E) are not readings.
MEASUREMENT_CHARACTERISTICS: Final = (
    BLOOD_PRESSURE_MEASUREMENT,  # indicate
    TEMPERATURE_MEASUREMENT,  # indicate
    HEART_RATE_MEASUREMENT,  # notify
    GLUCOSE_MEASUREMENT,  # notify
    GLUCOSE_MEASUREMENT_CONTEXT,  # notify
    WEIGHT_MEASUREMENT,  # indicate
    BODY_COMPOSITION_MEASUREMENT,  # indicate
    PLX_SPOT_CHECK_MEASUREMENT,  # indicate
    PLX_CONTINUOUS_MEASUREMENT,  # notify
)
# Device Information (0x180A) strings -> device registry fields.
DEVICE_INFORMATION: Final = {
    MANUFACTURER_NAME: "manufacturer",
    MODEL_NUMBER: "model",
    SOFTWARE_REVISION: "sw_version",
    HARDWARE_REVISION: "hw_version",
}
# Streams (a chest strap, a continuous oximeter) would flood the record: one a minute.
CONTINUOUS: Final = frozenset({HEART_RATE_MEASUREMENT, PLX_CONTINUOUS_MEASUREMENT})
CONTINUOUS_INTERVAL: Final = timedelta(minutes=1)

CONNECT_ATTEMPTS: Final = 3
SETUP_TIMEOUT: Final = 30.0  # seconds for reads, the time write and subscriptions
# A transfer or a measurement is over when the device has been quiet this long.
IDLE_TIMEOUT: Final = 30.0
RACP_IDLE_TIMEOUT: Final = 20.0
# The bluetooth manager replays its last advertisement on registration: only a recent one
# means the device is awake now.
FRESH_ADVERTISEMENT: Final = 15.0
# HA's bluetooth manager calls back only when advertisement data changes; a device that
# wakes again with the same data is noticed by the time of its last advertisement.
WAKE_CHECK_INTERVAL: Final = timedelta(seconds=5)
RECONNECT_COOLDOWN: Final = timedelta(seconds=10)
RETRY_BASE: Final = timedelta(seconds=15)
RETRY_MAX: Final = timedelta(minutes=5)

# Why a connection failed; each has its own repair issue with instructions.
REASON_OUT_OF_RANGE: Final = "out_of_range"
REASON_BONDING: Final = "bonding_required"
REASON_PAIRING_MODE: Final = "pairing_mode"
_BONDING_HINTS: Final = (
    "auth",
    "encrypt",
    "bond",
    "paired",
    "not permitted",
    "notpermitted",
    "insufficient",
)
# RACP answers meaning "I cannot filter like that": ask for all records instead.
_FILTER_REFUSED: Final = frozenset(
    {"invalid_operator", "operator_not_supported", "invalid_operand", "operand_not_supported"}
)
_RACP_DONE: Final = frozenset({"success", "no_records_found"})


class LinkDelegate(Protocol):
    """What the link reports to, and asks of, the device runtime."""

    @property
    def last_sequence(self) -> int | None:
        """Highest glucose sequence number whose record is safely kept."""

    def async_advertisement(self, service_info: bluetooth.BluetoothServiceInfoBleak) -> None:
        """The device advertised."""

    def async_unavailable(self) -> None:
        """The device stopped advertising."""

    def async_connected(self) -> None:
        """A session connected and subscribed."""

    def async_connection_failed(self, reason: str) -> None:
        """A session could not connect or subscribe."""

    def async_battery(self, level: int) -> None:
        """Battery level read."""

    def async_device_information(self, info: dict[str, str]) -> None:
        """Device Information strings read (registry field -> value)."""

    def async_sequence_kept(self, sequence_number: int) -> None:
        """Every glucose record up to this sequence number is kept."""

    async def async_reading(self, reading: Reading, received: datetime) -> bool:
        """Hand a reading on; True when it is kept (or never will be: nothing to keep)."""

    async def async_session_ended(self) -> None:
        """A session is over (persist what it changed)."""


def _error_chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_reason(err: BaseException | None) -> str:
    """Which advice fits a failed connection (None: no connectable adapter sees it)."""
    if err is None:
        return REASON_OUT_OF_RANGE
    text = " ".join(f"{type(e).__name__} {e}" for e in _error_chain(err)).lower()
    if any(hint in text for hint in _BONDING_HINTS):
        return REASON_BONDING
    if any(
        isinstance(
            e,
            BleakNotFoundError | BleakOutOfConnectionSlotsError | BleakAbortedError | TimeoutError,
        )
        for e in _error_chain(err)
    ):
        return REASON_OUT_OF_RANGE
    return REASON_PAIRING_MODE


def _characteristics(client: BleakClient) -> dict[tuple[str, str], BleakGATTCharacteristic]:
    """(service, characteristic) short UUIDs -> characteristic, for SIG UUIDs only."""
    found: dict[tuple[str, str], BleakGATTCharacteristic] = {}
    for service in client.services:
        try:
            service_short = short_uuid(service.uuid)
        except UnknownCharacteristicError:
            continue
        for char in service.characteristics:
            with contextlib.suppress(UnknownCharacteristicError):
                found.setdefault((service_short, short_uuid(char.uuid)), char)
    return found


class HealthDeviceLink:
    """Sessions with one device, started by its advertisements."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, address: str, delegate: LinkDelegate
    ) -> None:
        """Follow the device at ``address``; report to ``delegate``."""
        self.hass = hass
        self.entry = entry
        self.address = address
        self.delegate = delegate
        self._unsubs: list[CALLBACK_TYPE] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._not_before = dt_util.utcnow()
        self._last_advertisement = 0.0
        self._failures = 0
        self._info_read = False
        # Per-session state.
        self._queue: asyncio.Queue[tuple[str, bytes, datetime] | None] = asyncio.Queue()
        self._disconnected = asyncio.Event()
        self._racp_reply: asyncio.Future[RacpReading] | None = None
        self._activity = 0
        self._last_continuous: dict[str, datetime] = {}
        self._failed_from: int | None = None

    @property
    def connected(self) -> bool:
        """Whether a session is running."""
        return self._task is not None and not self._task.done()

    @callback
    def async_start(self) -> None:
        """Listen for the device's advertisements."""
        self._unsubs.append(
            bluetooth.async_register_callback(
                self.hass,
                self._async_advertisement,
                bluetooth.BluetoothCallbackMatcher(address=self.address, connectable=True),
                bluetooth.BluetoothScanningMode.ACTIVE,
            )
        )
        self._unsubs.append(
            bluetooth.async_track_unavailable(
                self.hass, self._async_unavailable, self.address, connectable=True
            )
        )
        self._unsubs.append(
            async_track_time_interval(
                self.hass, self._async_check_awake, WAKE_CHECK_INTERVAL, cancel_on_shutdown=True
            )
        )

    async def async_stop(self) -> None:
        """Stop listening and end a running session (disconnecting)."""
        self._stopping = True
        while self._unsubs:
            self._unsubs.pop()()
        if (task := self._task) is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @callback
    def _async_check_awake(self, _now: datetime) -> None:
        info = bluetooth.async_last_service_info(self.hass, self.address, connectable=True)
        if info is not None and info.time > self._last_advertisement:
            self._async_advertisement(info, bluetooth.BluetoothChange.ADVERTISEMENT)

    @callback
    def _async_unavailable(self, service_info: bluetooth.BluetoothServiceInfoBleak) -> None:
        self.delegate.async_unavailable()

    @callback
    def _async_advertisement(
        self, service_info: bluetooth.BluetoothServiceInfoBleak, change: bluetooth.BluetoothChange
    ) -> None:
        self._last_advertisement = service_info.time
        self.delegate.async_advertisement(service_info)
        if self._stopping or self.connected:
            return
        if bluetooth.MONOTONIC_TIME() - service_info.time > FRESH_ADVERTISEMENT:
            return
        if dt_util.utcnow() < self._not_before:
            return
        self._task = self.entry.async_create_background_task(
            self.hass, self._async_session(), f"smart_care session {self.address}"
        )

    # Session ------------------------------------------------------------------------

    def _reset_session(self) -> None:
        self._queue = asyncio.Queue()
        self._disconnected = asyncio.Event()
        self._racp_reply = None
        self._activity = 0
        self._failed_from = None

    def _failed(self, err: BaseException | None) -> None:
        self._failures += 1
        reason = failure_reason(err)
        backoff = min(RETRY_BASE * 2 ** (self._failures - 1), RETRY_MAX)
        self._not_before = dt_util.utcnow() + backoff
        _LOGGER.debug(
            "%s: connection failed (%s, %d in a row): %s", self.address, reason, self._failures, err
        )
        self.delegate.async_connection_failed(reason)

    async def _async_session(self) -> None:
        self._reset_session()
        ble_device = bluetooth.async_ble_device_from_address(
            self.hass, self.address, connectable=True
        )
        if ble_device is None:
            self._failed(None)
            return
        try:
            client = await establish_connection(
                # Looked up now: HA's bluetooth swaps in its proxy-aware client at setup.
                bleak_retry_connector.BleakClientWithServiceCache,
                ble_device,
                self.entry.title,
                disconnected_callback=self._on_disconnect,
                max_attempts=CONNECT_ATTEMPTS,
            )
        except (BleakError, TimeoutError) as err:
            self._failed(err)
            return
        worker = self.entry.async_create_background_task(
            self.hass, self._async_worker(), f"smart_care readings {self.address}"
        )
        try:
            try:
                async with asyncio.timeout(SETUP_TIMEOUT):
                    chars = await self._async_prepare(client)
                await self._async_transfer(client, chars)
            except (BleakError, TimeoutError) as err:
                self._failed(err)
                return
            self._failures = 0
            self._not_before = dt_util.utcnow() + RECONNECT_COOLDOWN
            self.delegate.async_connected()
        finally:
            await self._async_disconnect(client)
            # What arrived before the disconnect is still handled, then the worker ends.
            self._queue.put_nowait(None)
            await asyncio.wait([worker])
            await self.delegate.async_session_ended()

    async def _async_transfer(
        self, client: BleakClient, chars: dict[tuple[str, str], BleakGATTCharacteristic]
    ) -> None:
        subscribed = {c for (_, c) in chars if c in MEASUREMENT_CHARACTERISTICS}
        try:
            if (racp_char := chars.get((GLUCOSE_SERVICE, RACP))) is not None and (
                GLUCOSE_MEASUREMENT in subscribed
            ):
                await self._async_sync_records(client, racp_char)
                if subscribed <= {GLUCOSE_MEASUREMENT, GLUCOSE_MEASUREMENT_CONTEXT}:
                    # A meter sends nothing more unprompted: let it sleep.
                    return
            await self._async_wait_quiet()
        except (BleakError, TimeoutError) as err:
            if failure_reason(err) == REASON_BONDING:
                # Records are often readable only once bonded: that is for the user to fix.
                raise
            # A device that hangs up or falls silent mid-transfer: what came is kept.
            _LOGGER.debug("%s: session ended early: %s", self.address, err)

    @callback
    def _on_disconnect(self, _client: BleakClient) -> None:
        self._disconnected.set()
        if self._racp_reply is not None and not self._racp_reply.done():
            self._racp_reply.set_exception(BleakError("disconnected during a record transfer"))

    async def _async_disconnect(self, client: BleakClient) -> None:
        with contextlib.suppress(BleakError, TimeoutError):
            await client.disconnect()

    async def _async_prepare(
        self, client: BleakClient
    ) -> dict[tuple[str, str], BleakGATTCharacteristic]:
        """Read information, set the clock, subscribe; return what was subscribed."""
        chars = _characteristics(client)
        if not self._info_read:
            info: dict[str, str] = {}
            for uuid, field in DEVICE_INFORMATION.items():
                char = chars.get((DEVICE_INFORMATION_SERVICE, uuid))
                if char is None or "read" not in char.properties:
                    continue
                with contextlib.suppress(BleakError):
                    raw = await client.read_gatt_char(char)
                    if text := bytes(raw).decode("utf-8", "replace").strip("\x00 "):
                        info[field] = text
            self._info_read = True
            if info:
                self.delegate.async_device_information(info)
        if (
            char := chars.get((BATTERY_SERVICE, BATTERY_LEVEL))
        ) is not None and "read" in char.properties:
            await self._async_read_battery(client, char)
        if (char := chars.get((CURRENT_TIME_SERVICE, CURRENT_TIME))) is not None:
            await self._async_set_clock(client, char)
        subscribed: dict[tuple[str, str], BleakGATTCharacteristic] = {}
        for key, char in chars.items():
            if key[1] not in (*MEASUREMENT_CHARACTERISTICS, RACP):
                continue
            if not {"notify", "indicate"} & set(char.properties):
                continue
            await client.start_notify(char, partial(self._on_notify, key[1]))
            subscribed[key] = char
        return subscribed

    async def _async_read_battery(self, client: BleakClient, char: BleakGATTCharacteristic) -> None:
        try:
            raw = await client.read_gatt_char(char)
        except BleakError as err:
            _LOGGER.debug("%s: battery level not readable: %s", self.address, err)
            return
        try:
            reading = decode(BATTERY_LEVEL, bytes(raw))
        except DecodeError as err:
            _LOGGER.warning("Ignored a malformed battery level from %s: %s", self.address, err)
            return
        assert isinstance(reading, BatteryReading)
        self.delegate.async_battery(reading.level)

    async def _async_set_clock(self, client: BleakClient, char: BleakGATTCharacteristic) -> None:
        props = set(char.properties)
        if not props & {"write", "write-without-response"}:
            return
        # BLE Date Time has no zone: devices keep the local wall time.
        value = racp.current_time(dt_util.now())
        try:
            await client.write_gatt_char(char, value, response="write" in props)
        except BleakError as err:
            # Many devices accept the time only once bonded; readings still flow.
            _LOGGER.debug("%s: clock not set: %s", self.address, err)

    # Notifications --------------------------------------------------------------------

    def _on_notify(self, uuid: str, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        # Bleak calls this in the event loop; keep order, do the work in the worker.
        self._activity += 1
        self._queue.put_nowait((uuid, bytes(data), dt_util.utcnow()))

    async def _async_worker(self) -> None:
        while (item := await self._queue.get()) is not None:
            await self._async_process(*item)

    async def _async_process(self, uuid: str, data: bytes, received: datetime) -> None:
        try:
            reading = decode(uuid, data)
        except DecodeError as err:
            _LOGGER.warning("Ignored malformed data from %s: %s", self.address, err)
            return
        if isinstance(reading, RacpReading):
            if self._racp_reply is not None and not self._racp_reply.done():
                self._racp_reply.set_result(reading)
            return
        if uuid in CONTINUOUS:
            last = self._last_continuous.get(uuid)
            if last is not None and received - last < CONTINUOUS_INTERVAL:
                return
            self._last_continuous[uuid] = received
        try:
            kept = await self.delegate.async_reading(reading, received)
        except Exception:
            # Not kept: the resume point stays before it, so the meter sends it again.
            _LOGGER.exception("Could not store a reading from %s", self.address)
            kept = False
        if uuid == GLUCOSE_MEASUREMENT and reading.sequence_number is not None:
            self._sequence_done(reading.sequence_number, kept)

    def _sequence_done(self, sequence_number: int, kept: bool) -> None:
        """Advance the resume point only over records that are kept."""
        if not kept:
            if self._failed_from is None or sequence_number < self._failed_from:
                self._failed_from = sequence_number
            return
        ceiling = sequence_number
        if self._failed_from is not None:
            ceiling = min(ceiling, self._failed_from - 1)
        last = self.delegate.last_sequence
        if ceiling >= 0 and (last is None or ceiling > last):
            self.delegate.async_sequence_kept(ceiling)

    # Waiting ----------------------------------------------------------------------------

    async def _async_wait_active(self, future: asyncio.Future[RacpReading]) -> RacpReading:
        """Wait for ``future`` while the device keeps sending."""
        while True:
            seen = self._activity
            try:
                async with asyncio.timeout(RACP_IDLE_TIMEOUT):
                    return await asyncio.shield(future)
            except TimeoutError:
                if self._activity == seen:
                    raise

    async def _async_wait_quiet(self) -> None:
        """Wait until the device disconnects or has been quiet for a while."""
        while not self._disconnected.is_set():
            seen = self._activity
            try:
                async with asyncio.timeout(IDLE_TIMEOUT):
                    await self._disconnected.wait()
            except TimeoutError:
                if self._activity == seen:
                    return

    # Stored records (RACP) ----------------------------------------------------------------

    async def _async_racp(
        self, client: BleakClient, char: BleakGATTCharacteristic, request: bytes
    ) -> RacpReading:
        future: asyncio.Future[RacpReading] = self.hass.loop.create_future()
        self._racp_reply = future
        try:
            await client.write_gatt_char(char, request, response=True)
        except BaseException:
            if future.done():
                future.exception()  # the disconnect that failed the write; already raised
            else:
                future.cancel()
            raise
        # Replies are indicated after the records, so every record before it is handled.
        return await self._async_wait_active(future)

    async def _async_sync_records(self, client: BleakClient, char: BleakGATTCharacteristic) -> None:
        """Fetch the records newer than the last one kept."""
        last = self.delegate.last_sequence
        try:
            reply = await self._async_racp(client, char, racp.report_number_of_records(last))
        except TimeoutError:
            # Counting is optional for a meter; asking for the records is not.
            _LOGGER.debug("%s: no answer to the record count", self.address)
        else:
            if reply.number_of_records == 0:
                _LOGGER.debug("%s: no new stored records after %s", self.address, last)
                return
            if reply.number_of_records is not None:
                _LOGGER.debug("%s: %d new stored records", self.address, reply.number_of_records)
        reply = await self._async_racp(client, char, racp.report_stored_records(last))
        if last is not None and reply.response_code in _FILTER_REFUSED:
            # The meter cannot filter by sequence number: fetch all; the record drops repeats.
            reply = await self._async_racp(client, char, racp.report_stored_records(None))
        if reply.response_code not in _RACP_DONE:
            _LOGGER.warning(
                "%s did not send its stored records: %s",
                self.address,
                reply.response_code or reply.op_code,
            )
