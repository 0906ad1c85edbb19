"""Community clinic bridge: FHIR R4 out through a durable outbox, webhooks in (HA glue).

Notes: docs/modules.md (clinic/bridge.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from datetime import date, datetime, time, timedelta
import logging
from pathlib import Path
import random
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Context, Event, HassJob, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later, async_track_point_in_utc_time
from homeassistant.loader import async_get_integration
from homeassistant.util import dt as dt_util

from ..care.medication import async_get_medications
from ..const import (
    CLINIC_UNREACHABLE_HOURS,
    CONF_BIRTH_DATE,
    CONF_ID_NUMBER,
    DOMAIN,
    EVENT_MEDICATION_ANSWERED,
    ISSUE_CLINIC_AUTH,
    ISSUE_CLINIC_QUARANTINE,
    ISSUE_CLINIC_REJECTED,
    ISSUE_CLINIC_UNREACHABLE,
    OUTBOX_FOLDER,
    SCOPE_ALERTS,
    SCOPE_DAILY_SUMMARY,
    SCOPE_MEDICATION,
    SCOPE_VITAL_SIGNS,
    SIGNAL_CLINIC_UPDATED,
    SUBENTRY_CLINIC,
    TRANSPORT_FOLDER,
)
from ..core.fhir import MEDICATION_ANSWERS, MedicationDose
from ..core.outbox import (
    BACKOFF_CAP,
    KIND_ALERT,
    KIND_ERASURE,
    KIND_MEDICATION,
    KIND_SUMMARY,
    REASON_AUTH,
    REASON_REJECTED,
    REASON_TRANSIENT,
    DeliveryError,
    DrainReport,
    FolderTransport,
    HttpTransport,
    LinkLimits,
    LinkProfile,
    Outbox,
    Sender,
    SenderProfile,
    Transport,
    backoff_delay,
)
from ..core.security import redact_text
from ..household.issues import async_raise_issue
from ..household.runtime import HouseholdListener, loaded_runtime
from .types import LinkConfig
from .webhook import ClinicWebhook

if TYPE_CHECKING:
    from ..care.alerts import Alert, AlertManager
    from ..core.store.record_store import RecordStore, StoredMeasurement
    from ..household.runtime import Household, Person

_LOGGER = logging.getLogger(__name__)

UNREACHABLE_AFTER = timedelta(hours=CLINIC_UNREACHABLE_HOURS)
# Daily summaries of the previous local day go out at this local time.
SUMMARY_TIME = time(0, 5)
# After a long shutdown, summaries are caught up for at most this many days.
SUMMARY_CATCH_UP_DAYS = 7
# Medication reminder answers -> FHIR answer vocabulary.
MEDICATION_STATUS = {"taken": "taken", "skipped": "skipped", "snoozed": "snoozed"}


def _parse_time(value: Any) -> datetime | None:
    return dt_util.parse_datetime(value) if isinstance(value, str) else None


class ClinicLink:
    """Delivery to, and webhook of, one clinic."""

    def __init__(self, bridge: ClinicBridge, config: LinkConfig) -> None:
        """Prepare; ``async_start`` opens the outbox and the webhook."""
        self.bridge: ClinicBridge = bridge
        self.hass: HomeAssistant = bridge.hass
        self.config: LinkConfig = config
        self.link_id = config.link_id  # stable for the link's life
        self.household: Household = bridge.household
        self.alerts: AlertManager = bridge.alerts
        self.pending: int | None = None
        self.last_success: datetime | None = None
        self.failing_since: datetime | None = None
        self.attempts = 0
        self.last_error: str | None = None
        self.people_by_pseudonym: dict[str, str] = {}
        self._outbox: Outbox | None = None
        self._transport: Transport | None = None
        self._webhook: ClinicWebhook | None = None
        self._sender: Sender | None = None
        self.quarantined: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._retry: CALLBACK_TYPE | None = None
        self._running = False
        self._rng = random.Random()

    # How every link sends (adaptive sizes, bundles in flight, probing); one place.
    sender_profile = SenderProfile()

    @property
    def outbox_ready(self) -> bool:
        """Whether ``async_start`` got as far as opening the outbox."""
        return self._outbox is not None

    @property
    def outbox(self) -> Outbox:
        """The link's outbox (after ``async_start``)."""
        assert self._outbox is not None
        return self._outbox

    def _run_blocking(self, target: Any, *args: Any) -> asyncio.Future[Any]:
        return self.hass.async_add_executor_job(target, *args)

    def folder(self) -> Path:
        """Where the folder transport writes."""
        return Path(self.config.folder or self.hass.config.path(OUTBOX_FOLDER, self.config.link_id))

    # Lifecycle -------------------------------------------------------------------------

    async def async_start(self, version: str) -> None:
        """Load the link's state, catch up what a shutdown missed, start the webhook."""
        config = self.config
        # The outbox (pure core) runs its store calls through the sender's executor runner.
        self._outbox = Outbox(
            self.household.store,
            LinkProfile(
                link_id=config.link_id,
                scopes=config.scopes,
                identified=config.identified,
                pseudonym_key=config.pseudonym_key,
                start_row=config.start_row,
                gateway_version=version,
            ),
            dt_util.get_default_time_zone(),
            {pid: person.alias for pid, person in self.household.people.items()},
        )
        transport: Transport
        if config.transport == TRANSPORT_FOLDER:
            transport = FolderTransport(self.folder(), self._run_blocking)
        else:
            assert config.fhir_base is not None
            transport = HttpTransport(
                async_get_clientsession(self.hass),
                config.fhir_base,
                config.token,
                self.sender_profile.send_timeout,
            )
        self._transport = transport
        self.people_by_pseudonym = {
            self.outbox.pseudonym(pid): pid for pid in self.household.people
        }
        state = await self.household.record.clinic_state(config.link_id)
        self._sender = Sender(
            self.outbox,
            transport,
            self._run_blocking,
            LinkLimits.from_state(state.get("limits")),
            self.sender_profile,
            known=bool(state.get("server_known")),
            now=dt_util.utcnow,
            batch_limits=LinkLimits.from_state(state.get("batch_limits")),
            batch_off=_parse_time(state.get("batch_off")),
        )
        await self._async_sync_quarantine()
        self.last_success = _parse_time(state.get("last_success"))
        self.failing_since = _parse_time(state.get("failing_since"))
        self.attempts = int(state.get("attempts") or 0)
        await self._async_catch_up_alerts(state)
        await self.async_queue_summaries(state)
        self._webhook = ClinicWebhook(self)
        await self._webhook.async_start(state)
        self._running = True
        # Whatever waited through a restart goes now, even after earlier failures.
        self.async_wake()
        await self.async_refresh()

    async def async_stop(self) -> None:
        """Stop sending (an interrupted send is simply sent again later) and the webhook."""
        self._running = False
        if self._retry is not None:
            self._retry()
            self._retry = None
        if self._webhook is not None:
            self._webhook.async_stop()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    # Queueing --------------------------------------------------------------------------

    async def async_enqueue(
        self,
        items: list[tuple[str, str, str | None, Mapping[str, Any]]],
        state: Mapping[str, Any] | None = None,
    ) -> None:
        """Put items durably into the outbox, then wake the sender."""
        if not items and not state:
            return
        await self.household.record.clinic_enqueue(self.link_id, items, state)
        self.async_wake()

    async def _async_catch_up_alerts(self, state: Mapping[str, Any]) -> None:
        """Queue alert changes a crash may have kept from the outbox.

        The alert listener queues every change as it happens; a crash between the alert
        being saved and being queued would lose that change for the clinic. So every start
        queues again each alert changed since the previous start (a conditional update: a
        second copy changes nothing on the server).
        """
        checked = _parse_time(state.get("alerts_checked")) or self.config.linked_at
        now = dt_util.utcnow()
        items: list[tuple[str, str, str | None, Mapping[str, Any]]] = []
        if SCOPE_ALERTS in self.config.scopes:
            rows = await self.household.record.alerts_updated_since(checked)
            items = [
                (KIND_ALERT, row["alert_id"], row["person_id"], row)
                for row in rows
                if row.get("person_id") in self.household.people
            ]
        await self.async_enqueue(items, {"alerts_checked": now.isoformat()})

    async def async_queue_summaries(self, state: Mapping[str, Any] | None = None) -> None:
        """Queue the daily summaries of every finished local day not yet queued."""
        if state is None:
            state = await self.household.record.clinic_state(self.link_id)
        today = dt_util.now().date()
        last_text = state.get("summary_day")
        # Consent is prospective: the first summary is of the first full day after linking.
        last = (
            date.fromisoformat(last_text)
            if isinstance(last_text, str)
            else dt_util.as_local(self.config.linked_at).date()
        )
        first = max(last + timedelta(days=1), today - timedelta(days=SUMMARY_CATCH_UP_DAYS))
        days = [first + timedelta(days=n) for n in range((today - first).days)]
        if not days:
            return
        items: list[tuple[str, str, str | None, Mapping[str, Any]]] = []
        if SCOPE_DAILY_SUMMARY in self.config.scopes:
            for day in days:
                for person_id in self.household.people:
                    payload = {"person_id": person_id, "day": day.isoformat()}
                    items.append((KIND_SUMMARY, f"{person_id}|{day}", person_id, payload))
        await self.async_enqueue(items, {"summary_day": days[-1].isoformat()})

    # Sending ---------------------------------------------------------------------------

    @callback
    def async_wake(self) -> None:
        """Something may be pending: start the sender unless it runs or waits to retry."""
        if not self._running:
            return
        if self._retry is not None:
            # Waiting to retry: no request now, but the pending count changed.
            self.bridge.entry.async_create_task(self.hass, self.async_refresh(), eager_start=False)
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._again = False
        self._task = self.bridge.entry.async_create_background_task(
            self.hass, self._async_run(), f"{DOMAIN} clinic {self.link_id[:8]} sender"
        )

    async def _async_run(self) -> None:
        while True:
            self._again = False
            error = await self._async_drain()
            if error is not None:
                await self._async_failed(error)
                await self.async_refresh()
                return
            await self.async_refresh()
            if not self._again:
                return

    async def _async_drain(self) -> DeliveryError | None:
        assert self._sender is not None
        while True:
            now = dt_util.utcnow()
            state: dict[str, Any] = {"last_success": now.isoformat()}
            if self.attempts or self.failing_since is not None:
                state |= {"attempts": 0, "failing_since": None}
            try:
                report = await self._sender.drain(state)
            except DeliveryError as err:
                await self._async_sync_quarantine()
                return err
            except Exception as err:  # a failed write must not end the sender
                _LOGGER.error(
                    "Clinic %s: delivery failed unexpectedly (%s); will retry",
                    self.config.name,
                    type(err).__name__,
                )
                return DeliveryError(REASON_TRANSIENT, diagnostics=type(err).__name__)
            if report.bundles:
                self._succeeded(now, report)
            if report.quarantined or report.bundles:
                await self._async_sync_quarantine()
            if not report.server_reset:
                return None
            # The server lost what it had: alerts and summaries go again too.
            await self._async_catch_up_alerts({"alerts_checked": None})
            await self.async_queue_summaries({"summary_day": None})

    @callback
    def _succeeded(self, now: datetime, report: DrainReport) -> None:
        if self.failing_since is not None:
            _LOGGER.info("Clinic %s is accepting data again", self.config.name)
        self.last_success = now
        self.failing_since = None
        self.attempts = 0
        self.last_error = None
        for issue in (ISSUE_CLINIC_UNREACHABLE, ISSUE_CLINIC_REJECTED, ISSUE_CLINIC_AUTH):
            ir.async_delete_issue(self.hass, DOMAIN, issue.format(self.link_id))
        _LOGGER.debug(
            "Clinic %s: delivered %d readings and %d items in %d bundles",
            self.config.name,
            report.readings,
            report.items,
            report.bundles,
        )

    async def _async_failed(self, error: DeliveryError) -> None:
        now = dt_util.utcnow()
        self.attempts += 1
        self.last_error = str(error)
        if self.failing_since is None:
            self.failing_since = now
            # Logged once per outage; the next success logs the recovery.
            _LOGGER.warning(
                "Clinic %s is not accepting data (%s); readings wait in the outbox",
                self.config.name,
                error,
            )
        delay = backoff_delay(self.attempts, self._rng)
        if error.retry_after is not None:
            delay = min(BACKOFF_CAP, max(delay, error.retry_after))
        await self.household.record.clinic_put_state(
            self.link_id,
            {"attempts": self.attempts, "failing_since": self.failing_since.isoformat()},
        )
        if error.reason == REASON_AUTH:
            self._issue(ISSUE_CLINIC_AUTH, "clinic_auth", {}, fixable=True)
        elif error.reason == REASON_REJECTED:
            diagnostics = await self._async_redact(error.diagnostics) or "—"
            self._issue(
                ISSUE_CLINIC_REJECTED,
                "clinic_rejected",
                {"status": str(error.status), "diagnostics": diagnostics},
                severity=ir.IssueSeverity.ERROR,
            )
        elif now - self.failing_since >= UNREACHABLE_AFTER:
            self._issue(
                ISSUE_CLINIC_UNREACHABLE,
                "clinic_unreachable",
                {
                    "since": dt_util.as_local(self.failing_since).strftime("%Y-%m-%d %H:%M"),
                    "hours": str(CLINIC_UNREACHABLE_HOURS),
                    "error": str(error),
                },
            )
        self._retry = async_call_later(
            self.hass, delay, HassJob(self._retry_now, cancel_on_shutdown=True)
        )

    @callback
    def _retry_now(self, _now: datetime) -> None:
        self._retry = None
        self.async_wake()

    @callback
    def _issue(
        self,
        issue: str,
        key: str,
        placeholders: dict[str, str],
        *,
        fixable: bool = False,
        severity: ir.IssueSeverity = ir.IssueSeverity.WARNING,
    ) -> None:
        async_raise_issue(
            self.hass,
            issue.format(self.link_id),
            key,
            {"clinic": self.config.name, **placeholders},
            fixable=fixable,
            severity=severity,
            data={"subentry_id": self.config.subentry_id, "link_id": self.link_id},
        )

    async def _async_redact(self, text: str) -> str:
        """The server's words without anything that names or identifies a person."""
        if not text:
            return ""
        record = self.household.record
        terms: list[str] = [self.config.token or "", self.config.hmac_secret]
        terms += [self.config.totp_secret, self.config.webhook_id]
        for person_id, person in self.household.people.items():
            terms += [person_id, person.alias, self.outbox.pseudonym(person_id)]
            profile = await record.get_profile(person_id) or {}
            terms += [str(profile.get(k) or "") for k in (CONF_BIRTH_DATE, CONF_ID_NUMBER)]
        return redact_text(text, [t for t in terms if len(t) >= 2])

    async def async_refresh(self) -> None:
        """Recount what waits and tell the entities."""
        if self._outbox is None:
            return
        self.pending = await self.hass.async_add_executor_job(self.outbox.pending_count)
        async_dispatcher_send(self.hass, SIGNAL_CLINIC_UPDATED.format(self.link_id))

    def diagnostics(self) -> dict[str, Any]:
        """Delivery state without secrets or personal data."""
        return {
            "transport": self.config.transport,
            "scopes": sorted(self.config.scopes),
            "identified_sharing": self.config.identified,
            "pending": self.pending,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "retry_scheduled": self._retry is not None,
            "limits": self._sender.limits.as_state() if self._sender else None,
            "entries_per_bundle": self._sender.limits.size() if self._sender else None,
            # Readings as FHIR batches under a small transaction cap (what it took).
            "batch_limits": self._sender.batch_limits.as_state() if self._sender else None,
            "readings_as_batches": (
                self._sender.batch_mode(dt_util.utcnow()) if self._sender else None
            ),
            "quarantined": [
                {
                    "kind": q["kind"],
                    "label": q.get("label"),
                    "status": q.get("status"),
                    "since": q["created"],
                }
                for q in self.quarantined
            ],
        }

    async def _async_sync_quarantine(self) -> None:
        """One repair issue per quarantined reading or item of this link (and no other)."""
        held = await self.household.record.clinic_quarantined(self.link_id)
        self.quarantined = held
        wanted = {ISSUE_CLINIC_QUARANTINE.format(self.link_id, q["qid"]): q for q in held}
        prefix = ISSUE_CLINIC_QUARANTINE.format(self.link_id, "")
        registry = ir.async_get(self.hass)
        for domain, issue_id in list(registry.issues):
            if domain == DOMAIN and issue_id.startswith(prefix) and issue_id not in wanted:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        for issue_id, q in wanted.items():
            if registry.async_get_issue(DOMAIN, issue_id) is not None:
                continue
            label = q.get("label") or {}
            outcome = await self._async_redact(str(q.get("outcome") or "")) or "—"
            async_raise_issue(
                self.hass,
                issue_id,
                "clinic_quarantined",
                {
                    "clinic": self.config.name,
                    "time": str(label.get("time") or "—"),
                    "what": str(label.get("what") or q["kind"]),
                    "device": str(label.get("device") or "—"),
                    "status": str(q.get("status") or "—"),
                    "outcome": outcome,
                },
                fixable=True,
                severity=ir.IssueSeverity.ERROR,
                data={"link_id": self.link_id, "qid": int(q["qid"])},
            )

    async def async_release(self, qid: int, *, retry: bool) -> bool:
        """Send a quarantined entry again, or discard it (audited); False if it is gone."""
        done = await self.household.record.clinic_quarantine_release(
            qid, retry=retry, actor="user (repair)"
        )
        await self._async_sync_quarantine()
        if retry and done:
            self.async_wake()
        await self.async_refresh()
        return done is not None


class _Runtime(Protocol):
    """What the clinic needs of the household entry's runtime data (types.SmartCareData)."""

    clinic: ClinicBridge | None


def get_bridge(hass: HomeAssistant) -> ClinicBridge | None:
    """The loaded household's clinic bridge, if any."""
    runtime: _Runtime | None = loaded_runtime(hass)
    return None if runtime is None else runtime.clinic


class ClinicBridge(HouseholdListener):
    """Every clinic link of a household."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, household: Household, alerts: AlertManager
    ) -> None:
        """Read the household's clinic subentries."""
        self.hass = hass
        self.entry = entry
        self.household = household
        self.alerts = alerts
        self.links: dict[str, ClinicLink] = {}
        for subentry in entry.subentries.values():
            if subentry.subentry_type == SUBENTRY_CLINIC:
                config = LinkConfig.from_subentry(subentry)
                self.links[config.link_id] = ClinicLink(self, config)
        self._lock = asyncio.Lock()
        self._unsubs: list[CALLBACK_TYPE] = []
        self._running = False  # hears the household only between start and stop
        self._summary_timer: CALLBACK_TYPE | None = None

    def links_with(self, scope: str) -> list[ClinicLink]:
        """Links whose consent includes ``scope``."""
        return [link for link in self.links.values() if scope in link.config.scopes]

    async def async_start(self) -> None:
        """Start every link, follow readings, alerts and medication answers."""
        integration = await async_get_integration(self.hass, DOMAIN)
        version = str(integration.version or "0")
        for link in self.links.values():
            try:
                await link.async_start(version)
            except Exception as err:  # one broken link must not stop the household
                _LOGGER.error(
                    "Clinic %s could not start (%s); its data stays in the outbox",
                    link.config.name,
                    type(err).__name__,
                )
                await link.async_stop()
        await self._async_reconcile()
        self._running = True
        self._unsubs.append(self.alerts.async_add_listener(self._alert_changed))
        self._unsubs.append(
            self.hass.bus.async_listen(EVENT_MEDICATION_ANSWERED, self._medication_answered)
        )
        self._schedule_summaries()

    async def async_stop(self) -> None:
        """Stop every link (before the record store closes)."""
        self._running = False
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self._summary_timer is not None:
            self._summary_timer()
            self._summary_timer = None
        for link in self.links.values():
            await link.async_stop()

    async def _async_reconcile(self) -> None:
        """Forget removed links; ask clinics to erase people removed from the household."""
        people = set(self.household.people)
        links = list(self.links.values())

        def _work(store: RecordStore) -> tuple[set[str], list[str]]:
            forgotten = store.clinic_link_ids() - {link.link_id for link in links}
            for link_id in forgotten:
                store.clinic_forget_link(link_id)
            erased: list[str] = []
            for link in links:
                if not link.outbox_ready:
                    continue
                for person_id in sorted(store.clinic_people(link.link_id) - people):
                    # Queued first, forgotten second: a crash in between queues it twice
                    # (harmless), never zero times.
                    store.clinic_enqueue(
                        link.link_id,
                        [
                            (
                                KIND_ERASURE,
                                person_id,
                                None,
                                {"pseudonym": link.outbox.pseudonym(person_id)},
                            )
                        ],
                    )
                    store.clinic_forget_person(link.link_id, person_id)
                    erased.append(link.link_id)
            for person_id in store.clinic_person_ids() - people:
                store.delete_clinic_advice(person_id)
            return forgotten, erased

        forgotten, erased = await self.household.record.batch(_work)
        registry = ir.async_get(self.hass)
        for link_id in forgotten:
            # An unlinked clinic's notices go with it.
            for issue in (ISSUE_CLINIC_UNREACHABLE, ISSUE_CLINIC_REJECTED, ISSUE_CLINIC_AUTH):
                ir.async_delete_issue(self.hass, DOMAIN, issue.format(link_id))
            prefix = ISSUE_CLINIC_QUARANTINE.format(link_id, "")
            for domain, issue_id in list(registry.issues):
                if domain == DOMAIN and issue_id.startswith(prefix):
                    ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        for link_id in erased:
            _LOGGER.info(
                "Asking clinic %s to erase a removed person's data", self.links[link_id].config.name
            )
            self.links[link_id].async_wake()

    # Hooks -----------------------------------------------------------------------------

    async def async_readings_stored(
        self, person: Person, stored: list[StoredMeasurement], backfilled: list[StoredMeasurement]
    ) -> None:
        """New readings: wake the links that share vital signs."""
        if not self._running:
            return
        for link in self.links_with(SCOPE_VITAL_SIGNS):
            link.async_wake()

    @callback
    def _alert_changed(self, alert: Alert, action: str, _context: Context | None) -> None:
        if self.links_with(SCOPE_ALERTS):
            self.entry.async_create_task(self.hass, self.async_enqueue_alert(alert.as_record()))

    async def async_enqueue_alert(self, record: Mapping[str, Any]) -> int:
        """Queue an alert's current state for every link sharing alerts; return how many."""
        links = self.links_with(SCOPE_ALERTS)
        item = (KIND_ALERT, str(record["alert_id"]), str(record["person_id"]), dict(record))
        # One lock for every enqueue: changes of one alert reach the outbox in order.
        async with self._lock:
            for link in links:
                await link.async_enqueue([item])
        return len(links)

    async def async_enqueue_medication(self, person_id: str, **dose: Unpack[MedicationDose]) -> int:
        """Queue one dose's reminder answer as a MedicationStatement; return links queued.

        ``answer`` is taken | skipped | snoozed | unanswered (``fhir.MEDICATION_ANSWERS``).
        Raises ``ValueError`` for an unknown answer. A later answer for the same dose
        replaces the earlier one at the clinic (conditional update).
        """
        if dose["answer"] not in MEDICATION_ANSWERS:
            raise ValueError(f"answer must be one of {sorted(MEDICATION_ANSWERS)}")
        scheduled, answered = dose["scheduled"], dose.get("answered")
        # As JSON for the outbox, which builds the MedicationStatement when it sends.
        payload = {
            "person_id": person_id,
            **dose,
            "scheduled": scheduled.isoformat(),
            "answered": answered.isoformat() if answered else None,
            "dosage": dose.get("dosage"),
            "reason": dose.get("reason"),
        }
        key = f"{person_id}|{dose['medication']}|{dt_util.as_utc(scheduled).isoformat()}"
        links = self.links_with(SCOPE_MEDICATION)
        async with self._lock:
            for link in links:
                await link.async_enqueue([(KIND_MEDICATION, key, person_id, payload)])
        return len(links)

    async def _medication_answered(self, event: Event) -> None:
        data = event.data
        person_id = data.get("person_id")
        answer = MEDICATION_STATUS.get(str(data.get("status")), "unanswered")
        if person_id not in self.household.people or not self.links_with(SCOPE_MEDICATION):
            return
        medications = await async_get_medications(self.hass, self.household, person_id)
        medication = medications.get(str(data.get("medication_id")))
        scheduled = _parse_time(data.get("time"))
        if medication is None or scheduled is None:
            return
        await self.async_enqueue_medication(
            person_id,
            medication=medication.text,
            answer=answer,
            scheduled=scheduled,
            answered=_parse_time(data.get("answered_at")) if answer != "unanswered" else None,
        )

    @callback
    def _schedule_summaries(self) -> None:
        now = dt_util.now()
        at = datetime.combine(now.date(), SUMMARY_TIME, tzinfo=now.tzinfo)
        if at <= now:
            at = datetime.combine(now.date() + timedelta(days=1), SUMMARY_TIME, tzinfo=now.tzinfo)
        self._summary_timer = async_track_point_in_utc_time(
            self.hass,
            HassJob(self._async_summary_time, cancel_on_shutdown=True),
            dt_util.as_utc(at),
        )

    async def _async_summary_time(self, _now: datetime) -> None:
        self._schedule_summaries()
        for link in self.links.values():
            await link.async_queue_summaries()
