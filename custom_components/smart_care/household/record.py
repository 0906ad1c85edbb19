"""The household's record store for the event loop: each call runs in HA's executor.

Notes: docs/modules.md (household/record.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
import logging
import sqlite3
from typing import Any

from homeassistant.core import HomeAssistant

from ..core.store.record_store import RecordStore, StoredMeasurement

_LOGGER = logging.getLogger(__name__)

type Values = list[tuple[str, float, str, datetime, str | None]]
type AlertRows = Iterable[tuple[str, str, Mapping[str, Any]]]


class AsyncRecord:
    """The one way glue reaches the synchronous SQLite store (which serialises its writes).

    Each method is the store's method of the same name, awaited; ``batch`` runs several
    store calls as one executor job where they belong together.
    """

    def __init__(self, hass: HomeAssistant, store: RecordStore) -> None:
        self._hass = hass
        self._store = store
        self._checkpointing = False

    async def _run[**P, T](self, target: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        result = await self._hass.async_add_executor_job(partial(target, *args, **kwargs))
        self._checkpoint_when_due()
        return result

    async def batch[T](self, work: Callable[[RecordStore], T]) -> T:
        """Run ``work(store)`` in one executor job (reads that go together, read-modify-write)."""
        result = await self._hass.async_add_executor_job(work, self._store)
        self._checkpoint_when_due()
        return result

    def _checkpoint_when_due(self) -> None:
        # In the background: the caller (a reading on its way to its alert) does not wait.
        if self._checkpointing or not self._store.checkpoint_due:
            return
        self._checkpointing = True
        self._hass.async_create_background_task(
            self._async_checkpoint(), "smart_care record checkpoint"
        )

    async def _async_checkpoint(self) -> None:
        try:
            await self._hass.async_add_executor_job(self._store.checkpoint)
        except sqlite3.Error as err:
            # Nothing is lost: SQLite's own checkpoint copies the WAL later.
            _LOGGER.warning("Could not checkpoint the health record: %s", err)
        finally:
            self._checkpointing = False
        # Commits may have come due while it ran (none is skipped).
        self._checkpoint_when_due()

    async def close(self) -> None:
        """Close the database."""
        await self._run(self._store.close)

    # People and settings --------------------------------------------------------------

    async def person_ids(self) -> list[str]:
        """Everyone with something in the record."""
        return await self._run(self._store.person_ids)

    async def delete_person(self, person_id: str) -> int:
        """Delete everything of a person."""
        return await self._run(self._store.delete_person, person_id)

    async def put_profile(self, person_id: str, profile: Mapping[str, Any]) -> None:
        """Replace a person's private profile."""
        await self._run(self._store.put_profile, person_id, profile)

    async def get_profile(self, person_id: str) -> dict[str, Any] | None:
        """A person's private profile, if any."""
        return await self._run(self._store.get_profile, person_id)

    async def get_settings(self, person_id: str) -> dict[str, Any]:
        """A person's settings."""
        return await self._run(self._store.get_settings, person_id)

    async def put_setting(self, person_id: str, key: str, value: Any) -> None:
        """Store one setting of a person."""
        await self._run(self._store.put_setting, person_id, key, value)

    async def put_setting_lazily(self, person_id: str, key: str, value: Any) -> None:
        """Store one setting without waiting for the disk (see the store)."""
        await self._run(self._store.put_setting_lazily, person_id, key, value)

    # Alerts -----------------------------------------------------------------------------

    async def alerts(
        self, *, person_id: str | None = None, active_only: bool = False
    ) -> list[dict[str, Any]]:
        """Stored alerts, newest first."""
        return await self._run(self._store.alerts, person_id=person_id, active_only=active_only)

    async def put_alert(
        self, alert_id: str, person_id: str, status: str, payload: Mapping[str, Any]
    ) -> None:
        """Store one alert."""
        await self._run(self._store.put_alert, alert_id, person_id, status, payload)

    async def put_alerts_and_setting(
        self, person_id: str, alerts: AlertRows, key: str, value: Any
    ) -> None:
        """Store alerts and one setting in one transaction."""
        await self._run(self._store.put_alerts_and_setting, person_id, alerts, key, value)

    async def alerts_updated_since(self, since: datetime) -> list[dict[str, Any]]:
        """Alerts changed since a time."""
        return await self._run(self._store.alerts_updated_since, since)

    # Measurements -------------------------------------------------------------------------

    async def append_reading(
        self,
        person_id: str,
        values: Values,
        source: str,
        details: Mapping[str, Any] | None,
        reading_id: str,
        alerts: AlertRows = (),
        settings: Mapping[str, Any] | None = None,
    ) -> tuple[list[StoredMeasurement], bool]:
        """Store one reading with what must commit with it."""
        return await self._run(
            self._store.append_reading,
            person_id,
            values,
            source,
            details,
            reading_id,
            alerts,
            settings,
        )

    async def append_readings(
        self, person_id: str, readings: list[tuple[Values, str, Mapping[str, Any], str]]
    ) -> list[list[StoredMeasurement]]:
        """Store several readings of a person in one transaction."""
        return await self._run(self._store.append_readings, person_id, readings)

    async def reassign(self, reading_id: str, person_id: str) -> list[StoredMeasurement]:
        """Give a stored reading to another person."""
        return await self._run(self._store.reassign, reading_id, person_id)

    async def has_reading(self, reading_id: str) -> bool:
        """Whether a reading is in the log."""
        return await self._run(self._store.has_reading, reading_id)

    async def latest(self, person_id: str) -> dict[str, StoredMeasurement]:
        """A person's newest measurement per vital."""
        return await self._run(self._store.latest, person_id)

    async def history(
        self,
        person_id: str,
        since: datetime | None = None,
        vital: str | None = None,
        until: datetime | None = None,
    ) -> list[StoredMeasurement]:
        """A person's measurements, oldest first."""
        return await self._run(
            self._store.history, person_id, since=since, vital=vital, until=until
        )

    async def count(self, person_id: str | None = None) -> int:
        """How many measurements (of a person)."""
        return await self._run(self._store.count, person_id)

    async def max_measurement_id(self) -> int:
        """The newest measurement row id."""
        return await self._run(self._store.max_measurement_id)

    # Readings held for a person -----------------------------------------------------------

    async def put_pending(self, pending_id: str, payload: Mapping[str, Any]) -> None:
        """Hold a reading nobody is sure about."""
        await self._run(self._store.put_pending, pending_id, payload)

    async def list_pending(self) -> dict[str, dict[str, Any]]:
        """Readings held, by id."""
        return await self._run(self._store.list_pending)

    async def delete_pending(self, pending_id: str) -> bool:
        """Drop a held reading."""
        return await self._run(self._store.delete_pending, pending_id)

    # Clinic tables -------------------------------------------------------------------------

    async def clinic_state(self, link_id: str) -> dict[str, Any]:
        """A clinic link's delivery state."""
        return await self._run(self._store.clinic_state, link_id)

    async def clinic_put_state(self, link_id: str, values: Mapping[str, Any]) -> None:
        """Update a clinic link's delivery state."""
        await self._run(self._store.clinic_put_state, link_id, values)

    async def clinic_enqueue(
        self,
        link_id: str,
        items: Iterable[tuple[str, str, str | None, Mapping[str, Any]]],
        state: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """Queue items for a clinic (with a state update, in one transaction)."""
        return await self._run(self._store.clinic_enqueue, link_id, items, state)

    async def clinic_quarantined(self, link_id: str | None = None) -> list[dict[str, Any]]:
        """Quarantined readings and items (of a link)."""
        return await self._run(self._store.clinic_quarantined, link_id)

    async def clinic_quarantine_release(self, qid: int, *, retry: bool, actor: str) -> str | None:
        """Send a quarantined entry again or discard it (audited)."""
        return await self._run(self._store.clinic_quarantine_release, qid, retry=retry, actor=actor)

    async def put_advice(
        self, advice_id: str, link_id: str, person_id: str, payload: Mapping[str, Any]
    ) -> bool:
        """Store a clinic's advice; False if it was stored before."""
        return await self._run(self._store.put_advice, advice_id, link_id, person_id, payload)

    async def advice(self, person_id: str | None = None) -> list[dict[str, Any]]:
        """Clinic advice (for a person), oldest first."""
        return await self._run(self._store.advice, person_id)

    async def clinic_audit(
        self,
        link_id: str,
        request_type: str,
        person: str | None,
        status: int,
        outcome: str,
        authority: str,
        signature: str | None = None,
    ) -> None:
        """Append one line to the audit trail."""
        await self._run(
            self._store.clinic_audit,
            link_id,
            request_type,
            person,
            status,
            outcome,
            authority,
            signature,
        )

    async def clinic_audit_rows(
        self, link_id: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Audit lines (of a link, since a time)."""
        return await self._run(self._store.clinic_audit_rows, link_id, since)
