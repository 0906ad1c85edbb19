"""A Bluetooth health device entry: its link, state, repairs and device registry (HA glue)."""

from __future__ import annotations

from datetime import datetime
import logging
from typing import Any, Final

from homeassistant.components import bluetooth
from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import UNDEFINED
from homeassistant.util import dt as dt_util

from ..const import CONF_ADDRESS, CONF_OWNER, CONF_USER_MAP, DOMAIN, ISSUE_CONNECTION, IngestStatus
from ..core import ingest
from ..core.gatt import Reading
from ..household.issues import async_raise_issue
from ..household.runtime import DeviceSource, get_household
from .ble import REASON_BONDING, REASON_OUT_OF_RANGE, REASON_PAIRING_MODE, HealthDeviceLink

_LOGGER = logging.getLogger(__name__)

DEVICE_PLATFORMS: Final = [Platform.SENSOR]
STORAGE_VERSION: Final = 1
STORAGE_KEY: Final = DOMAIN + ".device_{}"
SAVE_DELAY: Final = 1.0  # seconds; a session end saves at once
# Devices sleep and move around: one failed attempt is normal, three in a row are not.
FAILURES_BEFORE_ISSUE: Final = 3
# A meter's stored records are committed together (one fsync, one statistics import), at
# the session's end or every this many records.
BATCH_MAX: Final = 1000
ISSUE_TRANSLATIONS: Final = {
    REASON_OUT_OF_RANGE: "device_out_of_range",
    REASON_BONDING: "device_bonding_required",
    REASON_PAIRING_MODE: "device_pairing_mode",
}

type DeviceConfigEntry = ConfigEntry[DeviceRuntime]


class DeviceRuntime:
    """State of one device entry; the link reports here (``ble.LinkDelegate``)."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Prepare; ``async_load`` restores what the last run learned."""
        self.hass = hass
        self.entry = entry
        self.address: str = entry.data[CONF_ADDRESS]
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, STORAGE_KEY.format(entry.entry_id), private=True
        )
        self._last_sequence: int | None = None
        # Stored records received but not yet committed, and the resume point that waits
        # for their commit (the meter sends again whatever is not kept).
        self._batch: list[tuple[Reading, datetime]] = []
        self._held_sequence: int | None = None
        self._failed_from: int | None = None
        self.battery: int | None = None
        self.last_reading: datetime | None = None
        self.rssi: int | None = None
        self.present = False
        self.failures = 0
        self._warned_no_household = False
        self._listeners: list[CALLBACK_TYPE] = []
        self.link = HealthDeviceLink(hass, entry, self.address, self)

    @property
    def name(self) -> str:
        """The entry title: what the user calls the device."""
        return self.entry.title

    @property
    def source(self) -> DeviceSource:
        """The device as attribution sees it; options are read at every reading."""
        options = self.entry.options
        user_map = {int(index): pid for index, pid in options.get(CONF_USER_MAP, {}).items()}
        return DeviceSource(
            entry_id=self.entry.entry_id,
            key=self.address,
            name=self.name,
            owner=options.get(CONF_OWNER),
            user_map=user_map,
        )

    async def async_load(self) -> None:
        """Restore the resume point, battery and last reading time."""
        data = await self._store.async_load() or {}
        self._last_sequence = data.get("last_sequence")
        self.battery = data.get("battery")
        if (last := data.get("last_reading")) is not None:
            self.last_reading = dt_util.parse_datetime(last)

    def _data(self) -> dict[str, Any]:
        return {
            "last_sequence": self._last_sequence,
            "battery": self.battery,
            "last_reading": None if self.last_reading is None else self.last_reading.isoformat(),
        }

    @callback
    def async_start(self) -> None:
        """Follow the device's advertisements."""
        self.link.async_start()

    async def async_stop(self) -> None:
        """Disconnect and save."""
        await self.link.async_stop()
        await self._store.async_save(self._data())
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_CONNECTION.format(self.entry.entry_id))

    def diagnostics(self) -> dict[str, Any]:
        """Link state for a diagnostics download; who uses the device is redacted."""
        return {
            "entry": {
                "data": dict(self.entry.data),
                "options": async_redact_data(dict(self.entry.options), {CONF_OWNER, CONF_USER_MAP}),
            },
            "state": {
                **self._data(),
                "rssi": self.rssi,
                "present": self.present,
                "connected": self.link.connected,
                "consecutive_failures": self.failures,
            },
        }

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` whenever the state changes; return the remover."""
        self._listeners.append(update)

        @callback
        def _remove() -> None:
            self._listeners.remove(update)

        return _remove

    @callback
    def _async_updated(self) -> None:
        for update in list(self._listeners):
            update()

    # LinkDelegate -------------------------------------------------------------------

    @property
    def last_sequence(self) -> int | None:
        """Highest glucose sequence number whose record is kept."""
        return self._last_sequence

    @callback
    def async_advertisement(self, service_info: bluetooth.BluetoothServiceInfoBleak) -> None:
        """Signal strength from the last advertisement."""
        if self.present and self.rssi == service_info.rssi:
            return
        self.present = True
        self.rssi = service_info.rssi
        self._async_updated()

    @callback
    def async_unavailable(self) -> None:
        """Not advertising any more (asleep or gone)."""
        self.present = False
        self.rssi = None
        self._async_updated()

    @callback
    def async_connected(self) -> None:
        """A session worked: the problem, if any, is over."""
        self.failures = 0
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_CONNECTION.format(self.entry.entry_id))

    @callback
    def async_connection_failed(self, reason: str) -> None:
        """Raise a repair with instructions after several failures in a row."""
        self.failures += 1
        if self.failures < FAILURES_BEFORE_ISSUE:
            return
        async_raise_issue(
            self.hass,
            ISSUE_CONNECTION.format(self.entry.entry_id),
            ISSUE_TRANSLATIONS[reason],
            {
                "device": self.name,
                "address": self.address,
                "attempts": str(self.failures),
            },
        )

    @callback
    def async_battery(self, level: int) -> None:
        """Battery level read during a session."""
        self.battery = level
        self._async_updated()

    @callback
    def async_device_information(self, info: dict[str, str]) -> None:
        """Manufacturer, model and versions from Device Information."""
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            connections={(dr.CONNECTION_BLUETOOTH, self.address)},
            manufacturer=info.get("manufacturer", UNDEFINED),
            model=info.get("model", UNDEFINED),
            sw_version=info.get("sw_version", UNDEFINED),
            hw_version=info.get("hw_version", UNDEFINED),
        )

    @callback
    def async_sequence_kept(self, sequence_number: int) -> None:
        """Move the resume point; saved shortly, and at once when the session ends."""
        if self._failed_from is not None:
            sequence_number = min(sequence_number, self._failed_from - 1)
        if self._batch:
            # Records of this batch are not committed yet: move once they are.
            self._held_sequence = sequence_number
            return
        if self._last_sequence is not None and sequence_number <= self._last_sequence:
            return
        self._last_sequence = sequence_number
        self._store.async_delay_save(self._data, SAVE_DELAY)

    async def async_session_ended(self) -> None:
        """Commit the stored records received, then persist the resume point."""
        await self._async_flush()
        self._failed_from = None
        await self._store.async_save(self._data())

    async def _async_flush(self) -> None:
        """Commit the batch of stored records; only then may the resume point pass them."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        held, self._held_sequence = self._held_sequence, None
        household = get_household(self.hass)
        try:
            if household is None:
                raise RuntimeError("no loaded household")
            results = await household.async_ingest_batch(self.source, batch)
        except Exception:
            _LOGGER.exception("Could not store %d records from %s", len(batch), self.address)
            # Not kept: the resume point stays before them, so the meter sends them again.
            first = min(r.sequence_number or 0 for r, _ in batch)
            if self._failed_from is None or first < self._failed_from:
                self._failed_from = first
            return
        kept = [
            _reading_time(reading, received)
            for (reading, received), result in zip(batch, results, strict=True)
            if result.status in (IngestStatus.STORED, IngestStatus.PENDING)
        ]
        if kept:
            self._note_time(max(kept))  # one state write for the transfer
        if held is not None:
            self.async_sequence_kept(held)

    async def async_reading(self, reading: Reading, received: datetime) -> bool:
        """Hand a reading to the household; False when nothing could keep it."""
        household = get_household(self.hass)
        if household is None:
            if not self._warned_no_household:
                self._warned_no_household = True
                _LOGGER.warning(
                    "Readings from %s are not stored: Smart Care has no loaded household",
                    self.address,
                )
            return False
        self._warned_no_household = False
        if (
            reading.kind == "glucose"
            and reading.sequence_number is not None
            and ingest.from_memory(_reading_time(reading, received), received)
        ):
            # A stored record (RACP): kept with the others of the transfer.
            self._batch.append((reading, received))
            if len(self._batch) >= BATCH_MAX:
                await self._async_flush()
            return True
        if reading.vitals():
            await self._async_flush()  # in order: earlier records first
        result = await household.async_ingest_reading(self.source, reading, received)
        if result.status in (IngestStatus.STORED, IngestStatus.PENDING):
            self._note_reading(reading, received)
        return True

    @callback
    def _note_reading(self, reading: Reading, received: datetime) -> None:
        self._note_time(_reading_time(reading, received))

    @callback
    def _note_time(self, when: datetime) -> None:
        if self.last_reading is None or when > self.last_reading:
            self.last_reading = when
            self._async_updated()


def _reading_time(reading: Reading, received: datetime) -> datetime:
    """When the reading was taken, as the household records it."""
    return ingest.reading_time(reading.timestamp, received, dt_util.get_default_time_zone())[0]


async def async_setup_device_entry(hass: HomeAssistant, entry: DeviceConfigEntry) -> bool:
    """Set up one Bluetooth health device."""
    runtime = DeviceRuntime(hass, entry)
    await runtime.async_load()
    entry.runtime_data = runtime
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        connections={(dr.CONNECTION_BLUETOOTH, runtime.address)},
        name=entry.title,
    )
    await hass.config_entries.async_forward_entry_setups(entry, DEVICE_PLATFORMS)
    # Entities exist before the first advertisement can update them.
    runtime.async_start()
    return True


async def async_unload_device_entry(hass: HomeAssistant, entry: DeviceConfigEntry) -> bool:
    """Disconnect and unload the device's entities."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, DEVICE_PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
    return unloaded


async def async_remove_device_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Forget the device's resume point (its readings stay in the people's records)."""
    store: Store[dict[str, Any]] = Store(
        hass, STORAGE_VERSION, STORAGE_KEY.format(entry.entry_id), private=True
    )
    await store.async_remove()
    ir.async_delete_issue(hass, DOMAIN, ISSUE_CONNECTION.format(entry.entry_id))
