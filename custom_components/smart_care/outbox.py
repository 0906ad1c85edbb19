"""Store-and-forward delivery to a clinic's FHIR server (no Home Assistant import).

Nothing is sent that is not on disk first, and nothing on disk is forgotten before the
server has acknowledged it:

* **Readings** need no copy: the household's measurement log *is* their outbox. Each
  clinic link keeps one cursor, the id of the last log row the server acknowledged. Rows
  above the cursor are pending, whether they arrived a second ago or before a crash. The
  cursor moves (in one SQLite transaction, only ever forward) after the server answered
  2xx, never before.
* **Everything else** (alert changes, daily summaries, medication answers, erasures) is
  appended to the ``clinic_outbox`` table before anything is sent, and deleted by sequence
  number after the server acknowledged the bundle that carried it.

A crash between "stored" and "sent" leaves rows above the cursor or items in the table:
they go out on the next start. A crash between "the server accepted" and "the cursor
moved" makes the next start send the same rows again: the bundle is rebuilt byte for byte
(``medical.fhir`` is deterministic) and every Observation is a conditional create on its
stable identifier (``ifNoneExist``), so the server answers 200 for what it already has
and nothing is duplicated. Alerts, summaries, medication answers and the Patient are
conditional updates (PUT by identifier): sending one twice leaves one resource.

The transports and ``deliver_next`` are plain asyncio/aiohttp so the benchmark can drive
the real delivery path outside Home Assistant; ``bridge.py`` is the Home Assistant glue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
import json
import logging
import os
from pathlib import Path
import random
from typing import Any, Final, Protocol

import aiohttp

from .const import (
    CONF_BIRTH_DATE,
    CONF_ID_NUMBER,
    CONF_SEX,
    SCOPE_ALERTS,
    SCOPE_DAILY_SUMMARY,
    SCOPE_MEDICATION,
    SCOPE_VITAL_SIGNS,
)
from .medical import fhir
from .medical.security import pseudonym
from .medical.vitals import Vital, VitalSample
from .record_store import OutboxItem, RecordStore, StoredMeasurement

_LOGGER = logging.getLogger(__name__)

KIND_ALERT: Final = "alert"
KIND_SUMMARY: Final = "summary"
KIND_MEDICATION: Final = "medication"
KIND_ERASURE: Final = "erasure"
# The consent scope each kind of item needs (an erasure needs none: it withdraws data).
KIND_SCOPES: Final[Mapping[str, str | None]] = {
    KIND_ALERT: SCOPE_ALERTS,
    KIND_SUMMARY: SCOPE_DAILY_SUMMARY,
    KIND_MEDICATION: SCOPE_MEDICATION,
    KIND_ERASURE: None,
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
REASON_TOO_LARGE: Final = "too_large"  # 413: send smaller bundles
REASON_REJECTED: Final = "rejected"  # any other 4xx: the server refuses the content

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

    @property
    def name(self) -> str:
        """Stable file name: the same batch re-sent overwrites its own file."""
        digest = "empty"
        if self.bundle is not None:
            digest = str(self.bundle["identifier"]["value"]).removeprefix("urn:uuid:")
        return f"{self.lane}-{self.first:012d}-{digest}.json"


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
        return fhir.full_url_for(fhir.PSEUDONYM_SYSTEM, self.pseudonym(person_id))

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
        """The next bundle to send: waiting items first (alerts are urgent), then readings."""
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
    ) -> None:
        payload = item.payload
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
                self._summary_entry(person_id, date.fromisoformat(payload["day"]), creates)
            )
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

    def _summary_entry(
        self, person_id: str, day: date, creates: dict[str, FhirResource]
    ) -> dict[str, Any]:
        start = datetime.combine(day, time.min, tzinfo=self.tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.tz)
        rows = [r for r in self.store.history(person_id, since=start) if r.time < end]
        refs: list[str] = []
        if SCOPE_VITAL_SIGNS in self.link.scopes and len(rows) <= MAX_SUMMARY_OBSERVATIONS:
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

    def ack(self, batch: Batch, state: Mapping[str, Any] | None = None) -> None:
        """The server acknowledged ``batch`` (or it had nothing to send): forget it."""
        self.store.clinic_ack(self.link.link_id, cursor=batch.cursor, seqs=batch.seqs, state=state)

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

    async def send(self, bundle: Mapping[str, Any], name: str) -> None:
        """Return once the receiver holds the bundle; raise ``DeliveryError`` otherwise."""


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

    async def send(self, bundle: Mapping[str, Any], name: str) -> None:
        """POST the bundle; map the answer to success or a ``DeliveryError``."""
        body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with self._session.post(
                self._url, data=body, headers=self.headers(), timeout=self._timeout
            ) as response:
                status = response.status
                detail = b"" if status < 400 else await response.content.read(65536)
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeliveryError(REASON_TRANSIENT, diagnostics=type(err).__name__) from err
        if 200 <= status < 300:
            return
        if status in (401, 403):
            raise DeliveryError(REASON_AUTH, status)
        if status == 413:
            raise DeliveryError(REASON_TOO_LARGE, status)
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

    async def send(self, bundle: Mapping[str, Any], name: str) -> None:
        """Write the bundle file; a full or missing disk is a transient failure."""
        data = json.dumps(bundle, ensure_ascii=False, indent=1).encode()
        try:
            await self._run(self._write, name, data)
        except OSError as err:
            raise DeliveryError(REASON_TRANSIENT, diagnostics=type(err).__name__) from err

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.folder / name
        tmp = self.folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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
