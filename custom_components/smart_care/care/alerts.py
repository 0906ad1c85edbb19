"""Alert manager: findings of the pure assessment become alerts with a lifecycle (HA glue).

Notes: docs/modules.md (care/alerts.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
import copy
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
import logging
from typing import Any, Protocol
import uuid

from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from ..const import EVENT_ALERT, SIGNAL_ALERTS_UPDATED, AlertStatus
from ..core.clinical.assessment import (
    DEFAULT_THRESHOLDS,
    MEASUREMENT_GROUPS,
    NEWS2_VITALS,
    AlertAction,
    AlertTracker,
    AlertUpdate,
    Finding,
    FindingKind,
    Level,
    Thresholds,
    TrendState,
    assess_device_flags,
    assess_news2,
    assess_sample,
    assess_stale,
    threshold_codes,
)
from ..core.clinical.news2 import News2Result
from ..core.clinical.vitals import Vital, VitalSample, as_vital
from ..core.store.record_store import StoredMeasurement
from ..household.alert_text import (
    LANGUAGES,
    async_common_texts,
    async_device_languages,
    async_preload,
    render,
    render_title,
    supported_language,
    translation_key_for,
)
from ..household.runtime import (
    Household,
    HouseholdListener,
    Person,
    PreparedWrite,
    loaded_runtime,
)
from .knowledge import KnowledgeDelivery

_LOGGER = logging.getLogger(__name__)


STATUS_OPEN = AlertStatus.OPEN.value
STATUS_ACKNOWLEDGED = AlertStatus.ACKNOWLEDGED.value
STATUS_SNOOZED = AlertStatus.SNOOZED.value
STATUS_RESOLVED = AlertStatus.RESOLVED.value

# Readings older than this (device memory, backfill) are logged and feed trends, but do
# not raise alerts: an "urgent" alarm about last week helps nobody.
ALERT_MAX_AGE = timedelta(hours=24)
# NEWS2 uses values measured within this window of each other.
NEWS2_MAX_AGE = timedelta(hours=1)
# History the trend rules look at.
TREND_WINDOW = timedelta(days=15)
SETTING_TRACKER = "alert_tracker"
SETTING_THRESHOLDS = "thresholds"
# Alert changes committed with their reading but not yet announced: (alert_id, action).
# Cleared lazily after the events go out; a crash in between announces them on restart.
SETTING_UNANNOUNCED = "alert_unannounced"

_Updates = list[tuple[AlertUpdate, Finding | None]]


@dataclass(slots=True)
class Alert:
    """One alert as stored and as sent on the bus."""

    alert_id: str
    person_id: str
    person: str  # display alias, never identity
    code: str
    kind: str
    severity: str
    vital: str | None
    value: float | None
    unit: str | None
    threshold: float | None
    message: str
    time: str  # when the finding was measured or made (ISO 8601)
    opened_at: str
    updated_at: str
    status: str = STATUS_OPEN
    placeholders: dict[str, str] = field(default_factory=dict)
    # Added fields (older stored alerts lack them; see docs/alerts.md).
    translation_key: str | None = None
    peak_severity: str | None = None
    language: str = "en"
    messages: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    clinical_message: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    snoozed_until: str | None = None
    resolved_at: str | None = None

    def snapshot(self) -> Alert:
        """A copy to roll back to: its dict fields (str -> str) copied, the rest immutable."""
        copied = copy.copy(self)
        for name in _DICT_FIELDS:
            setattr(copied, name, dict(getattr(self, name)))
        return copied

    def as_record(self) -> dict[str, Any]:
        """What the record store keeps (``asdict``, without its recursive deep copy)."""
        record = {name: getattr(self, name) for name in _FIELDS}
        for name in _DICT_FIELDS:
            record[name] = dict(record[name])
        return record

    def payload(self, action: str, device_languages: dict[str, str]) -> dict[str, Any]:
        """The documented ``smart_care_alert`` event data."""
        return self.as_record() | {"action": action, "device_languages": device_languages}

    def message_in(self, language: str) -> str:
        """The family's text in ``language`` (English, then the stored text, if missing)."""
        return self.messages.get(supported_language(language)) or self.messages.get(
            "en", self.message
        )

    @property
    def active(self) -> bool:
        """Not yet resolved."""
        return self.status != STATUS_RESOLVED


_FIELDS = tuple(f.name for f in fields(Alert))
# Its str -> str maps: every other field holds an immutable value.
_DICT_FIELDS = tuple(f.name for f in fields(Alert) if str(f.type).startswith("dict"))


class _Runtime(Protocol):
    """What alerts need of the household entry's runtime data (types.SmartCareData)."""

    alerts: AlertManager


def get_alerts(hass: HomeAssistant) -> AlertManager | None:
    """The loaded household's alert manager, if any."""
    runtime: _Runtime | None = loaded_runtime(hass)
    return None if runtime is None else runtime.alerts


@dataclass(slots=True)
class _Staged:
    """A reading's alert changes, committed with it, to announce once it is stored."""

    events: list[tuple[Alert, str]]
    codes: set[str]
    fired: bool = False  # the events went out right after the commit
    context: Context | None = None  # the reading's, once announced
    news2_changed: bool = True  # the early warning score is not what it was


class AlertManager(HouseholdListener):
    """Assessment and alert lifecycle for every person of a household."""

    def __init__(
        self, hass: HomeAssistant, household: Household, knowledge: KnowledgeDelivery
    ) -> None:
        """Bind to the household's store and people."""
        self.hass = hass
        self.household = household
        self.knowledge = knowledge
        self.alerts: dict[str, Alert] = {}
        self.trackers: dict[str, AlertTracker] = {}
        self.thresholds: dict[str, Thresholds] = {}
        self.news2: dict[str, News2Result] = {}
        self.trend_notes: dict[str, list[Finding]] = {}
        # Each person's trend window, read from the record once and then kept up to date
        # from the rows stored.
        self._windows: dict[str, TrendState] = {}
        self._snooze_timers: dict[str, CALLBACK_TYPE] = {}
        self._listeners: list[Callable[[Alert, str, Context | None], None]] = []
        # Per person: alert changes committed with a reading, announced once it is stored.
        self._staged: dict[str, _Staged] = {}
        # Held from a reading's assessment until its commit is announced or rolled back, so an
        # acknowledge, snooze or resolve never lands in between (the reading's alert rows,
        # worked out before it, would overwrite it on disk, or a roll-back in memory).
        self._in_flight: dict[str, asyncio.Lock] = {}

    # What the household tells ----------------------------------------------------------

    async def async_household_loaded(self) -> None:
        """Restore the alert state of everyone loaded."""
        await self.async_load()

    async def async_person_added(self, person: Person) -> None:
        """A new person may already be overdue."""
        await self.async_check_stale()

    async def async_prepare_readings(
        self, person: Person, rows: list[StoredMeasurement], backfilled: list[StoredMeasurement]
    ) -> PreparedWrite:
        """Assess a reading before it is stored: its alert changes commit with it."""
        person_id = person.person_id
        lock = self._person_lock(person_id)
        await lock.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:  # once: the lock may belong to the next holder by then
                released = True
                lock.release()

        try:
            write = await self._async_prepare(person, rows, backfilled)
        except BaseException:
            release()
            raise
        write.finish = release
        return write

    def _person_lock(self, person_id: str) -> asyncio.Lock:
        return self._in_flight.setdefault(person_id, asyncio.Lock())

    async def _async_prepare(
        self,
        person: Person,
        rows: list[StoredMeasurement],
        backfilled: list[StoredMeasurement],
    ) -> PreparedWrite:
        person_id = person.person_id
        tracker = self.trackers.setdefault(person_id, AlertTracker())
        tracker_before = tracker.to_dict()
        alerts_before = {
            a.alert_id: a.snapshot() for a in self.alerts.values() if a.person_id == person_id
        }
        news2_before = self.news2.get(person_id)
        notes_before = self.trend_notes.get(person_id)
        kept_out = {id(row) for row in backfilled}
        latest = {row.vital: row for row in rows if id(row) not in kept_out}
        updates, codes = await self._async_assess(person, tracker, rows, latest=latest)
        events = await self._async_stage(person, updates)
        staged = self._staged[person_id] = _Staged(
            events, codes, news2_changed=self.news2.get(person_id) != news2_before
        )

        def rollback() -> None:
            self._staged.pop(person_id, None)
            self.trackers[person_id] = AlertTracker.from_dict(tracker_before)
            for alert_id in [a for a, v in self.alerts.items() if v.person_id == person_id]:
                del self.alerts[alert_id]
            self.alerts.update(alerts_before)
            if news2_before is not None:
                self.news2[person_id] = news2_before
            if notes_before is not None:
                self.trend_notes[person_id] = notes_before

        write = PreparedWrite(rollback=rollback)
        if events:
            write.alerts = [(a.alert_id, a.status, a.as_record()) for a, _ in events]
            write.settings = {
                SETTING_TRACKER: tracker.to_dict(),
                SETTING_UNANNOUNCED: [[a.alert_id, action] for a, action in events if action],
            }
        if any(action for _, action in events):
            # Looked up now, so the events can go out the moment the reading is committed,
            # before its entities and the rest of what follows a reading.
            languages = await async_device_languages(self.hass)

            def announce(context: Context) -> None:
                staged.context = context
                for alert, action in events:
                    if action:
                        self._fire(alert, action, languages, context)
                staged.fired = True

            write.announce = announce
        return write

    async def async_readings_stored(
        self, person: Person, stored: list[StoredMeasurement], backfilled: list[StoredMeasurement]
    ) -> None:
        """Announce what was committed with the readings (or assess them now)."""
        staged = self._staged.pop(person.person_id, None)
        if staged is None:
            await self.async_process(person, stored)
            return
        await self._async_announce_staged(person, stored, staged)

    async def _async_announce_staged(
        self, person: Person, stored: list[StoredMeasurement], staged: _Staged
    ) -> None:
        events, codes = staged.events, staged.codes
        if any(r.vital in {"weight", "systolic_bp", "glucose"} for r in stored):
            await self._async_window(person, dt_util.utcnow(), stored)
        if events:  # _async_announce sends the signal the entities follow
            await self._async_announce(person, events, staged.fired, staged.context)
            if any(action for _, action in events):
                await self.household.record.put_setting_lazily(
                    person.person_id, SETTING_UNANNOUNCED, []
                )
        elif staged.news2_changed:  # the score changed without any alert changing
            async_dispatcher_send(
                self.hass, SIGNAL_ALERTS_UPDATED.format(person.person_id), None, staged.context
            )
        if codes:
            await self.knowledge.async_consider_codes(person, codes)

    async def async_readings_reassigned(
        self, person: Person, moved: list[StoredMeasurement]
    ) -> None:
        """Assess readings given to the person."""
        # The rows left someone else's window: read the windows again when next needed.
        self._windows.clear()
        await self.async_process(person, moved)

    @callback
    def async_household_closing(self) -> None:
        """Stop the snooze timers."""
        self.async_unload()

    # Loading --------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Restore open alerts, trackers and thresholds; recompute NEWS2."""
        await async_preload(self.hass)
        record = self.household.record
        unannounced: dict[str, list[list[str]]] = {}
        for person_id, person in self.household.people.items():
            settings = await record.get_settings(person_id)
            self.trackers[person_id] = (
                AlertTracker.from_dict(settings[SETTING_TRACKER])
                if SETTING_TRACKER in settings
                else AlertTracker()
            )
            self.thresholds[person_id] = (
                DEFAULT_THRESHOLDS.with_overrides(settings[SETTING_THRESHOLDS])
                if SETTING_THRESHOLDS in settings
                else DEFAULT_THRESHOLDS
            )
            self._update_news2(person, dt_util.utcnow())
            if settings.get(SETTING_UNANNOUNCED):
                unannounced[person_id] = settings[SETTING_UNANNOUNCED]
        for data in await record.alerts(active_only=True):
            alert = Alert(**data)
            if alert.person_id in self.household.people:
                await self._async_render(alert)
                self.alerts[alert.alert_id] = alert
                if alert.status == STATUS_SNOOZED and alert.snoozed_until:
                    self._schedule_snooze_end(alert)
        for person_id, pending in unannounced.items():
            await self._async_announce_missed(person_id, pending)

    async def _async_announce_missed(self, person_id: str, pending: list[list[str]]) -> None:
        """Announce alert changes committed just before a crash, before their events went out."""
        stored = {
            data["alert_id"]: data
            for data in await self.household.record.alerts(person_id=person_id)
        }
        for alert_id, action in pending:
            alert = self.alerts.get(alert_id)
            if alert is None and alert_id in stored:  # resolved since: not kept in memory
                alert = Alert(**stored[alert_id])
                await self._async_render(alert)
            if alert is not None:
                await self._async_fire(alert, action)
        await self.household.record.put_setting_lazily(person_id, SETTING_UNANNOUNCED, [])

    @callback
    def async_unload(self) -> None:
        """Cancel timers."""
        for cancel in self._snooze_timers.values():
            cancel()
        self._snooze_timers.clear()

    # Queries --------------------------------------------------------------------------

    def active_alerts(self, person_id: str | None = None) -> list[Alert]:
        """Unresolved alerts, oldest first."""
        return [a for a in self.alerts.values() if person_id is None or a.person_id == person_id]

    def highest_level(self, person_id: str) -> Level | None:
        """Severity of the person's worst unresolved alert."""
        levels = [Level(a.severity) for a in self.active_alerts(person_id)]
        return max(levels) if levels else None

    def _open_by_code(self, person_id: str, code: str) -> Alert | None:
        for alert in self.alerts.values():
            if alert.person_id == person_id and alert.code == code:
                return alert
        return None

    # Assessment ----------------------------------------------------------------------

    async def async_process(self, person: Person, stored: Iterable[StoredMeasurement]) -> None:
        """Assess newly stored values of a person and update their alerts."""
        tracker = self.trackers.setdefault(person.person_id, AlertTracker())
        updates, codes = await self._async_assess(person, tracker, stored)
        await self._apply(person, tracker, updates)
        # The early warning score may have changed without any alert changing.
        async_dispatcher_send(self.hass, SIGNAL_ALERTS_UPDATED.format(person.person_id))
        if codes:
            await self.knowledge.async_consider_codes(person, codes)

    async def _async_assess(
        self,
        person: Person,
        tracker: AlertTracker,
        stored: Iterable[StoredMeasurement],
        latest: Mapping[str, StoredMeasurement] | None = None,
    ) -> tuple[_Updates, set[str]]:
        """The tracker updates newly stored values cause, and the finding codes.

        ``latest`` given: the rows are not stored yet (row ids 0) and would make these the
        person's latest values; the trend window sees them without keeping them.
        """
        now = dt_util.utcnow()
        thresholds = self.thresholds.get(person.person_id, DEFAULT_THRESHOLDS)
        rows = sorted(stored, key=lambda r: r.time)
        recent = [r for r in rows if now - r.time <= ALERT_MAX_AGE]
        updates: list[tuple[AlertUpdate, Finding | None]] = []
        for row in recent:
            sample = VitalSample(as_vital(row.vital), row.value, row.time)
            findings = assess_sample(sample, thresholds)
            high, low = threshold_codes(sample.vital)
            hit = {f.code for f in findings}
            for finding in findings:
                updates.append((tracker.observe_finding(finding, row.time), finding))
            for code in (high, low):
                if code not in hit and code in tracker.alerts:
                    updates.append((tracker.observe(code, None, row.value, row.time), None))
        updates.extend(self._device_updates(tracker, recent))
        if recent:
            updates.extend(self._news2_updates(person, tracker, now, latest))
        if any(r.vital in {"weight", "systolic_bp", "glucose"} for r in rows):
            updates.extend(
                await self._trend_updates(person, tracker, now, rows, pending=latest is not None)
            )
        codes = {f.code for _, f in updates if f is not None}
        codes |= {f.code for f in self.trend_notes.get(person.person_id, [])}
        # Any reading of a group ends its "overdue" alert.
        for group, vitals in MEASUREMENT_GROUPS.items():
            if any(r.vital in vitals for r in recent):  # a StrEnum equals its name
                for code in (f"stale_{group}", f"no_data_{group}"):
                    if code in tracker.alerts:
                        updates.append((tracker.resolve(code, now), None))
        return updates, codes

    def _device_updates(
        self, tracker: AlertTracker, rows: list[StoredMeasurement]
    ) -> list[tuple[AlertUpdate, Finding | None]]:
        updates: list[tuple[AlertUpdate, Finding | None]] = []
        by_reading: dict[str, StoredMeasurement] = {}
        for row in rows:
            by_reading.setdefault(row.reading_id, row)
        for row in by_reading.values():
            flags = row.details.get("status_flags") or []
            findings = assess_device_flags(flags)
            codes = {f.code for f in findings}
            for finding in findings:
                updates.append(
                    (tracker.observe(finding.code, finding.level, None, row.time), finding)
                )
            # A clean reading of the same kind clears an earlier device problem.
            if row.details.get("kind"):
                for code in list(tracker.alerts):
                    if code.startswith("device_") and code not in codes:
                        updates.append((tracker.resolve(code, row.time), None))
        return updates

    def _latest_samples(
        self, person: Person, latest: Mapping[str, StoredMeasurement] | None = None
    ) -> dict[Vital, VitalSample]:
        """The person's latest samples of the vitals NEWS2 reads."""
        rows = dict(person.latest) | dict(latest or {})
        return {
            vital: VitalSample(vital, row.value, row.time)
            for vital in NEWS2_VITALS
            if (row := rows.get(vital)) is not None
        }

    def _update_news2(
        self, person: Person, now: datetime, latest: Mapping[str, StoredMeasurement] | None = None
    ) -> Finding | None:
        result, finding = assess_news2(
            self._latest_samples(person, latest), now, max_age=NEWS2_MAX_AGE
        )
        self.news2[person.person_id] = result
        return finding

    def _news2_updates(
        self,
        person: Person,
        tracker: AlertTracker,
        now: datetime,
        latest: Mapping[str, StoredMeasurement] | None = None,
    ) -> list[tuple[AlertUpdate, Finding | None]]:
        finding = self._update_news2(person, now, latest)
        result = self.news2[person.person_id]
        if finding is not None and finding.level > Level.INFO:
            return [
                (
                    tracker.observe("news2", finding.level, float(result.partial_total), now),
                    finding,
                )
            ]
        if "news2" in tracker.alerts:
            # NEWS2 is recomputed from the latest readings, not one noisy value: once they
            # no longer reach an alerting band the alert is over (no hysteresis).
            return [(tracker.resolve("news2", now), None)]
        return []

    async def _async_window(
        self, person: Person, now: datetime, stored: Iterable[StoredMeasurement]
    ) -> TrendState:
        """The person's trend window (the last TREND_WINDOW), from memory once read."""
        person_id = person.person_id
        since = now - TREND_WINDOW
        window = self._windows.get(person_id)
        if window is None:
            rows = await self.household.record.history(person_id, since=since)
            window = TrendState()
            for r in rows:
                window.add(r.row_id, VitalSample(as_vital(r.vital), r.value, r.time))
            self._windows[person_id] = window
        for row in stored:
            if row.time >= since:
                window.add(row.row_id, VitalSample(as_vital(row.vital), row.value, row.time))
        window.prune(since)
        return window

    async def _trend_updates(
        self,
        person: Person,
        tracker: AlertTracker,
        now: datetime,
        stored: Iterable[StoredMeasurement] = (),
        pending: bool = False,
    ) -> list[tuple[AlertUpdate, Finding | None]]:
        # Rows not stored yet (pending) are seen, not kept: their row ids come with the commit.
        window = await self._async_window(person, now, () if pending else stored)
        findings = window.assess(
            now,
            thresholds=self.thresholds.get(person.person_id, DEFAULT_THRESHOLDS),
            pending=[
                VitalSample(as_vital(r.vital), r.value, r.time)
                for r in (stored if pending else ())
                if r.time >= now - TREND_WINDOW
            ],
        )
        # Informational trends (e.g. a 7-day mean in the stage-1 range) feed the health
        # knowledge notes, not alarms.
        self.trend_notes[person.person_id] = [f for f in findings if f.level == Level.INFO]
        findings = [f for f in findings if f.level > Level.INFO]
        updates: list[tuple[AlertUpdate, Finding | None]] = []
        found = {f.code for f in findings}
        for finding in findings:
            updates.append(
                (tracker.observe(finding.code, finding.level, finding.value, now), finding)
            )
        for code in list(tracker.alerts):
            alert = self._open_by_code(person.person_id, code)
            if alert is not None and alert.kind == FindingKind.TREND and code not in found:
                updates.append((tracker.resolve(code, now), None))
        return updates

    async def async_check_stale(self, now: datetime | None = None) -> None:
        """Raise or clear "measurement overdue" alerts on each person's schedule."""
        now = now or dt_util.utcnow()
        for person in self.household.people.values():
            if not person.schedule:
                continue
            last_seen: dict[str, datetime | None] = {}
            for group, vitals in MEASUREMENT_GROUPS.items():
                times = [t for vital, t in person.last_seen.items() if vital in vitals]
                last_seen[group] = max(times) if times else None
            findings = assess_stale(last_seen, person.schedule, now)
            tracker = self.trackers.setdefault(person.person_id, AlertTracker())
            updates = [
                (tracker.observe(f.code, f.level, f.value, now), f)
                for f in findings
                if f.level > Level.INFO
            ]
            await self._apply(person, tracker, updates)

    # Lifecycle -----------------------------------------------------------------------

    async def _apply(
        self,
        person: Person,
        tracker: AlertTracker,
        updates: Sequence[tuple[AlertUpdate, Finding | None]],
    ) -> None:
        events = await self._async_stage(person, updates)
        if not events:
            return
        await self._async_save(person.person_id, tracker, [a for a, _ in events])
        await self._async_announce(person, events)

    async def _async_stage(
        self, person: Person, updates: Sequence[tuple[AlertUpdate, Finding | None]]
    ) -> list[tuple[Alert, str]]:
        """Apply tracker updates to the alerts in memory; return (alert, action) to save."""
        events: list[tuple[Alert, str]] = []
        now = dt_util.utcnow().isoformat()
        for update, finding in updates:
            if update.alert is None:
                continue
            code = update.alert.code
            alert = self._open_by_code(person.person_id, code)
            if update.action is AlertAction.OPENED and finding is not None:
                alert = self._new_alert(person, finding, update)
                events.append((alert, "opened"))
            elif update.action is AlertAction.ESCALATED and alert is not None and finding:
                self._refresh(alert, finding, update, now)
                # A worse value needs people's attention again, even if acknowledged.
                alert.status = STATUS_OPEN
                self._cancel_snooze(alert.alert_id)
                events.append((alert, "escalated"))
            elif update.action is AlertAction.KEPT and alert is not None:
                before = alert.severity
                if finding is not None:
                    self._refresh(alert, finding, update, now)
                alert.updated_at = now
                # Every new reading updates the stored text (dashboard); a change of
                # severity (e.g. critical -> warning) is also announced as "updated".
                events.append((alert, "updated" if alert.severity != before else ""))
            elif update.action is AlertAction.RESOLVED and alert is not None:
                self._resolve(alert, now)
                events.append((alert, "resolved"))
        for alert, _action in events:
            await self._async_render(alert)
        return events

    async def _async_announce(
        self,
        person: Person,
        events: list[tuple[Alert, str]],
        fired: bool = False,
        context: Context | None = None,
    ) -> None:
        """Saved alert changes: forget resolved ones, fire the events (unless ``fired``)."""
        for alert, action in events:
            if not alert.active:
                self.alerts.pop(alert.alert_id, None)
            if action and not fired:
                await self._async_fire(alert, action)
        async_dispatcher_send(
            self.hass, SIGNAL_ALERTS_UPDATED.format(person.person_id), None, context
        )

    def _new_alert(self, person: Person, finding: Finding, update: AlertUpdate) -> Alert:
        now = dt_util.utcnow().isoformat()
        when = finding.time.isoformat() if finding.time else now
        alert = Alert(
            alert_id=uuid.uuid4().hex,
            person_id=person.person_id,
            person=person.alias,
            # The tracker's code: NEWS2 bands share one alert ("news2") that escalates.
            code=update.alert.code if update.alert else finding.code,
            kind=str(finding.kind),
            # The severity of this reading, so the text names the limit it reached.
            severity=str(finding.level),
            peak_severity=str(update.alert.level if update.alert else finding.level),
            vital=None if finding.vital is None else str(finding.vital),
            value=finding.value,
            unit=finding.unit,
            threshold=finding.threshold,
            message=finding.message,
            clinical_message=finding.message,
            placeholders=dict(finding.placeholders),
            translation_key=translation_key_for(
                str(finding.kind), finding.code, finding.placeholders
            ),
            time=when,
            opened_at=now,
            updated_at=now,
        )
        self.alerts[alert.alert_id] = alert
        return alert

    @staticmethod
    def _refresh(alert: Alert, finding: Finding, update: AlertUpdate, now: str) -> None:
        assert update.alert is not None
        # Severity follows the latest reading (the text names its limit); the peak is kept.
        alert.severity = str(finding.level)
        alert.peak_severity = str(update.alert.level)
        alert.value = finding.value
        alert.threshold = finding.threshold
        alert.message = finding.message
        alert.clinical_message = finding.message
        alert.placeholders = dict(finding.placeholders)
        alert.translation_key = translation_key_for(
            str(finding.kind), finding.code, finding.placeholders
        )
        alert.time = finding.time.isoformat() if finding.time else now
        alert.updated_at = now

    def _resolve(self, alert: Alert, now: str, by: str | None = None) -> None:
        alert.status = STATUS_RESOLVED
        alert.resolved_at = now
        alert.updated_at = now
        if by is not None:
            alert.acknowledged_by = alert.acknowledged_by or by
        self._cancel_snooze(alert.alert_id)

    async def _async_save(self, person_id: str, tracker: AlertTracker, alerts: list[Alert]) -> None:
        state = tracker.to_dict()

        rows = [(a.alert_id, a.status, a.as_record()) for a in alerts]
        # One transaction: an alert the tracker forgets is on disk with the tracker's state.
        await self.household.record.put_alerts_and_setting(person_id, rows, SETTING_TRACKER, state)

    async def _async_render(self, alert: Alert) -> None:
        """Render the family's texts in every shipped language from the translation key."""
        system = supported_language(self.hass.config.language)
        messages: dict[str, str] = {}
        titles: dict[str, str] = {}
        for language in LANGUAGES:
            texts = await async_common_texts(self.hass, language)
            titles[language] = render_title(texts, person=alert.person, severity=alert.severity)
            if alert.translation_key is None:
                continue  # stored before texts were translated: keep its English text
            text = render(
                texts,
                translation_key=alert.translation_key,
                placeholders=alert.placeholders,
                severity=alert.severity,
                vital=alert.vital,
            )
            if text is not None:
                messages[language] = text
        if alert.clinical_message is None:
            alert.clinical_message = alert.message
        alert.messages = messages
        alert.titles = titles
        alert.language = system
        alert.message = messages.get(system) or messages.get("en") or alert.clinical_message

    async def _async_fire(self, alert: Alert, action: str, context: Context | None = None) -> None:
        self._fire(alert, action, await async_device_languages(self.hass), context)

    def _fire(
        self,
        alert: Alert,
        action: str,
        languages: Mapping[str, str],
        context: Context | None = None,
    ) -> None:
        self.hass.bus.async_fire(
            EVENT_ALERT, alert.payload(action, dict(languages)), context=context
        )
        for listener in list(self._listeners):
            listener(alert, action, context)

    @callback
    def async_add_listener(
        self, listener: Callable[[Alert, str, Context | None], None]
    ) -> CALLBACK_TYPE:
        """Be told of every alert change, with the reading's context if a reading caused it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def async_set_thresholds(
        self, person: Person, overrides: dict[str, dict[str, float | None]]
    ) -> Thresholds:
        """Personalise a person's limits (validated; ValueError names the bad field)."""
        thresholds = DEFAULT_THRESHOLDS.with_overrides(overrides)
        await self.household.record.put_setting(person.person_id, SETTING_THRESHOLDS, overrides)
        self.thresholds[person.person_id] = thresholds
        return thresholds

    def get(self, alert_id: str) -> Alert:
        """An unresolved alert by id; KeyError if unknown or resolved."""
        return self.alerts[alert_id]

    async def async_acknowledge(
        self, alert_id: str, by: str, context: Context | None = None
    ) -> Alert:
        """Someone is on it: stop escalation. Resolution still needs a normal value.

        ``context`` (of the service call or the phone's action) goes with the event and the
        states the change updates, as a reading's does.
        """
        async with self._person_lock(self.get(alert_id).person_id):
            alert = self.get(alert_id)
            if alert.status == STATUS_ACKNOWLEDGED:
                return alert
            now = dt_util.utcnow().isoformat()
            alert.status = STATUS_ACKNOWLEDGED
            alert.acknowledged_by = by
            alert.acknowledged_at = now
            alert.snoozed_until = None
            alert.updated_at = now
            self._cancel_snooze(alert_id)
            await self._async_store(alert)
            await self._async_fire(alert, "acknowledged", context)
            async_dispatcher_send(
                self.hass, SIGNAL_ALERTS_UPDATED.format(alert.person_id), None, context
            )
            return alert

    async def async_snooze(
        self, alert_id: str, minutes: int, by: str, context: Context | None = None
    ) -> Alert:
        """Quiet an alert for a while; it opens again if still unresolved then."""
        async with self._person_lock(self.get(alert_id).person_id):
            alert = self.get(alert_id)
            now = dt_util.utcnow()
            alert.status = STATUS_SNOOZED
            alert.acknowledged_by = by
            alert.snoozed_until = (now + timedelta(minutes=minutes)).isoformat()
            alert.updated_at = now.isoformat()
            await self._async_store(alert)
            self._schedule_snooze_end(alert)
            await self._async_fire(alert, "snoozed", context)
            async_dispatcher_send(
                self.hass, SIGNAL_ALERTS_UPDATED.format(alert.person_id), None, context
            )
            return alert

    async def async_resolve(self, alert_id: str, by: str, context: Context | None = None) -> Alert:
        """Close an alert by hand (e.g. a clinician has seen the person)."""
        async with self._person_lock(self.get(alert_id).person_id):
            alert = self.get(alert_id)
            now = dt_util.utcnow()
            tracker = self.trackers.setdefault(alert.person_id, AlertTracker())
            tracker.resolve(alert.code, now)
            self._resolve(alert, now.isoformat(), by)
            await self._async_save(alert.person_id, tracker, [alert])
            self.alerts.pop(alert_id, None)
            await self._async_fire(alert, "resolved", context)
            async_dispatcher_send(
                self.hass, SIGNAL_ALERTS_UPDATED.format(alert.person_id), None, context
            )
            return alert

    async def _async_store(self, alert: Alert) -> None:
        await self.household.record.put_alert(
            alert.alert_id,
            alert.person_id,
            alert.status,
            alert.as_record(),
        )

    def _schedule_snooze_end(self, alert: Alert) -> None:
        self._cancel_snooze(alert.alert_id)
        assert alert.snoozed_until is not None
        until = datetime.fromisoformat(alert.snoozed_until)

        async def _end(_now: datetime) -> None:
            self._snooze_timers.pop(alert.alert_id, None)
            async with self._person_lock(alert.person_id):
                current = self.alerts.get(alert.alert_id)
                if current is None or current.status != STATUS_SNOOZED:
                    return
                current.status = STATUS_OPEN
                current.snoozed_until = None
                current.updated_at = dt_util.utcnow().isoformat()
                await self._async_store(current)
                await self._async_fire(current, "reopened")
                async_dispatcher_send(self.hass, SIGNAL_ALERTS_UPDATED.format(current.person_id))

        self._snooze_timers[alert.alert_id] = async_track_point_in_utc_time(self.hass, _end, until)

    def _cancel_snooze(self, alert_id: str) -> None:
        if (cancel := self._snooze_timers.pop(alert_id, None)) is not None:
            cancel()
