"""Runtime state of a household: its record store and its people (HA glue)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ALIAS,
    CONF_EMERGENCY_CONTACTS,
    CONF_PERSON_ENTITY,
    CONF_PERSON_ID,
    DOMAIN,
    EVENT_MEASUREMENT,
    RECORD_DB_NAME,
    SUBENTRY_PERSON,
)
from .medical.plausibility import check_set
from .medical.vitals import VitalSample
from .record_store import RecordStore, StoredMeasurement

_LOGGER = logging.getLogger(__name__)

SIGNAL_PERSON_UPDATED = f"{DOMAIN}_person_updated_{{}}"


def record_path(hass: HomeAssistant, entry_id: str) -> Path:
    """Where a household's record database lives (inside HA's private .storage)."""
    return Path(hass.config.path(".storage", DOMAIN, RECORD_DB_NAME.format(entry_id=entry_id)))


@dataclass(slots=True)
class Person:
    """A person of the household as the integration sees them (no identity fields)."""

    person_id: str
    subentry_id: str
    alias: str
    person_entity: str | None = None
    emergency_contacts: list[str] = field(default_factory=list)
    latest: dict[str, StoredMeasurement] = field(default_factory=dict)

    @property
    def last_measurement(self) -> datetime | None:
        """Time of the newest measurement of any vital."""
        return max((m.time for m in self.latest.values()), default=None)


class Household:
    """One household: record store plus people, shared by platforms and services."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, store: RecordStore) -> None:
        """Wrap an opened store."""
        self.hass = hass
        self.entry = entry
        self.store = store
        self.people: dict[str, Person] = {}

    async def async_load(self) -> None:
        """Build people from the subentries and their latest values from the log."""
        for subentry in self.entry.subentries.values():
            if subentry.subentry_type != SUBENTRY_PERSON:
                continue
            data = subentry.data
            person = Person(
                person_id=data[CONF_PERSON_ID],
                subentry_id=subentry.subentry_id,
                alias=data[CONF_ALIAS],
                person_entity=data.get(CONF_PERSON_ENTITY),
                emergency_contacts=list(data.get(CONF_EMERGENCY_CONTACTS, [])),
            )
            person.latest = await self.hass.async_add_executor_job(
                self.store.latest, person.person_id
            )
            self.people[person.person_id] = person
        # A person whose subentry was removed is removed from the record with it.
        stored = await self.hass.async_add_executor_job(self.store.person_ids)
        for person_id in stored:
            if person_id not in self.people:
                await self.hass.async_add_executor_job(self.store.delete_person, person_id)
                _LOGGER.info("Removed the health record of a person no longer in the household")

    def person_by_alias(self, alias: str) -> Person | None:
        """Find a person by display alias (case-insensitive)."""
        wanted = alias.strip().casefold()
        for person in self.people.values():
            if person.alias.casefold() == wanted:
                return person
        return None

    def person_by_subentry(self, subentry_id: str) -> Person | None:
        """Find a person by config subentry id."""
        for person in self.people.values():
            if person.subentry_id == subentry_id:
                return person
        return None

    async def async_record(
        self,
        person: Person,
        samples: Iterable[VitalSample],
        source: str,
        details: Mapping[str, Any] | None = None,
        dedupe_prefix: str | None = None,
    ) -> list[StoredMeasurement]:
        """Check, store and publish a person's samples; return the ones newly stored.

        Either every sample is stored or none: implausible values raise
        ``ImplausibleValueError`` before anything is written.
        """
        now = dt_util.utcnow()
        batch = [s if s.time is not None else VitalSample(s.vital, s.value, now) for s in samples]
        check_set({s.vital: s.value for s in batch})
        stored: list[StoredMeasurement] = await self.hass.async_add_executor_job(
            self._append_all, person.person_id, batch, source, dict(details or {}), dedupe_prefix
        )
        self._publish(person, stored)
        return stored

    def _append_all(
        self,
        person_id: str,
        batch: list[VitalSample],
        source: str,
        details: dict[str, Any],
        dedupe_prefix: str | None,
    ) -> list[StoredMeasurement]:
        result = []
        for sample in batch:
            assert sample.time is not None
            key = None
            if dedupe_prefix is not None:
                key = f"{dedupe_prefix}|{sample.vital.value}"
            row = self.store.append(
                person_id,
                sample.vital.value,
                sample.value,
                sample.unit,
                sample.time,
                source,
                details,
                dedupe_key=key,
            )
            if row is not None:
                result.append(row)
        return result

    @callback
    def _publish(self, person: Person, stored: list[StoredMeasurement]) -> None:
        changed = False
        for row in stored:
            current = person.latest.get(row.vital)
            # Older readings (device memory, backfill) go to the log only, never to the state.
            if current is None or row.time >= current.time:
                person.latest[row.vital] = row
                changed = True
        for row in stored:
            self.hass.bus.async_fire(
                EVENT_MEASUREMENT,
                {
                    "person_id": person.person_id,
                    "vital": row.vital,
                    "value": row.value,
                    "unit": row.unit,
                    "time": row.time.isoformat(),
                    "source": row.source,
                },
            )
        if changed:
            async_dispatcher_send(self.hass, SIGNAL_PERSON_UPDATED.format(person.person_id))

    async def async_close(self) -> None:
        """Close the store."""
        await self.hass.async_add_executor_job(self.store.close)
