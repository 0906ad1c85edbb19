"""Runtime state of a household: its record store, its people, and attribution (HA glue)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
from typing import Any, Protocol
import uuid

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigSubentry
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_ALIAS,
    CONF_EMERGENCY_CONTACTS,
    CONF_ENTRY_TYPE,
    CONF_EXPECTED,
    CONF_MEDICAL_CARD,
    CONF_OVERDUE_HOURS,
    CONF_PERSON_ENTITY,
    CONF_PERSON_ID,
    CONF_SOURCES,
    DEFAULT_OVERDUE_HOURS,
    DOMAIN,
    ENTRY_TYPE_HOUSEHOLD,
    EVENT_MEASUREMENT,
    EVENT_MEASUREMENTS,
    ISSUE_PENDING,
    RECORD_DB_NAME,
    SIGNAL_PERSON_UPDATED,
    SIGNAL_VITAL_UPDATED,
    SUBENTRY_PERSON,
    IngestStatus,
)
from ..core import ingest
from ..core.clinical.plausibility import ImplausibleValueError, check_set
from ..core.clinical.vitals import Vital, VitalSample
from ..core.gatt import Reading
from ..core.store.record_store import RecordStore, StoredMeasurement
from .alert_text import describe_values
from .issues import async_raise_issue
from .profile import migrate_profiles
from .record import AsyncRecord

_LOGGER = logging.getLogger(__name__)
_ALL_VITALS: frozenset[str] = frozenset(vital.value for vital in Vital)


def record_path(hass: HomeAssistant, entry_id: str) -> Path:
    """Where a household's record database lives (inside HA's private .storage)."""
    return Path(hass.config.path(".storage", DOMAIN, RECORD_DB_NAME.format(entry_id=entry_id)))


class _Runtime(Protocol):
    """What the household layer needs of an entry's runtime data (types.SmartCareData)."""

    household: Household


def loaded_household_entry(hass: HomeAssistant) -> ConfigEntry | None:
    """The loaded household's entry, if any (its runtime_data is a types.SmartCareData)."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if (
            entry.data.get(CONF_ENTRY_TYPE, ENTRY_TYPE_HOUSEHOLD) == ENTRY_TYPE_HOUSEHOLD
            and entry.state is ConfigEntryState.LOADED
        ):
            return entry
    return None


def loaded_runtime(hass: HomeAssistant) -> Any:
    """The loaded household entry's runtime data (a types.SmartCareData), or None."""
    entry = loaded_household_entry(hass)
    return None if entry is None else entry.runtime_data


def get_household(hass: HomeAssistant) -> Household | None:
    """The loaded household, if any."""
    runtime: _Runtime | None = loaded_runtime(hass)
    return None if runtime is None else runtime.household


@dataclass(slots=True)
class Person:
    """A person of the household as the integration sees them (no identity fields)."""

    person_id: str
    subentry_id: str
    alias: str
    person_entity: str | None = None
    medical_card: str | None = None
    emergency_contacts: list[str] = field(default_factory=list)
    # Longest acceptable gap per measurement group ("no reading received" alarms).
    schedule: dict[str, timedelta] = field(default_factory=dict)
    # Other HA sensors that measure this person: vital -> entity_id.
    sources: dict[str, str] = field(default_factory=dict)
    latest: dict[str, StoredMeasurement] = field(default_factory=dict)
    # Newest measurement time per vital, including readings that never became a state.
    last_seen: dict[str, datetime] = field(default_factory=dict)

    @property
    def last_measurement(self) -> datetime | None:
        """Time of the newest measurement of any vital."""
        return max((m.time for m in self.latest.values()), default=None)


@dataclass(frozen=True, slots=True)
class DeviceSource:
    """A measuring device as attribution needs it."""

    entry_id: str
    key: str  # stable device key (the Bluetooth address)
    name: str
    owner: str | None = None  # person_id
    user_map: Mapping[int, str] = field(default_factory=dict)  # user index -> person_id


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of a device reading."""

    status: IngestStatus
    person_id: str | None = None
    reading_id: str | None = None
    attribution: str | None = None
    stored: tuple[StoredMeasurement, ...] = ()


@dataclass(slots=True)
class PreparedWrite:
    """What a listener needs committed with a reading, and how to undo its own state."""

    alerts: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    # Called when the reading did not commit as planned (an error, or values already logged).
    rollback: Callable[[], None] | None = None
    # Called once the reading is done with, however it ended (after the listeners heard it).
    finish: Callable[[], None] | None = None
    # Called right after the reading and these rows committed, before anything else the
    # reading causes (entities, listeners): what must go out first (alert events), with
    # the reading's context.
    announce: Callable[[Context], None] | None = None


# Rows per smart_care_measurements event: well under the recorder's 32 KiB of event data.
_BATCH_EVENT_ROWS = 100


def _event_row(row: StoredMeasurement) -> dict[str, Any]:
    """A stored row as the measurement events carry it."""
    return {
        "reading_id": row.reading_id,
        "vital": row.vital,
        "value": row.value,
        "unit": row.unit,
        "time": row.time.isoformat(),
        "source": row.source,
    }


@dataclass(frozen=True, slots=True)
class _Attributed:
    """A checked device reading and whose it is, ready to store."""

    person_id: str
    samples: list[VitalSample]
    details: dict[str, Any]
    prefix: str | None
    reading_id: str
    how: str
    history_only: bool


class HouseholdListener:
    """What a feature hears from the household; a feature overrides what it needs.

    The one way the household talks to features (alerts, knowledge, statistics, medication,
    the clinic bridge): it imports none of them. Listeners run in the order they subscribed.
    """

    async def async_household_loaded(self) -> None:
        """Every person of the household is loaded (entry setup)."""

    async def async_person_added(self, person: Person) -> None:
        """A person joined while the household runs."""

    async def async_prepare_readings(
        self, person: Person, rows: list[StoredMeasurement], backfilled: list[StoredMeasurement]
    ) -> PreparedWrite | None:
        """Rows about to be stored (row ids still 0): return what must commit with them.

        Nothing is announced here: ``async_readings_stored`` follows the commit.
        """
        return None

    async def async_readings_stored(
        self, person: Person, stored: list[StoredMeasurement], backfilled: list[StoredMeasurement]
    ) -> None:
        """Rows newly stored for a person; ``backfilled`` were older than the state."""

    async def async_readings_reassigned(
        self, person: Person, moved: list[StoredMeasurement]
    ) -> None:
        """Stored rows were given to ``person``."""

    @callback
    def async_household_closing(self) -> None:
        """The household closes: stop timers."""


class Household:
    """One household: record store plus people, shared by platforms and services."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, store: RecordStore) -> None:
        """Wrap an opened store."""
        self.hass = hass
        self.entry = entry
        # Blocking: features use ``record``; only the pure clinic outbox gets the store itself.
        self.store = store
        self.record = AsyncRecord(hass, store)
        self.people: dict[str, Person] = {}
        self._listeners: list[HouseholdListener] = []
        # Medical-card claims: person_id and when the card was scanned.
        self._claim: tuple[str, datetime] | None = None
        # One reading of a person at a time from assessment to announcement: what the
        # listeners prepare must not interleave with another reading's commit.
        self._record_locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    @callback
    def async_add_listener(self, listener: HouseholdListener) -> CALLBACK_TYPE:
        """Subscribe a feature; return the unsubscribe callback."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def async_load(self) -> None:
        """Build people from the subentries and their latest values from the log."""
        # Conditions, allergies and medications were one text each before they became lists.
        await self.record.batch(migrate_profiles)
        for subentry in self.entry.subentries.values():
            if subentry.subentry_type == SUBENTRY_PERSON:
                await self.async_add_person(subentry)
        # A person whose subentry was removed is removed from the record with it.
        stored = await self.record.person_ids()
        for person_id in stored:
            if person_id not in self.people:
                await self.record.delete_person(person_id)
                _LOGGER.info("Removed the health record of a person no longer in the household")
        for listener in list(self._listeners):
            await listener.async_household_loaded()

    async def async_add_person(self, subentry: ConfigSubentry) -> Person:
        """Add the person of a subentry, with their latest values from the log."""
        data = subentry.data
        person = Person(
            person_id=data[CONF_PERSON_ID],
            subentry_id=subentry.subentry_id,
            alias=data[CONF_ALIAS],
            person_entity=data.get(CONF_PERSON_ENTITY),
            medical_card=data.get(CONF_MEDICAL_CARD),
            emergency_contacts=list(data.get(CONF_EMERGENCY_CONTACTS, [])),
            schedule={
                group: timedelta(hours=data.get(CONF_OVERDUE_HOURS, DEFAULT_OVERDUE_HOURS))
                for group in data.get(CONF_EXPECTED, [])
            },
            sources=dict(data.get(CONF_SOURCES, {})),
        )
        person.latest = await self.record.latest(person.person_id)
        person.last_seen = {vital: row.time for vital, row in person.latest.items()}
        self.people[person.person_id] = person
        return person

    async def async_join_person(self, subentry: ConfigSubentry) -> Person:
        """Add a person while the household runs, and tell the features."""
        person = await self.async_add_person(subentry)
        for listener in list(self._listeners):
            await listener.async_person_added(person)
        return person

    def person_by_alias(self, alias: str) -> Person | None:
        """Find a person by display alias (case-insensitive)."""
        wanted = alias.strip().casefold()
        for person in self.people.values():
            if person.alias.casefold() == wanted:
                return person
        return None

    # Manual and sensor input ------------------------------------------------------

    async def async_record(
        self,
        person: Person,
        samples: Iterable[VitalSample],
        source: str,
        details: Mapping[str, Any] | None = None,
        dedupe_prefix: str | None = None,
        reading_id: str | None = None,
        history_only: bool = False,
        context: Context | None = None,
    ) -> list[StoredMeasurement]:
        """Check, store and publish a person's samples; return the ones newly stored.

        Either every sample is stored or none: implausible values raise
        ``ImplausibleValueError`` before anything is written. ``history_only`` readings
        (from a device's memory) go to the log and statistics, never to the state. Its
        events and the states it changes carry ``context`` (the service call's, say), or one
        new context of the reading's own.
        """
        now = dt_util.utcnow()
        batch = [s if s.time is not None else VitalSample(s.vital, s.value, now) for s in samples]
        check_set({s.vital: s.value for s in batch})
        values: list[tuple[str, float, str, datetime, str | None]] = []
        for sample in batch:
            assert sample.time is not None
            key = None if dedupe_prefix is None else f"{dedupe_prefix}|{sample.vital.value}"
            values.append((sample.vital.value, sample.value, sample.unit, sample.time, key))
        group = reading_id or uuid.uuid4().hex
        payload = dict(details or {})
        planned = [
            StoredMeasurement(
                0,
                group,
                person.person_id,
                vital,
                value,
                unit,
                time.astimezone(UTC),
                source,
                payload,
            )
            for vital, value, unit, time, _key in values
        ]
        lock = self._record_locks.setdefault(person.person_id, asyncio.Lock())
        async with lock:
            # The listeners' consequences (alerts, tracker) commit with the reading: one
            # fsync, and a crash leaves both or neither.
            prepared: list[PreparedWrite] = []
            try:
                for listener in list(self._listeners):
                    write = await listener.async_prepare_readings(
                        person, planned, self._kept_out(person, planned, history_only)
                    )
                    if write is not None:
                        prepared.append(write)
                alerts = [row for write in prepared for row in write.alerts]
                settings = {k: v for write in prepared for k, v in write.settings.items()}
                stored, together = await self.record.append_reading(
                    person.person_id,
                    values,
                    source,
                    payload,
                    group,
                    alerts,
                    settings,
                )
            except BaseException:
                self._roll_back(prepared)
                for write in prepared:
                    if write.finish is not None:
                        write.finish()
                raise
            context = context or Context()
            try:
                if not together or not stored:
                    # Some values were logged before: assess what was really stored instead.
                    self._roll_back(prepared)
                else:
                    announcing = [w.announce for w in prepared if w.announce is not None]
                    for announce in announcing:
                        announce(context)
                    if announcing:
                        # Let the automations the events trigger start before the entities.
                        await asyncio.sleep(0)
                backfilled = self._publish(person, stored, history_only, context=context)
                if stored:
                    for listener in list(self._listeners):
                        await listener.async_readings_stored(person, stored, backfilled)
            finally:
                for write in prepared:
                    if write.finish is not None:
                        write.finish()
        return stored

    @staticmethod
    def _roll_back(prepared: list[PreparedWrite]) -> None:
        for write in reversed(prepared):
            if write.rollback is not None:
                write.rollback()

    @staticmethod
    def _kept_out(
        person: Person, rows: list[StoredMeasurement], history_only: bool
    ) -> list[StoredMeasurement]:
        """The rows ``_publish`` would keep out of the state (``_publish``'s rule)."""
        if history_only:
            return list(rows)
        return [
            row
            for row in rows
            if (current := person.latest.get(row.vital)) is not None and row.time < current.time
        ]

    # Device readings and attribution ------------------------------------------------

    @callback
    def claim_next_reading(self, person: Person) -> None:
        """A medical card was scanned: the next device reading belongs to this person."""
        self._claim = (person.person_id, dt_util.utcnow())

    def _take_claim(self, now: datetime) -> str | None:
        if self._claim is None:
            return None
        person_id, when = self._claim
        self._claim = None
        if now - when > ingest.CLAIM_WINDOW or person_id not in self.people:
            return None
        return person_id

    def _attribute(
        self, source: DeviceSource, reading: Reading, samples: list[VitalSample], now: datetime
    ) -> tuple[str | None, str, str | None]:
        """(person_id or None, how, best guess): core/ingest.py's rule on this household."""
        return ingest.attribute(
            self.people,
            user_id=reading.user_id,
            user_map=source.user_map,
            take_claim=lambda: self._take_claim(now),
            owner=source.owner,
            weight=next((s.value for s in samples if s.vital is Vital.WEIGHT), None),
            last_weights={
                pid: p.latest["weight"].value
                for pid, p in self.people.items()
                if "weight" in p.latest
            },
        )

    async def async_ingest_reading(
        self, source: DeviceSource, reading: Reading, received: datetime | None = None
    ) -> IngestResult:
        """Attribute, store and publish one decoded device reading.

        Readings with no clinical values (intermediate cuff pressure, battery, RACP) are
        ignored here. A reading that cannot be attributed is held durably for the user.
        """
        prepared = await self._async_prepare_ingest(source, reading, received)
        if isinstance(prepared, IngestResult):
            return prepared
        stored = await self.async_record(
            self.people[prepared.person_id],
            prepared.samples,
            f"device:{source.key}",
            prepared.details,
            prepared.prefix,
            prepared.reading_id,
            history_only=prepared.history_only,
        )
        status = IngestStatus.STORED if stored else IngestStatus.DUPLICATE
        return IngestResult(
            status, prepared.person_id, prepared.reading_id, prepared.how, tuple(stored)
        )

    async def async_ingest_batch(
        self, source: DeviceSource, readings: list[tuple[Reading, datetime]]
    ) -> list[IngestResult]:
        """Attribute, store and publish a device's stored records (a RACP transfer) at once.

        The same rules as ``async_ingest_reading``, but each person's records go to the log in
        one transaction (one fsync) and reach the features (statistics import) in one call.
        """
        results: list[IngestResult | None] = []
        by_person: dict[str, list[tuple[int, _Attributed]]] = {}
        for reading, received in readings:
            prepared = await self._async_prepare_ingest(source, reading, received)
            if isinstance(prepared, IngestResult):
                results.append(prepared)
                continue
            by_person.setdefault(prepared.person_id, []).append((len(results), prepared))
            results.append(None)
        for person_id, items in by_person.items():
            stored_each = await self._async_record_many(
                self.people[person_id], f"device:{source.key}", [item for _, item in items]
            )
            for (index, item), stored in zip(items, stored_each, strict=True):
                status = IngestStatus.STORED if stored else IngestStatus.DUPLICATE
                results[index] = IngestResult(
                    status, person_id, item.reading_id, item.how, tuple(stored)
                )
        return [result for result in results if result is not None]

    async def _async_record_many(
        self, person: Person, source: str, items: list[_Attributed]
    ) -> list[list[StoredMeasurement]]:
        """Store attributed device readings of one person in one commit, then publish."""
        batch: list[
            tuple[list[tuple[str, float, str, datetime, str | None]], str, Mapping[str, Any], str]
        ] = []
        for item in items:
            values: list[tuple[str, float, str, datetime, str | None]] = []
            for sample in item.samples:
                assert sample.time is not None
                key = None if item.prefix is None else f"{item.prefix}|{sample.vital.value}"
                values.append((sample.vital.value, sample.value, sample.unit, sample.time, key))
            batch.append((values, source, dict(item.details), item.reading_id))
        lock = self._record_locks.setdefault(person.person_id, asyncio.Lock())
        async with lock:
            stored_each: list[list[StoredMeasurement]] = await self.record.append_readings(
                person.person_id, batch
            )
            stored_all: list[StoredMeasurement] = []
            backfilled_all: list[StoredMeasurement] = []
            latest_before = dict(person.latest)
            for item, stored in zip(items, stored_each, strict=True):
                backfilled_all += self._publish(person, stored, item.history_only, batch=True)
                stored_all += stored
            # One entity update for the batch and an event per _BATCH_EVENT_ROWS rows, not
            # one of each per record (the recorder writes every event).
            changed = frozenset(
                vital for vital, row in person.latest.items() if latest_before.get(vital) is not row
            )
            if changed:
                self._tell_updated(person, changed)
            for start in range(0, len(stored_all), _BATCH_EVENT_ROWS):
                self.hass.bus.async_fire(
                    EVENT_MEASUREMENTS,
                    {
                        "person_id": person.person_id,
                        "source": source,
                        "measurements": [
                            _event_row(row) for row in stored_all[start : start + _BATCH_EVENT_ROWS]
                        ],
                    },
                )
            if stored_all:
                for listener in list(self._listeners):
                    await listener.async_readings_stored(person, stored_all, backfilled_all)
        return stored_each

    async def _async_prepare_ingest(
        self, source: DeviceSource, reading: Reading, received: datetime | None
    ) -> IngestResult | _Attributed:
        """Check and attribute a reading; hold it if nobody is sure, else say whose it is."""
        now = received or dt_util.utcnow()
        samples = reading.vitals()
        if not samples:
            return IngestResult(IngestStatus.NO_VALUES)
        details: dict[str, Any] = {
            "device": source.key,
            "kind": reading.kind,
            "status_flags": reading.status_flags(),
        }
        when, clock_ahead = ingest.reading_time(
            reading.timestamp, now, dt_util.get_default_time_zone()
        )
        if clock_ahead:
            details["device_clock_ahead"] = True
        timed = [VitalSample(s.vital, s.value, when) for s in samples]
        try:
            check_set({s.vital: s.value for s in timed})
        except ImplausibleValueError as err:
            _LOGGER.warning("Rejected a reading from a %s device: %s", reading.kind, err)
            return IngestResult(IngestStatus.REJECTED)
        prefix = ingest.dedupe_prefix(
            source.key, reading.kind, reading.sequence_number, reading.timestamp
        )
        reading_id = ingest.reading_id(prefix)
        person_id, how, guess = self._attribute(source, reading, timed, now)
        details["attribution"] = how
        if person_id is None:
            # Re-sent from the device after the household already assigned it.
            known: bool = prefix is not None and await self.record.has_reading(reading_id)
            if known:
                return IngestResult(IngestStatus.DUPLICATE, reading_id=reading_id, attribution=how)
            await self._async_hold(reading_id, source, timed, details, prefix, guess)
            return IngestResult(IngestStatus.PENDING, reading_id=reading_id, attribution=how)
        return _Attributed(
            person_id, timed, details, prefix, reading_id, how, ingest.from_memory(when, now)
        )

    async def _async_hold(
        self,
        reading_id: str,
        source: DeviceSource,
        samples: list[VitalSample],
        details: dict[str, Any],
        prefix: str | None,
        guess: str | None,
    ) -> None:
        payload = {
            "source": f"device:{source.key}",
            "device_name": source.name,
            "samples": [
                {"vital": s.vital.value, "value": s.value, "time": s.time.isoformat()}
                for s in samples
                if s.time is not None
            ],
            "details": details,
            "dedupe_prefix": prefix,
            "guess": guess,
        }
        await self.record.put_pending(reading_id, payload)
        self._async_pending_issue(reading_id, payload)

    @callback
    def _async_pending_issue(self, reading_id: str, payload: Mapping[str, Any]) -> None:
        guess = payload.get("guess")
        first = payload["samples"][0]
        async_raise_issue(
            self.hass,
            ISSUE_PENDING.format(reading_id),
            "reading_needs_person",
            {
                "device": str(payload["device_name"]),
                "time": dt_util.as_local(datetime.fromisoformat(first["time"])).strftime(
                    "%Y-%m-%d %H:%M"
                ),
                # In words of the system language, not raw keys (alert_text.describe_values).
                "values": describe_values(
                    self.hass, [(s["vital"], float(s["value"])) for s in payload["samples"]]
                ),
                "guess": self.people[guess].alias if guess in self.people else "—",
                "reading_id": reading_id,
            },
            fixable=True,
            data={"reading_id": reading_id},
        )

    async def async_restore_pending_issues(self) -> None:
        """Repairs are not persistent: raise them again for readings still held."""
        pending = await self.record.list_pending()
        for reading_id, payload in pending.items():
            self._async_pending_issue(reading_id, payload)

    async def async_assign(self, reading_id: str, person: Person) -> list[StoredMeasurement]:
        """Give a held or stored reading to a person, keeping its original time."""
        pending = await self.record.list_pending()
        if reading_id in pending:
            payload = pending[reading_id]
            samples = [
                VitalSample(Vital(s["vital"]), s["value"], datetime.fromisoformat(s["time"]))
                for s in payload["samples"]
            ]
            details = dict(payload["details"]) | {"attribution": "assigned"}
            stored = await self.async_record(
                person, samples, payload["source"], details, payload["dedupe_prefix"], reading_id
            )
            await self.record.delete_pending(reading_id)
            ir.async_delete_issue(self.hass, DOMAIN, ISSUE_PENDING.format(reading_id))
            return stored
        moved: list[StoredMeasurement] = await self.record.reassign(reading_id, person.person_id)
        if not moved:
            raise KeyError(reading_id)
        for other in self.people.values():
            if other is not person:
                await self._async_refresh_latest(other)
        await self._async_refresh_latest(person)
        for listener in list(self._listeners):
            await listener.async_readings_reassigned(person, moved)
        return moved

    async def _async_refresh_latest(self, person: Person) -> None:
        person.latest = await self.record.latest(person.person_id)
        person.last_seen = {vital: row.time for vital, row in person.latest.items()}
        self._tell_updated(person, None)

    @callback
    def _tell_updated(
        self, person: Person, vitals: frozenset[str] | None, context: Context | None = None
    ) -> None:
        """Tell the person's entities that these vitals (None: any) have new values."""
        for vital in vitals if vitals is not None else _ALL_VITALS:
            async_dispatcher_send(
                self.hass, SIGNAL_VITAL_UPDATED.format(person.person_id, vital), vitals, context
            )
        async_dispatcher_send(
            self.hass, SIGNAL_PERSON_UPDATED.format(person.person_id), vitals, context
        )

    @callback
    def _publish(
        self,
        person: Person,
        stored: list[StoredMeasurement],
        history_only: bool = False,
        batch: bool = False,
        context: Context | None = None,
    ) -> list[StoredMeasurement]:
        """Update latest values and tell listeners; return the rows kept out of the state."""
        changed: set[str] = set()
        backfilled: list[StoredMeasurement] = []
        for row in stored:
            seen = person.last_seen.get(row.vital)
            if seen is None or row.time > seen:
                person.last_seen[row.vital] = row.time
            current = person.latest.get(row.vital)
            # Older readings (device memory, backfill) go to the log and to long-term
            # statistics, never to the state.
            if not history_only and (current is None or row.time >= current.time):
                person.latest[row.vital] = row
                changed.add(row.vital)
            else:
                backfilled.append(row)
        if batch:  # the caller tells of the whole batch at once
            return backfilled
        context = context or Context()
        for row in stored:
            self.hass.bus.async_fire(
                EVENT_MEASUREMENT,
                {"person_id": person.person_id, **_event_row(row)},
                context=context,
            )
        if changed:
            self._tell_updated(person, frozenset(changed), context)
        return backfilled

    async def async_close(self) -> None:
        """Stop timers and close the store; once (at shutdown, then maybe at unload)."""
        if self._closed:
            return
        self._closed = True
        for listener in list(self._listeners):
            listener.async_household_closing()
        await self.record.close()
