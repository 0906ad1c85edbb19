"""Store-and-forward delivery to a clinic's FHIR server (no Home Assistant import).

Notes: docs/modules.md (core/outbox.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
import json
import logging
from pathlib import Path
import random
import re
from typing import Any, Final, Protocol

import aiohttp

from ..const import (
    CONF_BIRTH_DATE,
    CONF_ID_NUMBER,
    CONF_SEX,
    SCOPE_ALERTS,
    SCOPE_DAILY_SUMMARY,
    SCOPE_MEDICATION,
    SCOPE_VITAL_SIGNS,
)
from . import fhir
from .clinical.vitals import Vital, VitalSample
from .fhir_report import document_entry, visit_report_document
from .security import pseudonym, write_private
from .store.record_store import OutboxItem, RecordStore, StoredMeasurement

_LOGGER = logging.getLogger(__name__)

KIND_ALERT: Final = "alert"
KIND_SUMMARY: Final = "summary"
KIND_MEDICATION: Final = "medication"
KIND_ERASURE: Final = "erasure"
KIND_REPORT: Final = "visit_report"  # a visit report as a document (medical/fhir_report.py)
# The consent scope each kind of item needs (an erasure needs none: it withdraws data).
KIND_SCOPES: Final[Mapping[str, str | None]] = {
    "readings": SCOPE_VITAL_SIGNS,
    KIND_ALERT: SCOPE_ALERTS,
    KIND_SUMMARY: SCOPE_DAILY_SUMMARY,
    KIND_MEDICATION: SCOPE_MEDICATION,
    KIND_ERASURE: None,
    KIND_REPORT: SCOPE_DAILY_SUMMARY,
}

LANE_ITEMS: Final = "items"
LANE_READINGS: Final = "readings"

MAX_READINGS_PER_BUNDLE: Final = 100
MAX_ITEMS_PER_BUNDLE: Final = 50
# A daily summary carries its day's Observations (conditional creates) up to this many.
MAX_SUMMARY_OBSERVATIONS: Final = 200
# The clinic's summary request returns at most this many recent readings.
MAX_PULL_READINGS: Final = 1000
SEND_TIMEOUT: Final = 60.0
BACKOFF_BASE: Final = 10.0
BACKOFF_CAP: Final = 3600.0
MAX_DIAGNOSTICS: Final = 500
FHIR_JSON: Final = "application/fhir+json"
GATEWAY_NAME: Final = "Smart Care home gateway"

REASON_TRANSIENT: Final = "transient"  # unreachable, timeout, 5xx, 408/409/412/429
REASON_AUTH: Final = "auth"  # 401/403: the token needs renewing
REASON_TOO_LARGE: Final = "too_large"  # 413, or a 400/422 saying the bundle is too big
REASON_REJECTED: Final = "rejected"  # any other 4xx: the server refuses the content

# Adaptive transactions (``Sender``): entries per bundle until a server says less.
DEFAULT_MAX_ENTRIES: Final = 120
# Reading bundles in flight at once (their readings are independent of each other).
MAX_IN_FLIGHT: Final = 4
# A learned limit is probed upward again after this long without a size refusal.
PROBE_INTERVAL: Final = timedelta(hours=6)
# A server refusing transactions this small for their size gets readings as FHIR batches.
BATCH_BELOW: Final = 16
DEFAULT_BATCH_ENTRIES: Final = 100
KIND_READINGS: Final = "readings"  # a quarantined reading sent again (row ids)
# What servers say when a transaction is too big, costly or long (not its content):
# Medplum "Transaction requires strict isolation but has too many entries" / "...more
# update operations than allowed", HAPI "exceeds the maximum", cloud services "too large".
_TOO_LARGE_TEXT = re.compile(
    r"too many (entries|resources|operations)|too (large|big|costly|long)|strict isolation"
    r"|more .{0,40} than allowed|exceeds? (the )?(maximum|max|limit)|entity too large",
    re.IGNORECASE,
)
_TOO_LARGE_CODES = frozenset({"too-costly", "too-long"})

type FhirResource = dict[str, Any]


# =========================================================================== link


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """What the outbox needs to know about one clinic link."""

    link_id: str
    scopes: frozenset[str]
    identified: bool
    pseudonym_key: bytes
    start_row: int = 0
    gateway_name: str = GATEWAY_NAME
    gateway_version: str = "0"


@dataclass(frozen=True, slots=True)
class Batch:
    """One transaction bundle's worth of pending data, and how to acknowledge it."""

    lane: str
    first: int  # first log row id or outbox seq: orders the folder transport's files
    bundle: FhirResource | None  # None: nothing sendable, acknowledge without sending
    readings: int = 0  # log rows covered
    items: int = 0  # outbox items covered
    cursor: int | None = None  # readings: the cursor after acknowledgement
    seqs: tuple[int, ...] = ()  # items: the outbox rows to delete after acknowledgement
    units: tuple[Unit, ...] = ()  # what it is made of (``Sender`` splits refused bundles)
    entries: int = 0  # transaction entries
    type: str = "transaction"  # or "batch": independent conditional creates (readings)
    owners: tuple[int, ...] = ()  # batch: the unit (index) of each entry, -1 the gateway
    identities: frozenset[str] = frozenset()  # batch: fullUrls it references by server id

    @property
    def name(self) -> str:
        """Stable file name: the same batch re-sent overwrites its own file."""
        digest = "empty"
        if self.bundle is not None:
            ident = self.bundle.get("identifier") or {"value": self.type}
            digest = str(ident["value"]).removeprefix("urn:uuid:")
        return f"{self.lane}-{self.first:012d}-{digest}.json"


@dataclass(frozen=True, slots=True)
class Unit:
    """What a server can refuse on its own: one reading (its log rows) or one outbox item.

    Its FHIR pieces are kept so a refused bundle can be split without reading the record
    again; ``label`` names it for a person (time, vital, device kind; never who).
    """

    kind: str  # KIND_READINGS or the item kind
    key: str  # reading id or item key
    person_id: str | None
    payload: Mapping[str, Any]  # what quarantine keeps to send it again
    rows: tuple[int, ...] = ()  # log row ids (readings)
    seqs: tuple[int, ...] = ()  # outbox rows acknowledged with it (items)
    creates: Mapping[str, FhirResource] = field(default_factory=dict)
    people: frozenset[str] = frozenset()
    entries: tuple[Mapping[str, Any], ...] = ()
    label: Mapping[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing to send (not expressible, or consent withdrawn): acknowledged unsent."""
        return not self.creates and not self.entries


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Seconds to wait after the ``attempt``-th failure in a row: exponential, jittered.

    "Equal jitter": half of the exponential step is fixed, half random, so a household's
    gateways that failed together do not retry together, and the wait never collapses
    to zero. Capped at ``BACKOFF_CAP``.
    """
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * float(2 ** min(max(attempt, 1) - 1, 30)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


# =========================================================================== outbox


class Outbox:
    """Pending data of one clinic link and its FHIR bundles. Blocking: run in an executor."""

    def __init__(
        self,
        store: RecordStore,
        link: LinkProfile,
        tz: tzinfo,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """Deliver ``store``'s data for ``link``; ``aliases`` name people when identified."""
        self.store = store
        self.link = link
        self.tz = tz
        self.aliases = dict(aliases or {})
        self._pseudonyms: dict[str, str] = {}
        self._patient_refs: dict[str, str] = {}
        self._gateway = fhir.gateway_device_resource(
            "gw-" + pseudonym(link.pseudonym_key, "gateway:", link.link_id)[3:],
            link.gateway_name,
            link.gateway_version,
        )
        self.gateway_ref = fhir.full_url(self._gateway)

    # Identities --------------------------------------------------------------------------

    def pseudonym(self, person_id: str) -> str:
        """The person's pseudonym for this link (what the clinic knows them by)."""
        if (known := self._pseudonyms.get(person_id)) is None:
            known = pseudonym(self.link.pseudonym_key, person_id, self.link.link_id)
            self._pseudonyms[person_id] = known
        return known

    def device_key(self, address: str) -> str:
        """A measuring device's identifier for this link: keyed, not its Bluetooth address."""
        return (
            "dev-" + pseudonym(self.link.pseudonym_key, f"device:{address}", self.link.link_id)[3:]
        )

    def patient_ref(self, person_id: str) -> str:
        """The fullUrl every resource of this person references."""
        if (known := self._patient_refs.get(person_id)) is None:
            known = fhir.full_url_for(fhir.PSEUDONYM_SYSTEM, self.pseudonym(person_id))
            self._patient_refs[person_id] = known
        return known

    def identity(self, person_id: str) -> dict[str, str]:
        """The identity fields FHIR can carry for identified sharing (alias as the name)."""
        profile = self.store.get_profile(person_id) or {}
        candidates: dict[str, str] = {}
        if alias := self.aliases.get(person_id, "").strip():
            candidates["name"] = alias
        for key in (CONF_BIRTH_DATE, CONF_SEX, CONF_ID_NUMBER):
            value = profile.get(key)
            if isinstance(value, str) and value.strip():
                candidates[key] = value.strip()
        accepted: dict[str, str] = {}
        for key, value in candidates.items():
            try:
                fhir.patient_resource("sc-check", identified={key: value})
            except ValueError:
                _LOGGER.warning("A %s in a person's record cannot be sent in FHIR; left out", key)
                continue
            accepted[key] = value
        return accepted

    def patient(self, person_id: str, identified: bool | None = None) -> FhirResource:
        """The person's Patient: pseudonymous, or identified when the link allows it."""
        if identified is None:
            identified = self.link.identified
        fields = self.identity(person_id) if identified else None
        return fhir.patient_resource(self.pseudonym(person_id), identified=fields or None)

    def _device(
        self, source: str, details: Mapping[str, Any]
    ) -> tuple[str, str, FhirResource | None]:
        """(device_ref, device_key, Device or None) of a log row's source."""
        if source.startswith("device:"):
            key = self.device_key(source.removeprefix("device:"))
            kind = details.get("kind")
            device = fhir.medical_device_resource(
                key,
                manufacturer=None,
                model=None,
                serial=None,
                kind=kind if isinstance(kind, str) and kind.strip() else "health device",
                gateway_ref=self.gateway_ref,
            )
            return fhir.full_url(device), key, device
        # Manual entry and other Home Assistant sensors: the gateway is the device.
        return self.gateway_ref, str(self._gateway["identifier"][0]["value"]), None

    def reading_resources(
        self, rows: Sequence[StoredMeasurement]
    ) -> tuple[dict[str, FhirResource], set[str]]:
        """Devices and Observations (by fullUrl) for log rows, and the people they concern.

        The values of one reading (same reading id) become one call of
        ``observations_for_samples``, so systolic and diastolic form one BP panel. A reading
        FHIR cannot express is logged (row id only) and left out: it stays in the record.
        """
        groups: dict[tuple[str, str, str], list[StoredMeasurement]] = {}
        for row in rows:
            groups.setdefault((row.reading_id, row.person_id, row.source), []).append(row)
        resources: dict[str, FhirResource] = {}
        people: set[str] = set()
        for (_, person_id, source), group in groups.items():
            details = group[0].details
            flags = details.get("status_flags") or []
            try:
                device_ref, device_key, device = self._device(source, details)
                observations = fhir.observations_for_samples(
                    [VitalSample(Vital(r.vital), r.value, r.time) for r in group],
                    patient_ref=self.patient_ref(person_id),
                    device_ref=device_ref,
                    person_pseudonym=self.pseudonym(person_id),
                    device_key=device_key,
                    effective=group[0].time,
                    status_flags=[f for f in flags if isinstance(f, str)],
                    gateway_ref=self.gateway_ref,
                )
            except ValueError as err:
                _LOGGER.warning(
                    "Log row %s cannot be expressed in FHIR and is not sent (%s)",
                    group[0].row_id,
                    type(err).__name__,
                )
                continue
            if device is not None:
                resources.setdefault(fhir.full_url(device), device)
            for observation in observations:
                resources.setdefault(fhir.full_url(observation), observation)
            people.add(person_id)
        return resources, people

    def _bundle(
        self, creates: Mapping[str, FhirResource], people: Iterable[str], entries: list[Any]
    ) -> FhirResource | None:
        patients = [fhir.conditional_update_entry(self.patient(pid)) for pid in sorted(people)]
        if not creates and not entries:
            return None
        resources = {self.gateway_ref: self._gateway, **creates} if creates or patients else {}
        return fhir.transaction_bundle(list(resources.items()), entries=[*patients, *entries])

    # Lanes -------------------------------------------------------------------------------

    def cursor(self) -> int:
        """The last log row delivered (or the row the link started after)."""
        stored = self.store.clinic_cursor(self.link.link_id)
        return self.link.start_row if stored is None else stored

    def next_batch(self, max_readings: int = MAX_READINGS_PER_BUNDLE) -> Batch | None:
        """The next bundle to send: waiting items first (alerts are urgent), then readings.

        The simple path (``deliver_next``: one bundle, at most ``max_readings`` values);
        the bridge itself plans by entries with ``next_batches`` (``Sender``).
        """
        return self._item_batch() or self._reading_batch(max_readings)

    def _reading_batch(self, limit: int) -> Batch | None:
        cursor = self.cursor()
        if SCOPE_VITAL_SIGNS not in self.link.scopes:
            # Consent is prospective: readings taken while it was not given are never sent.
            head = self.store.max_measurement_id()
            if head > cursor:
                self.store.clinic_ack(self.link.link_id, cursor=head)
            return None
        rows = self.store.measurements_after(cursor, limit)
        if not rows:
            return None
        creates, people = self.reading_resources(rows)
        self.store.clinic_note_people(self.link.link_id, people)
        return Batch(
            lane=LANE_READINGS,
            first=rows[0].row_id,
            bundle=self._bundle(creates, people, []),
            readings=len(rows),
            cursor=max(r.row_id for r in rows),
        )

    def _item_batch(self) -> Batch | None:
        items = self.store.clinic_items(self.link.link_id, MAX_ITEMS_PER_BUNDLE)
        if not items:
            return None
        # An erasure travels alone: a server applies a transaction's DELETEs before its
        # writes, so sharing a bundle would reorder them.
        chosen: list[OutboxItem] = []
        for item in items:
            if chosen and (item.kind == KIND_ERASURE or chosen[0].kind == KIND_ERASURE):
                break
            chosen.append(item)
        latest: dict[tuple[str, str], OutboxItem] = {}
        for item in chosen:
            if item.kind not in KIND_SCOPES:
                _LOGGER.warning("Unknown clinic outbox item kind %s dropped", item.kind)
                continue
            scope = KIND_SCOPES[item.kind]
            if scope is not None and scope not in self.link.scopes:
                continue  # consent withdrawn since it was queued: acknowledged unsent
            # Several changes of one alert (or summary, or dose) in a row: the last wins.
            latest.pop((item.kind, item.key), None)
            latest[(item.kind, item.key)] = item
        creates: dict[str, FhirResource] = {}
        people: set[str] = set()
        entries: list[Any] = []
        for item in latest.values():
            try:
                self._add_item(item, creates, people, entries)
            except (ValueError, KeyError, TypeError) as err:
                _LOGGER.warning(
                    "Clinic outbox item %s (%s) cannot be expressed in FHIR and is dropped (%s)",
                    item.seq,
                    item.kind,
                    type(err).__name__,
                )
        self.store.clinic_note_people(self.link.link_id, people)
        return Batch(
            lane=LANE_ITEMS,
            first=chosen[0].seq,
            bundle=self._bundle(creates, people, entries),
            items=len(chosen),
            seqs=tuple(item.seq for item in chosen),
        )

    def _add_item(
        self,
        item: OutboxItem,
        creates: dict[str, FhirResource],
        people: set[str],
        entries: list[Any],
        *,
        ride: bool = True,
    ) -> None:
        payload = item.payload
        if item.kind == KIND_READINGS:
            rows = self.store.measurements_by_ids([int(r) for r in payload.get("row_ids", [])])
            found, found_people = self.reading_resources(rows)
            for url, resource in found.items():
                creates.setdefault(url, resource)
            people |= found_people
            return
        if item.kind == KIND_ERASURE:
            entries.extend(fhir.erasure_requests(str(payload["pseudonym"])))
            return
        person_id = str(payload["person_id"])
        if item.kind == KIND_ALERT:
            resource = fhir.alert_resource(
                alert_fields(payload),
                patient_ref=self.patient_ref(person_id),
                observation_refs=(),
                author_ref=self.gateway_ref,
            )
            entries.append(fhir.alert_request(resource))
            creates.setdefault(self.gateway_ref, self._gateway)
        elif item.kind == KIND_SUMMARY:
            entries.append(
                self._summary_entry(
                    person_id, date.fromisoformat(payload["day"]), creates, ride=ride
                )
            )
        elif item.kind == KIND_REPORT:
            entries.append(self._report_entry(person_id, payload))
        else:  # KIND_MEDICATION
            resource = fhir.medication_statement(
                person_pseudonym=self.pseudonym(person_id),
                patient_ref=self.patient_ref(person_id),
                medication=str(payload["medication"]),
                answer=str(payload["answer"]),
                scheduled=datetime.fromisoformat(payload["scheduled"]),
                answered=_optional_time(payload.get("answered")),
                dosage=payload.get("dosage"),
                reason=payload.get("reason"),
            )
            entries.append(fhir.conditional_update_entry(resource))
        people.add(person_id)

    def _report_entry(self, person_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        # The Observations each section rests on, built as readings are; inside the document.
        # Consent per kind still holds inside the report: no readings, alerts or medication
        # a link was not given on their own.
        report = dict(payload["report"])
        scopes = self.link.scopes
        if SCOPE_ALERTS not in scopes:
            report["alerts"] = {"items": []}
        if SCOPE_MEDICATION not in scopes:
            report["medication"] = []
        sections = {
            name: self.reading_resources(self.store.measurements_by_ids(ids))[0]
            for name, ids in report.get("rests_on", {}).items()
            if SCOPE_VITAL_SIGNS in scopes
        }
        document = visit_report_document(
            report,
            person_pseudonym=self.pseudonym(person_id),
            patient=self.patient(person_id),
            author=self._gateway,
            section_resources=sections,
        )
        return document_entry(document)

    def _summary_entry(
        self, person_id: str, day: date, creates: dict[str, FhirResource], *, ride: bool = True
    ) -> dict[str, Any]:
        start = datetime.combine(day, time.min, tzinfo=self.tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.tz)
        rows = [r for r in self.store.history(person_id, since=start) if r.time < end]
        refs: list[str] = []
        if ride and SCOPE_VITAL_SIGNS in self.link.scopes and len(rows) <= MAX_SUMMARY_OBSERVATIONS:
            # The day's readings ride along (conditional creates: already there -> 200),
            # so derivedFrom resolves on the server.
            day_resources, _ = self.reading_resources(rows)
            for url, resource in day_resources.items():
                creates.setdefault(url, resource)
                if resource["resourceType"] == "Observation":
                    refs.append(url)
        summary = fhir.daily_summary(
            [VitalSample(Vital(r.vital), r.value, r.time) for r in rows],
            day=day,
            tz=self.tz,
            person_pseudonym=self.pseudonym(person_id),
            patient_ref=self.patient_ref(person_id),
            observation_refs=refs,
        )
        return fhir.conditional_update_entry(summary)

    # Packing under an entry limit (``Sender``) -------------------------------------------

    def _reading_units(self, rows: Sequence[StoredMeasurement]) -> list[Unit]:
        groups: dict[tuple[str, str, str], list[StoredMeasurement]] = {}
        for row in rows:
            groups.setdefault((row.reading_id, row.person_id, row.source), []).append(row)
        units: list[Unit] = []
        for (reading_id, person_id, source), group in groups.items():
            creates, people = self.reading_resources(group)
            kind = group[0].details.get("kind")
            units.append(
                Unit(
                    kind=KIND_READINGS,
                    key=reading_id,
                    person_id=person_id,
                    payload={"row_ids": [r.row_id for r in group]},
                    rows=tuple(r.row_id for r in group),
                    creates=creates,
                    people=frozenset(people),
                    label={
                        "time": group[0].time.astimezone(self.tz).strftime("%Y-%m-%d %H:%M"),
                        "what": ", ".join(sorted({r.vital for r in group})),
                        "device": (
                            str(kind)
                            if source.startswith("device:") and isinstance(kind, str)
                            else "manual entry"
                            if source == "manual"
                            else source.split(":", 1)[0]
                        ),
                    },
                )
            )
        return units

    def _entry_count(self, units: Iterable[Unit]) -> int:
        urls: set[str] = set()
        people: set[str] = set()
        entries = 0
        for unit in units:
            urls.update(unit.creates)
            people |= unit.people
            entries += len(unit.entries)
        if urls or people:
            urls.add(self.gateway_ref)
        return len(urls) + len(people) + entries

    def pack(self, units: Sequence[Unit], max_entries: int) -> tuple[list[Unit], list[Unit]]:
        """As many leading units as fit in ``max_entries`` (at least one), and the rest."""
        taken: list[Unit] = []
        urls: set[str] = set()
        people: set[str] = set()
        entries = 0
        for n, unit in enumerate(units):
            new_urls = urls | set(unit.creates)
            new_people = people | unit.people
            new_entries = entries + len(unit.entries)
            count = len(new_urls) + len(new_people) + new_entries
            if (new_urls or new_people) and self.gateway_ref not in new_urls:
                count += 1
            if taken and count > max_entries:
                return taken, list(units[n:])
            taken.append(unit)
            urls, people, entries = new_urls, new_people, new_entries
        return taken, []

    def batch_of(self, lane: str, units: Sequence[Unit], cursor: int | None = None) -> Batch:
        """One transaction bundle of ``units`` (also: part of a refused bundle)."""
        creates: dict[str, FhirResource] = {}
        people: set[str] = set()
        entries: list[Any] = []
        for unit in units:
            for url, resource in unit.creates.items():
                creates.setdefault(url, resource)
            people |= unit.people
            entries.extend(unit.entries)
        rows = [row for unit in units for row in unit.rows]
        seqs = tuple(seq for unit in units for seq in unit.seqs)
        if lane == LANE_READINGS and cursor is None:
            cursor = max(rows) if rows else None
        first = min(rows or seqs or (0,))
        return Batch(
            lane=lane,
            first=first,
            bundle=self._bundle(creates, people, entries),
            readings=len(rows) if lane == LANE_READINGS else 0,
            items=len(seqs),
            cursor=cursor if lane == LANE_READINGS else None,
            seqs=seqs,
            units=tuple(units),
            entries=self._entry_count(units),
        )

    def next_batches(
        self, max_entries: int, count: int = 1, after: int | None = None
    ) -> list[Batch]:
        """The next bundles of at most ``max_entries`` entries each.

        Waiting items first, one bundle at a time (alerts are urgent, and the changes of
        one alert must stay in order); otherwise up to ``count`` consecutive reading
        bundles, which may travel at once: each is acknowledged only after every bundle
        before it was. ``after``: plan the readings that follow that row (the next round,
        planned while the current one travels); None when items wait.
        """
        items = self._item_units(max_entries)
        if items is not None:
            if after is not None:
                return []
            chosen, _ = self.pack(items, max_entries)
            return [self.batch_of(LANE_ITEMS, chosen)]
        cursor = self.cursor() if after is None else after
        if SCOPE_VITAL_SIGNS not in self.link.scopes:
            head = self.store.max_measurement_id()
            if head > cursor:
                self.store.clinic_ack(self.link.link_id, cursor=head)
            return []
        rows = self.store.measurements_after(cursor, max_entries * count)
        if not rows:
            return []
        units = self._reading_units(rows)
        self.store.clinic_note_people(self.link.link_id, {p for unit in units for p in unit.people})
        batches: list[Batch] = []
        rest: list[Unit] = units
        while rest and len(batches) < count:
            chosen, rest = self.pack(rest, max_entries)
            # The last bundle of what was read covers every row read (unsendable ones too).
            last = rows[-1].row_id if not rest else None
            batches.append(self.batch_of(LANE_READINGS, chosen, last))
        return batches

    # Readings as FHIR ``batch`` bundles (``Sender``, under a small transaction cap) -------

    def next_reading_batches(
        self, max_entries: int, count: int, refs: Mapping[str, str], after: int | None = None
    ) -> list[Batch] | None:
        """Up to ``count`` consecutive ``batch`` bundles of readings (None: items wait).

        A server that runs conditional transactions serialisably caps them (Medplum: 8
        entries), but its ``batch`` has no such cap: each entry is its own conditional
        create. So readings travel as batches of Observations (``ifNoneExist``: a re-send
        never duplicates) that reference the Patient and Devices by the server ids in
        ``refs``, which the ``Sender`` resolves first with a small transaction
        (``identity_batch``). Every batch also carries our gateway Device as a conditional
        create: the server answering 201 for it means it lost what it had (a reset).
        """
        if self.store.clinic_item_count(self.link.link_id):
            return None if after is None else []  # alerts first: plan again after them
        cursor = self.cursor() if after is None else after
        if SCOPE_VITAL_SIGNS not in self.link.scopes:
            return None if after is None else []  # the transaction path skips them
        rows = self.store.measurements_after(cursor, max_entries * count)
        if not rows:
            return []
        units = self._reading_units(rows)
        self.store.clinic_note_people(self.link.link_id, {p for unit in units for p in unit.people})
        batches: list[Batch] = []
        rest: list[Unit] = units
        while rest and len(batches) < count:
            taken: list[Unit] = []
            entries = 1  # the gateway
            while rest:
                size = sum(1 for r in rest[0].creates.values() if r["resourceType"] != "Device")
                if taken and entries + size > max_entries:
                    break
                taken.append(rest.pop(0))
                entries += size
            last = rows[-1].row_id if not rest else None
            batches.append(self.reading_batch(taken, refs, last))
        return batches

    def reading_batch(
        self, units: Sequence[Unit], refs: Mapping[str, str], cursor: int | None = None
    ) -> Batch:
        """One ``batch`` bundle of ``units``' Observations, references resolved by ``refs``."""
        identities: set[str] = {self.gateway_ref}
        entries: list[dict[str, Any]] = [_create_entry(self._gateway)]
        owners: list[int] = [-1]
        for index, unit in enumerate(units):
            identities |= {self.patient_ref(p) for p in unit.people}
            for url, resource in unit.creates.items():
                if resource["resourceType"] == "Device":
                    identities.add(url)
                    continue
                entries.append(_create_entry(_resolve_refs(resource, refs)))
                owners.append(index)
        rows = [row for unit in units for row in unit.rows]
        return Batch(
            lane=LANE_READINGS,
            first=min(rows or (0,)),
            bundle={"resourceType": "Bundle", "type": "batch", "entry": entries},
            readings=len(rows),
            cursor=max(rows) if cursor is None and rows else cursor,
            units=tuple(units),
            entries=len(entries),
            type="batch",
            owners=tuple(owners),
            identities=frozenset(identities),
        )

    def identity_batch(self, urls: Iterable[str], units: Sequence[Unit]) -> Batch:
        """A transaction of the gateway, Patients and Devices at ``urls`` (of ``units``)."""
        wanted = set(urls)
        devices: dict[str, FhirResource] = {}
        people: set[str] = set()
        for unit in units:
            people |= {p for p in unit.people if self.patient_ref(p) in wanted}
            for url, resource in unit.creates.items():
                if url in wanted and resource["resourceType"] == "Device":
                    devices[url] = resource
        creates = {self.gateway_ref: self._gateway, **devices}
        return Batch(
            lane=LANE_ITEMS,
            first=0,
            bundle=self._bundle(creates, people, []),
            entries=len(creates) + len(people),
        )

    def _item_units(self, max_entries: int) -> list[Unit] | None:
        """Units of the waiting outbox items (None when none waits)."""
        items = self.store.clinic_items(self.link.link_id, MAX_ITEMS_PER_BUNDLE)
        if not items:
            return None
        chosen: list[OutboxItem] = []
        for item in items:
            if chosen and (item.kind == KIND_ERASURE or chosen[0].kind == KIND_ERASURE):
                break
            chosen.append(item)
        # Several changes of one alert (or summary, or dose): the last wins and carries
        # the earlier ones' acknowledgement.
        by_key: dict[tuple[str, str], list[OutboxItem]] = {}
        for item in chosen:
            by_key.setdefault((item.kind, item.key), []).append(item)
        units: list[Unit] = []
        people: set[str] = set()
        for (kind, key), same in sorted(by_key.items(), key=lambda kv: kv[1][-1].seq):
            item = same[-1]
            seqs = tuple(i.seq for i in same)
            unit = Unit(
                kind=kind,
                key=key,
                person_id=item.person_id,
                payload=dict(item.payload),
                seqs=seqs,
                label={"time": dt_local(item.created, self.tz), "what": kind, "device": ""},
            )
            scope = KIND_SCOPES.get(kind, "unknown")
            if scope == "unknown":
                _LOGGER.warning("Unknown clinic outbox item kind %s dropped", kind)
            elif scope is None or scope in self.link.scopes:
                unit = self._item_unit(unit, item, max_entries)
            units.append(unit)
            people |= unit.people
        self.store.clinic_note_people(self.link.link_id, people)
        return units

    def _item_unit(self, unit: Unit, item: OutboxItem, max_entries: int) -> Unit:
        creates: dict[str, FhirResource] = {}
        people: set[str] = set()
        entries: list[Any] = []
        label = dict(unit.label)
        try:
            if item.kind == KIND_READINGS:
                rows = self.store.measurements_by_ids(
                    [int(r) for r in item.payload.get("row_ids", [])]
                )
                (reading, *_) = self._reading_units(rows) or [unit]
                return Unit(
                    kind=unit.kind,
                    key=unit.key,
                    person_id=unit.person_id,
                    payload=unit.payload,
                    seqs=unit.seqs,
                    creates=reading.creates,
                    people=reading.people,
                    label=reading.label or label,
                )
            self._add_item(item, creates, people, entries)
            if item.kind == KIND_SUMMARY:
                label["time"] = str(item.payload.get("day", ""))
                size = len(creates) + len(people) + len(entries) + 1
                if size > max_entries:
                    # The day's readings cannot ride along under this server's limit: the
                    # summary goes alone, without derivedFrom links.
                    creates, people, entries = {}, set(), []
                    self._add_item(item, creates, people, entries, ride=False)
        except (ValueError, KeyError, TypeError) as err:
            _LOGGER.warning(
                "Clinic outbox item %s (%s) cannot be expressed in FHIR and is dropped (%s)",
                item.seq,
                item.kind,
                type(err).__name__,
            )
            return unit
        return Unit(
            kind=unit.kind,
            key=unit.key,
            person_id=unit.person_id,
            payload=unit.payload,
            seqs=unit.seqs,
            creates=creates,
            people=frozenset(people),
            entries=tuple(entries),
            label=label,
        )

    def ack(self, batch: Batch, state: Mapping[str, Any] | None = None) -> None:
        """The server acknowledged ``batch`` (or it had nothing to send): forget it."""
        self.store.clinic_ack(self.link.link_id, cursor=batch.cursor, seqs=batch.seqs, state=state)

    def ack_with_quarantine(
        self,
        batch: Batch,
        state: Mapping[str, Any] | None,
        quarantine: Sequence[tuple[Unit, DeliveryError]],
    ) -> None:
        """Acknowledge ``batch``; its refused units go to quarantine in the same commit."""
        held = [
            (
                unit.kind,
                unit.key,
                unit.person_id,
                {
                    "payload": dict(unit.payload),
                    "label": dict(unit.label),
                    "status": error.status,
                    "outcome": error.diagnostics,
                },
            )
            for unit, error in quarantine
        ]
        self.store.clinic_ack(
            self.link.link_id, cursor=batch.cursor, seqs=batch.seqs, state=state, quarantine=held
        )

    def rewind(self) -> None:
        """The server lost our data: send every reading since linking again."""
        self.store.clinic_rewind(self.link.link_id, self.link.start_row)

    def save_state(self, state: Mapping[str, Any]) -> None:
        """Save link state values."""
        self.store.clinic_put_state(self.link.link_id, state)

    def pending_count(self) -> int:
        """Readings above the cursor (when shared) plus waiting items."""
        readings = 0
        if SCOPE_VITAL_SIGNS in self.link.scopes:
            readings = self.store.count_measurements_after(self.cursor())
        return readings + self.store.clinic_item_count(self.link.link_id)

    # The clinic's summary request ----------------------------------------------------------

    def pull_summary(
        self,
        person_id: str,
        *,
        days: int,
        identified: bool,
        now: datetime,
        alerts: Sequence[Mapping[str, Any]] = (),
    ) -> FhirResource:
        """A ``collection`` Bundle of a person's recent readings (and unresolved alerts)."""
        rows = self.store.history(
            person_id, since=now - timedelta(days=days), limit=MAX_PULL_READINGS
        )
        resources, _ = self.reading_resources(rows)
        ordered: list[FhirResource] = [self._gateway, *resources.values()]
        for alert in alerts:
            try:
                ordered.append(
                    fhir.alert_resource(
                        alert_fields(alert),
                        patient_ref=self.patient_ref(person_id),
                        observation_refs=(),
                        author_ref=self.gateway_ref,
                    )
                )
            except (ValueError, KeyError):
                continue
        return fhir.summary_bundle(
            self.patient(person_id, identified=identified), ordered, timestamp=now
        )


def _create_entry(resource: Mapping[str, Any]) -> dict[str, Any]:
    """``POST <type>`` with ``ifNoneExist`` on the resource's identifier (batch entry)."""
    ident = resource["identifier"][0]
    return {
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": fhir.identifier_query(ident["system"], ident["value"]),
        },
    }


def _resolve_refs(resource: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a reading's Observation with its references found in ``refs`` replaced.

    A reading's references sit at the top (``subject``, ``device``) and in its
    extensions (``valueReference``): only those are copied, the rest is shared (a full
    deep walk cost as much as building the Observation).
    """

    def resolved(ref: Any) -> str | None:
        return refs.get(ref) if isinstance(ref, str) else None

    out = dict(resource)
    for key, value in resource.items():
        if isinstance(value, dict):
            if (server_ref := resolved(value.get("reference"))) is not None:
                out[key] = {**value, "reference": server_ref}
        elif key == "extension" and isinstance(value, list):
            out[key] = [
                {**ext, "valueReference": {"reference": server_ref}}
                if isinstance(ext, dict)
                and isinstance(ext.get("valueReference"), dict)
                and (server_ref := resolved(ext["valueReference"].get("reference"))) is not None
                else ext
                for ext in value
            ]
    return out


def entry_location(reply: Mapping[str, Any] | None, index: int) -> str | None:
    """``Type/id`` of entry ``index`` of a transaction- or batch-response (None if absent)."""
    response = _entry_response(reply, index)
    location = response.get("location") if response else None
    if not isinstance(location, str):
        return None
    parts = location.split("?")[0].split("/_history")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 and parts[-1] and parts[-2] else None


def _entry_response(reply: Mapping[str, Any] | None, index: int) -> Mapping[str, Any] | None:
    if not isinstance(reply, Mapping):
        return None
    entries = reply.get("entry")
    if not isinstance(entries, list) or index >= len(entries):
        return None
    entry = entries[index]
    response = entry.get("response") if isinstance(entry, Mapping) else None
    return response if isinstance(response, Mapping) else None


def alert_fields(alert: Mapping[str, Any]) -> dict[str, Any]:
    """An alert record as ``fhir.alert_resource`` takes it (snoozed is still open)."""
    fields = {
        key: alert.get(key)
        for key in (
            "alert_id",
            "severity",
            "kind",
            "code",
            "message",
            "time",
            "vital",
            "value",
            "unit",
            "threshold",
            "acknowledged_at",
            "resolved_at",
        )
    }
    # The clinic reads the clinical wording (NEWS2 response bands), not the family's text.
    fields["message"] = alert.get("clinical_message") or alert.get("message")
    status = alert.get("status")
    fields["status"] = status if status in ("acknowledged", "resolved") else "open"
    return fields


def dt_local(moment: datetime, tz: tzinfo) -> str:
    """Minute precision local time, for a person reading a repair."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


# =========================================================================== transports


class DeliveryError(Exception):
    """A bundle was not accepted; ``reason`` says what to do about it."""

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        diagnostics: str = "",
        retry_after: float | None = None,
    ) -> None:
        """Carry the reason, the HTTP status, and the server's own words (if any)."""
        super().__init__(reason if status is None else f"{reason} (HTTP {status})")
        self.reason = reason
        self.status = status
        self.diagnostics = diagnostics
        self.retry_after = retry_after


class Transport(Protocol):
    """Delivers one transaction bundle."""

    async def send(self, bundle: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
        """Return once the receiver holds the bundle; raise ``DeliveryError`` otherwise.

        The result is the server's transaction-response Bundle, when there is one.
        """


class RunBlocking(Protocol):
    """Runs a blocking call off the event loop (HA's executor, or asyncio's)."""

    def __call__(self, target: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        """Run ``target(*args)`` in a worker thread."""


def operation_outcome_text(body: bytes) -> str:
    """The ``issue[].diagnostics`` (or ``details.text``) of an OperationOutcome, joined."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    outcomes: list[Any] = []
    if isinstance(doc, dict) and doc.get("resourceType") == "OperationOutcome":
        outcomes.append(doc)
    elif isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        for entry in doc.get("entry") or []:
            if isinstance(entry, dict):
                outcomes.append((entry.get("response") or {}).get("outcome"))
    parts: list[str] = []
    for outcome in outcomes:
        if not isinstance(outcome, dict):
            continue
        for issue in outcome.get("issue") or []:
            if not isinstance(issue, dict):
                continue
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
            if isinstance(text, str) and text.strip():
                parts.append(" ".join(text.split()))
    return "; ".join(parts)[:MAX_DIAGNOSTICS]


def too_large_refusal(status: int, body: bytes) -> bool:
    """Whether a 400/422 refuses the transaction for its size, not for its content."""
    if status not in (400, 422):
        return False
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    if isinstance(doc, dict) and doc.get("resourceType") == "OperationOutcome":
        for issue in doc.get("issue") or []:
            if isinstance(issue, dict) and issue.get("code") in _TOO_LARGE_CODES:
                return True
    return bool(_TOO_LARGE_TEXT.search(operation_outcome_text(body)))


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


class HttpTransport:
    """POSTs each transaction bundle to the clinic's FHIR base URL.

    TLS certificates are verified (the session's default); the bearer token, when the
    clinic issued one, goes in ``Authorization``.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str | None = None,
        timeout: float = SEND_TIMEOUT,
    ) -> None:
        """Send through ``session`` to ``base_url``."""
        self._session = session
        self._url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def headers(self) -> dict[str, str]:
        """Request headers (with the token, so never log them)."""
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def send(self, bundle: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
        """POST the bundle; map the answer to success or a ``DeliveryError``.

        Returns the server's transaction-response Bundle (None if it sent none).
        """
        body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with self._session.post(
                self._url, data=body, headers=self.headers(), timeout=self._timeout
            ) as response:
                status = response.status
                detail = await response.read() if status < 300 else b""
                if status >= 400:
                    detail = await _read_capped(response, 65536)
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeliveryError(REASON_TRANSIENT, diagnostics=type(err).__name__) from err
        return _answer(status, detail, retry_after)

    async def search(self, resource_type: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        """``GET [base]/<type>?params``: the searchset Bundle (``DeliveryError`` otherwise)."""
        try:
            async with self._session.get(
                f"{self._url}/{resource_type}",
                params=dict(params),
                headers=self.headers(),
                timeout=self._timeout,
            ) as response:
                status = response.status
                detail = await _read_capped(response, 8 * 1024 * 1024)
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeliveryError(REASON_TRANSIENT, diagnostics=type(err).__name__) from err
        return _answer(status, detail, retry_after) or {}


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body up to ``cap`` bytes.

    ``content.read(n)`` returns what has arrived so far, not n bytes: a large searchset
    would be cut mid-JSON and read as no answer at all.
    """
    parts: list[bytes] = []
    size = 0
    while size < cap and (chunk := await response.content.read(cap - size)):
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _answer(status: int, detail: bytes, retry_after: float | None) -> Mapping[str, Any] | None:
    """A server's JSON answer on 2xx; the ``DeliveryError`` its status means otherwise."""
    if 200 <= status < 300:
        try:
            reply = json.loads(detail) if detail else None
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None
    if status in (401, 403):
        raise DeliveryError(REASON_AUTH, status)
    if status == 413 or too_large_refusal(status, detail):
        raise DeliveryError(REASON_TOO_LARGE, status, operation_outcome_text(detail))
    if status in (408, 409, 412, 425, 429) or status >= 500:
        raise DeliveryError(REASON_TRANSIENT, status, retry_after=retry_after)
    raise DeliveryError(REASON_REJECTED, status, diagnostics=operation_outcome_text(detail))


class FolderTransport:
    """Writes each transaction bundle as a JSON file (the air-gapped hand-over).

    Files are written privately (0600 in a 0700 folder), fsynced and renamed into place,
    so a reader never sees half a bundle; a re-sent batch overwrites its own file.
    """

    def __init__(self, folder: Path, run_blocking: RunBlocking) -> None:
        """Write into ``folder`` through ``run_blocking``."""
        self.folder = folder
        self._run = run_blocking

    async def send(self, bundle: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
        """Write the bundle file; a full or missing disk is a transient failure."""
        data = json.dumps(bundle, ensure_ascii=False, indent=1).encode()
        try:
            await self._run(self._write, name, data)
        except OSError as err:
            raise DeliveryError(REASON_TRANSIENT, diagnostics=type(err).__name__) from err
        return None

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.folder / name, data)


async def deliver_next(
    outbox: Outbox,
    transport: Transport,
    run_blocking: RunBlocking,
    max_readings: int = MAX_READINGS_PER_BUNDLE,
    state: Mapping[str, Any] | None = None,
) -> Batch | None:
    """Send the next batch and acknowledge it; None when nothing is pending.

    Raises ``DeliveryError`` (nothing acknowledged) when the transport fails.
    """
    batch: Batch | None = await run_blocking(outbox.next_batch, max_readings)
    if batch is None:
        return None
    if batch.bundle is not None:
        await transport.send(batch.bundle, batch.name)
    await run_blocking(outbox.ack, batch, state)
    return batch


# =========================================================================== adaptive sender


@dataclass(slots=True)
class LinkLimits:
    """What one clinic server accepts, learned from its answers (persisted per link).

    ``good``: the most entries a transaction of ours was accepted with; ``bad``: the fewest
    it was refused with for its size (None: no size refusal known). Between the two the
    next size is the middle, so an 8-entry cap is found in a handful of refusals; after
    ``PROBE_INTERVAL`` without a refusal the upper bound is dropped and larger bundles are
    tried again (a server's limit can grow).
    """

    good: int = 0
    bad: int | None = None
    refused_at: datetime | None = None
    refusals: int = 0

    def size(self, default: int = DEFAULT_MAX_ENTRIES) -> int:
        """Entries for the next bundle."""
        if self.bad is None:
            return max(default, self.good)
        if self.bad - self.good <= 1:
            return max(1, self.good)
        return max(1, (self.good + self.bad) // 2 if self.good else self.bad // 2)

    def accepted(self, entries: int) -> bool:
        """A bundle of ``entries`` went through; True if that changed what is known."""
        changed = False
        if entries > self.good:
            self.good, changed = entries, True
        if self.bad is not None and self.good >= self.bad:
            self.bad, changed = None, True
        return changed

    def refused(self, entries: int, now: datetime) -> None:
        """A bundle of ``entries`` was refused for its size."""
        self.bad = entries if self.bad is None else min(self.bad, entries)
        if self.good >= self.bad:
            self.good = self.bad - 1
        self.refused_at = now
        self.refusals += 1

    def probe(self, now: datetime, interval: timedelta = PROBE_INTERVAL) -> bool:
        """Forget the upper bound once it is old enough; True if it did."""
        if self.bad is None or self.refused_at is None or now - self.refused_at < interval:
            return False
        self.bad = None
        return True

    def as_state(self) -> dict[str, Any]:
        """JSON for the link's state."""
        return {
            "good": self.good,
            "bad": self.bad,
            "refused_at": self.refused_at.isoformat() if self.refused_at else None,
            "refusals": self.refusals,
        }

    @classmethod
    def from_state(cls, value: Any) -> LinkLimits:
        """Read ``as_state`` back (anything unreadable: nothing learned yet)."""
        if not isinstance(value, Mapping):
            return cls()
        try:
            refused = value.get("refused_at")
            bad = value.get("bad")
            return cls(
                good=max(0, int(value.get("good") or 0)),
                bad=None if bad is None else max(1, int(bad)),
                refused_at=datetime.fromisoformat(refused) if isinstance(refused, str) else None,
                refusals=max(0, int(value.get("refusals") or 0)),
            )
        except (TypeError, ValueError):
            return cls()


@dataclass(frozen=True, slots=True)
class SenderProfile:
    """How a link sends: limits and timing (from the link profile, not from tests)."""

    default_entries: int = DEFAULT_MAX_ENTRIES
    max_in_flight: int = MAX_IN_FLIGHT
    probe_interval: timedelta = PROBE_INTERVAL
    batch_below: int = BATCH_BELOW  # 0: readings only ever in transactions
    batch_entries: int = DEFAULT_BATCH_ENTRIES
    send_timeout: float = SEND_TIMEOUT  # seconds for one HTTP request


@dataclass(slots=True)
class DrainReport:
    """What one ``Sender.drain`` did."""

    bundles: int = 0
    readings: int = 0
    items: int = 0
    quarantined: int = 0
    server_reset: bool = False


# Erasure sweep: (type, search parameter, element naming the Patient).
_ERASE_SEARCHES: Final = (
    ("DetectedIssue", "patient", "patient"),
    ("MedicationStatement", "subject", "subject"),
    ("Observation", "subject", "subject"),
)
_SWEEP_ROUNDS: Final = 1000
# What one round of reading batches leads to (``Sender._batch_round``).
_DONE: Final = "done"
_AGAIN: Final = "again"
_TRANSACTIONS: Final = "transactions"


def _search_resources(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The resources (with an id) of a searchset Bundle."""
    out: list[Mapping[str, Any]] = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and isinstance(resource.get("id"), str):
            out.append(resource)
    return out


def _created(reply: Mapping[str, Any] | None, index: int) -> bool:
    """Whether entry ``index`` of a transaction-response says 201 Created."""
    if not isinstance(reply, Mapping):
        return False
    entries = reply.get("entry")
    if not isinstance(entries, list) or index >= len(entries):
        return False
    entry = entries[index]
    response = entry.get("response") if isinstance(entry, Mapping) else None
    status = response.get("status") if isinstance(response, Mapping) else None
    return isinstance(status, str) and status.strip().startswith("201")


class Sender:
    """Drains one link's outbox with bundles the server accepts, never stuck on one.

    * The bundle size adapts (``LinkLimits``): a size refusal (413, or a 400/422 whose
      OperationOutcome says too many entries / too large / too costly) shrinks it and is
      remembered; success grows what is known to work; the bound is probed again later.
    * Up to ``max_in_flight`` reading bundles travel at once; each is acknowledged (the
      cursor moves) only after every bundle before it was, so the cursor never skips.
    * A bundle refused for its content is split in halves until the refused readings or
      items stand alone; those are quarantined (kept, with the server's words) in the same
      transaction that moves past them, and everything else keeps flowing.
    * A transient failure or a refused token ends the drain (``DeliveryError``); nothing
      after the last acknowledged bundle is lost, it is sent again (conditional creates
      and updates make a re-send harmless).
    * The server forgetting us (our gateway Device created anew, 201, after it had been
      acknowledged before: an emptied or replaced server) rewinds the link, so everything
      it lost is sent again (``DrainReport.server_reset``).
    """

    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        run_blocking: RunBlocking,
        limits: LinkLimits | None = None,
        profile: SenderProfile | None = None,
        *,
        known: bool = False,
        now: Callable[[], datetime] | None = None,
        batch_limits: LinkLimits | None = None,
        batch_off: datetime | None = None,
    ) -> None:
        """Send ``outbox`` through ``transport``; ``known``: the server has our data.

        ``batch_limits``/``batch_off``: what was learned about the server's ``batch``
        (its size limit; when it refused batches that it took as transactions).
        """
        self.outbox = outbox
        self.transport = transport
        self.run = run_blocking
        self.limits = limits or LinkLimits()
        self.profile = profile or SenderProfile()
        self.known = known
        self._now = now or (lambda: datetime.now(UTC))
        self.batch_limits = batch_limits or LinkLimits()
        self.batch_off = batch_off
        # fullUrl -> "Type/id" on the server (Patients, Devices), learned this drain.
        self.resolved: dict[str, str] = {}
        self._ahead: tuple[int, list[Batch]] | None = None

    def _limits_state(self) -> dict[str, Any]:
        return {
            "limits": self.limits.as_state(),
            "batch_limits": self.batch_limits.as_state(),
            "batch_off": self.batch_off.isoformat() if self.batch_off else None,
        }

    def batch_mode(self, now: datetime) -> bool:
        """Whether readings go as batches rather than transactions.

        Yes once the server refused a small transaction for its size (a cap like
        Medplum's 8 entries), unless it refused our batches (then again after
        ``probe_interval``).
        """
        bad = self.limits.bad
        if self.profile.batch_below <= 0 or bad is None or bad > self.profile.batch_below:
            return False
        return self.batch_off is None or now - self.batch_off >= self.profile.probe_interval

    async def _send(self, batch: Batch) -> Mapping[str, Any] | DeliveryError | None:
        if batch.bundle is None:
            return None
        try:
            for unit in batch.units:
                if unit.kind == KIND_ERASURE and isinstance(self.transport, HttpTransport):
                    await self._sweep(self.transport, str(unit.payload.get("pseudonym", "")))
            return await self.transport.send(batch.bundle, batch.name)
        except DeliveryError as err:
            return err

    async def _sweep(self, transport: HttpTransport, person_pseudonym: str) -> None:
        """Delete, by id, what a server holds about a person before the erasure bundle.

        Not every server can do the erasure bundle's conditional deletes (chained search,
        several matches: Medplum refuses or skips them). Searching by the Patient's id and
        deleting each match by id works everywhere. Only resources whose own reference
        names the Patient are deleted (a server that ignores a search parameter returns
        everything). A server that cannot search this way leaves it to the bundle.
        """
        if not person_pseudonym:
            return
        token = f"{fhir.PSEUDONYM_SYSTEM}|{person_pseudonym}"
        try:
            found = await transport.search("Patient", {"identifier": token})
        except DeliveryError as err:
            if err.reason in (REASON_REJECTED, REASON_TOO_LARGE):
                return
            raise
        patients = [
            r["id"]
            for r in _search_resources(found)
            if any(
                i.get("system") == fhir.PSEUDONYM_SYSTEM and i.get("value") == person_pseudonym
                for i in r.get("identifier") or []
                if isinstance(i, Mapping)
            )
        ]
        size = max(1, self.limits.size(self.profile.default_entries))
        for patient_id in patients:
            ref = f"Patient/{patient_id}"
            for rtype, param, element in _ERASE_SEARCHES:
                seen: set[str] = set()
                for _ in range(_SWEEP_ROUNDS):
                    try:
                        page = await transport.search(rtype, {param: ref, "_count": "100"})
                    except DeliveryError as err:
                        if err.reason in (REASON_REJECTED, REASON_TOO_LARGE):
                            break
                        raise
                    ids = [
                        r["id"]
                        for r in _search_resources(page)
                        if (r.get(element) or {}).get("reference") == ref and r["id"] not in seen
                    ]
                    if not ids:
                        break
                    seen.update(ids)
                    for n in range(0, len(ids), size):
                        deletes = [
                            {"request": {"method": "DELETE", "url": f"{rtype}/{rid}"}}
                            for rid in ids[n : n + size]
                        ]
                        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": deletes}
                        try:
                            await transport.send(bundle, "erasure")
                        except DeliveryError as err:
                            if err.reason in (REASON_REJECTED, REASON_TOO_LARGE):
                                return  # left to the erasure bundle
                            raise

    def _gateway_index(self, batch: Batch) -> int | None:
        if batch.bundle is None or batch.type == "batch":  # batches: ``_batch_round``
            return None
        for index, entry in enumerate(batch.bundle.get("entry") or []):
            if entry.get("fullUrl") == self.outbox.gateway_ref:
                return index
        return None

    async def _ack(
        self,
        batch: Batch,
        reply: Mapping[str, Any] | None,
        state: Mapping[str, Any],
        report: DrainReport,
        quarantine: Sequence[tuple[Unit, DeliveryError]] = (),
    ) -> bool:
        return await self._ack_many([(batch, reply)], state, report, quarantine)

    async def _ack_many(
        self,
        done: Sequence[tuple[Batch, Mapping[str, Any] | None]],
        state: Mapping[str, Any],
        report: DrainReport,
        quarantine: Sequence[tuple[Unit, DeliveryError]] = (),
    ) -> bool:
        """Acknowledge consecutive accepted bundles in one commit; True if the server reset.

        One commit for several bundles: each was accepted before, and the cursor moves
        to the last one's, so nothing is skipped and the disk is synced once.
        """
        if not done:
            return False
        reset = False
        extra: dict[str, Any] = dict(state)
        for batch, reply in done:
            index = self._gateway_index(batch)
            if index is not None and _created(reply, index) and self.known:
                reset = True
            limits = self.batch_limits if batch.type == "batch" else self.limits
            if batch.bundle is not None and limits.accepted(batch.entries):
                extra |= self._limits_state()
            if index is not None and not self.known and reply is not None:
                self.known = True
                extra["server_known"] = True
        last = done[-1][0]
        merged = Batch(
            lane=last.lane,
            first=done[0][0].first,
            bundle=None,
            cursor=last.cursor,
            seqs=tuple(seq for batch, _ in done for seq in batch.seqs),
        )
        await self.run(self.outbox.ack_with_quarantine, merged, extra, quarantine)
        report.bundles += sum(1 for batch, _ in done if batch.bundle is not None)
        report.readings += sum(batch.readings for batch, _ in done)
        report.items += sum(batch.items for batch, _ in done)
        report.quarantined += len(quarantine)
        if reset:
            # Our gateway was created anew: the server lost what we had sent. Send it all
            # again (conditional creates: what it still has is not duplicated).
            _LOGGER.warning("The clinic server no longer holds earlier data; sending it again")
            await self.run(self.outbox.rewind)
            report.server_reset = True
        return reset

    async def _isolate(
        self, batch: Batch, error: DeliveryError, state: Mapping[str, Any], report: DrainReport
    ) -> None:
        """Split a refused bundle until the refused units stand alone; quarantine those."""
        sendable = [u for u in batch.units if not u.empty]
        if len(sendable) <= 1:
            await self._ack(batch, None, state, report, [(u, error) for u in sendable])
            return
        units = list(batch.units)
        half = len(units) // 2
        for part, cursor in ((units[:half], None), (units[half:], batch.cursor)):
            sub = await self.run(self.outbox.batch_of, batch.lane, part, cursor)
            result = await self._send(sub)
            if isinstance(result, DeliveryError):
                if result.reason not in (REASON_REJECTED, REASON_TOO_LARGE):
                    raise result
                await self._isolate(sub, result, state, report)
            else:
                await self._ack(sub, result, state, report)

    # Readings as batches --------------------------------------------------------------

    async def _batch_round(self, state: Mapping[str, Any], report: DrainReport) -> str:
        """Send reading batches until a change of plan: ``_DONE``, ``_AGAIN``, ``_TRANSACTIONS``.

        A sliding window: up to ``max_in_flight`` batches travel while the next is planned;
        each is acknowledged (its own commit) in order, after every batch before it, so
        the cursor never skips. Whatever was in flight behind a failure is not
        acknowledged and goes again later (conditional creates: nothing duplicates).
        """
        size = self.batch_limits.size(self.profile.batch_entries)
        while True:
            # Planned again after resolving: readings that arrived meanwhile may be of
            # another person or device. A batch never leaves with an unresolved reference.
            refs = dict(self.resolved)
            first = await self.run(self.outbox.next_reading_batches, size, 1, refs)
            if first is None:
                return _TRANSACTIONS
            if not first:
                return _DONE
            if not (missing := first[0].identities - refs.keys()):
                break
            step = await self._resolve(missing, first, state, report)
            if step is not None:
                return step
        window: deque[tuple[Batch, asyncio.Future[Any]]] = deque()
        last = first[0]
        window.append((last, asyncio.ensure_future(self._send(last))))
        more = True
        try:
            while window:
                while more and len(window) < self.profile.max_in_flight:
                    # Planned while the window travels.
                    nxt = await self.run(
                        self.outbox.next_reading_batches, size, 1, refs, last.cursor
                    )
                    if last.cursor is None or not nxt or nxt[0].identities - refs.keys():
                        more = False  # done, items wait, or a new Patient/Device: next round
                        break
                    last = nxt[0]
                    window.append((last, asyncio.ensure_future(self._send(last))))
                batch, task = window.popleft()
                step = await self._settle(batch, await task, size, state, report)
                if step is not None:
                    return step
        finally:
            if window:
                await asyncio.gather(*(task for _, task in window), return_exceptions=True)
        return _AGAIN

    async def _settle(
        self,
        batch: Batch,
        result: Mapping[str, Any] | DeliveryError | None,
        size: int,
        state: Mapping[str, Any],
        report: DrainReport,
    ) -> str | None:
        """Acknowledge one batch's answer; a step when the plan must change."""
        if isinstance(result, DeliveryError):
            if result.reason == REASON_TOO_LARGE and self.batch_limits.good < batch.entries <= size:
                self.batch_limits.refused(batch.entries, self._now())
                await self.run(self.outbox.save_state, self._limits_state())
                _LOGGER.info(
                    "Clinic server refused a batch of %d entries for its size; sending at most %d",
                    batch.entries,
                    self.batch_limits.size(self.profile.batch_entries),
                )
                return _AGAIN
            if result.reason in (REASON_REJECTED, REASON_TOO_LARGE):
                await self._batch_as_transactions(batch, state, report)
                return _AGAIN
            raise result
        verdict = self._read_batch_reply(batch, result)
        if isinstance(verdict, DeliveryError):
            if verdict.reason != REASON_REJECTED:
                raise verdict
            await self._batch_as_transactions(batch, state, report)
            return _AGAIN
        reset, refused, created = verdict
        if reset:
            await self._server_reset(created, report)
            return _AGAIN
        await self._ack_many([(batch, result)], state, report, refused)
        return None

    async def _resolve(
        self,
        missing: set[str],
        batches: Sequence[Batch],
        state: Mapping[str, Any],
        report: DrainReport,
    ) -> str | None:
        """Learn the server ids of ``missing`` (a transaction); None when all are known."""
        units = [unit for batch in batches for unit in batch.units]
        ordered = sorted(missing - {self.outbox.gateway_ref})
        # The gateway goes in every identity transaction (it shows a server reset).
        chunk = max(1, self.limits.size(self.profile.default_entries) - 1)
        for n in range(0, max(1, len(ordered)), chunk):
            wanted = {self.outbox.gateway_ref, *ordered[n : n + chunk]}
            batch = await self.run(self.outbox.identity_batch, wanted, units)
            result = await self._send(batch)
            if isinstance(result, DeliveryError):
                if result.reason == REASON_TOO_LARGE and self.limits.good < batch.entries:
                    self.limits.refused(batch.entries, self._now())
                    await self.run(self.outbox.save_state, self._limits_state())
                    return _AGAIN
                if result.reason in (REASON_REJECTED, REASON_TOO_LARGE):
                    # A Patient or Device the server refuses: the transaction path sends
                    # this round and isolates what it refuses.
                    return _TRANSACTIONS
                raise result
            if await self._ack(batch, result, state, report):
                self.resolved.clear()
                return _AGAIN
            assert batch.bundle is not None
            for index, entry in enumerate(batch.bundle["entry"]):
                location = entry_location(result, index)
                if location is None:
                    return _TRANSACTIONS  # no ids in the answer: batches cannot refer
                self.resolved[str(entry["fullUrl"])] = location
        if missing - self.resolved.keys():
            return _TRANSACTIONS  # a reference the identities did not answer for
        return None

    def _read_batch_reply(
        self, batch: Batch, reply: Mapping[str, Any] | None
    ) -> DeliveryError | tuple[bool, list[tuple[Unit, DeliveryError]], list[str]]:
        """(server reset, refused units, created ids) from a batch-response; or an error.

        An answer that does not say what happened to every entry is a rejection (the
        readings then go as transactions: conditional creates, nothing duplicates).
        """
        entries = reply.get("entry") if isinstance(reply, Mapping) else None
        if not isinstance(entries, list) or len(entries) != len(batch.owners):
            return DeliveryError(REASON_REJECTED, diagnostics="unreadable batch-response")
        reset = False
        refused: dict[int, DeliveryError] = {}
        created: list[str] = []
        for index, owner in enumerate(batch.owners):
            response = _entry_response(reply, index) or {}
            try:
                status = int(str(response.get("status", "")).split()[0])
            except (ValueError, IndexError):
                return DeliveryError(REASON_REJECTED, diagnostics="unreadable batch-response")
            if 200 <= status < 300:
                if status == 201 and owner < 0 and self.known:
                    reset = True
                elif status == 201 and (location := entry_location(reply, index)):
                    created.append(location)
                continue
            if status in (401, 403):
                return DeliveryError(REASON_AUTH, status)
            if status in (408, 409, 412, 425, 429) or status >= 500 or owner < 0:
                return DeliveryError(REASON_TRANSIENT, status)
            outcome = response.get("outcome")
            text = operation_outcome_text(json.dumps(outcome).encode()) if outcome else ""
            refused.setdefault(owner, DeliveryError(REASON_REJECTED, status, text))
        return reset, [(batch.units[i], err) for i, err in sorted(refused.items())], created

    async def _batch_as_transactions(
        self, batch: Batch, state: Mapping[str, Any], report: DrainReport
    ) -> None:
        """A batch refused whole: its readings go as transactions, isolating any refused.

        If the transactions take everything, the server does not take our batches:
        readings go as transactions on this link until ``probe_interval`` has passed.
        """
        before = report.quarantined
        units = list(batch.units)
        while units:
            chosen, units = self.outbox.pack(units, self.limits.size(self.profile.default_entries))
            cursor = None if units else batch.cursor
            part = await self.run(self.outbox.batch_of, LANE_READINGS, chosen, cursor)
            result = await self._send(part)
            if not isinstance(result, DeliveryError):
                if await self._ack(part, result, state, report):
                    self.resolved.clear()  # the server was reset: rewound, sent again
                    return
            elif result.reason in (REASON_REJECTED, REASON_TOO_LARGE):
                await self._isolate(part, result, state, report)
            else:
                raise result
        if report.quarantined == before:
            _LOGGER.info("Clinic server refused a batch it took as transactions; not batching")
            self.batch_off = self._now()
            await self.run(self.outbox.save_state, self._limits_state())

    async def _server_reset(self, created: Sequence[str], report: DrainReport) -> None:
        """The server lost our data: send everything again, identities resolved anew.

        The Observations it just created from this batch refer to ids it no longer has;
        they are deleted by id first, so the re-send creates them with good references.
        """
        _LOGGER.warning("The clinic server no longer holds earlier data; sending it again")
        # Rewound first: the gateway now exists again, so a later answer would not show
        # the reset a second time.
        self.resolved.clear()
        await self.run(self.outbox.rewind)
        report.server_reset = True
        try:
            for n in range(0, len(created), self.profile.batch_entries):
                deletes = [
                    {"request": {"method": "DELETE", "url": ref}}
                    for ref in created[n : n + self.profile.batch_entries]
                ]
                bundle = {"resourceType": "Bundle", "type": "batch", "entry": deletes}
                await self.transport.send(bundle, "reset")
        except DeliveryError as err:
            # Those few Observations keep their dead references (found again by
            # identifier, not duplicated); everything else is sent with the new ids.
            _LOGGER.warning("Could not delete %d Observations after a reset: %s", len(created), err)

    async def drain(self, state: Mapping[str, Any] | None = None) -> DrainReport:
        """Send until the outbox is empty; raise ``DeliveryError`` on a failure that waits.

        ``state`` is saved with every acknowledgement (e.g. the time of the last success).
        """
        report = DrainReport()
        state = dict(state or {})
        ahead: tuple[int, list[Batch]] | None = None
        # Identities are resolved again each drain: that is also where a server that lost
        # our data shows it (the gateway created anew).
        self.resolved.clear()
        self._ahead = None
        while True:
            now = self._now()
            probed = self.limits.probe(now, self.profile.probe_interval)
            if self.batch_limits.probe(now, self.profile.probe_interval) or probed:
                await self.run(self.outbox.save_state, self._limits_state())
            if self.batch_mode(now):
                ahead = None
                step = await self._batch_round(state, report)
                if step == _DONE:
                    return report
                if step == _AGAIN:
                    continue
                # _TRANSACTIONS: items wait, or the server refused what batches need. An
                # item may be an erasure (the Patient deleted): identities resolve anew.
                self.resolved.clear()
            size = self.limits.size(self.profile.default_entries)
            if ahead is not None and ahead[0] == size and ahead[1]:
                batches = ahead[1]
            else:
                batches = await self.run(self.outbox.next_batches, size, self.profile.max_in_flight)
            ahead = None
            if not batches:
                return report
            sending = asyncio.gather(*(self._send(b) for b in batches))
            following: asyncio.Future[list[Batch]] | None = None
            if batches[-1].lane == LANE_READINGS and batches[-1].cursor is not None:
                # Plan the next round while this one travels (used only if all of it is
                # accepted, and nothing else is waiting by then).
                following = asyncio.ensure_future(
                    self.run(
                        self.outbox.next_batches,
                        size,
                        self.profile.max_in_flight,
                        batches[-1].cursor,
                    )
                )
            results = await sending
            planned: list[Batch] = [] if following is None else await following
            accepted: list[tuple[Batch, Mapping[str, Any] | None]] = []
            for batch, result in zip(batches, results, strict=True):
                if not isinstance(result, DeliveryError):
                    accepted.append((batch, result))
                    continue
                done, accepted = accepted, []
                if await self._ack_many(done, state, report):
                    break  # rewound: what was in flight after it is planned again
                # Refused for its size, and smaller than planned or larger than anything
                # accepted before: learn and plan again (a summary then leaves its
                # readings out). A unit that alone exceeds the plan is isolated instead.
                if result.reason == REASON_TOO_LARGE and self.limits.good < batch.entries <= size:
                    self.limits.refused(batch.entries, self._now())
                    await self.run(self.outbox.save_state, self._limits_state())
                    _LOGGER.info(
                        "Clinic server refused a transaction of %d entries for its size; "
                        "sending at most %d",
                        batch.entries,
                        self.limits.size(self.profile.default_entries),
                    )
                    break  # the bundles after it were not acknowledged: planned again
                if result.reason in (REASON_REJECTED, REASON_TOO_LARGE):
                    await self._isolate(batch, result, state, report)
                    continue
                raise result
            else:
                if not await self._ack_many(accepted, state, report):
                    ahead = (size, planned)  # all accepted, no rewind: plan still holds
