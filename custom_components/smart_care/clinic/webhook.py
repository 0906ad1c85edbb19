"""Clinic webhooks: signed requests from a linked clinic (HA glue around core.security).

Notes: docs/modules.md (clinic/webhook.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
import logging
import math
import re
from typing import Any, Final
import uuid

from aiohttp import web
from homeassistant.components import persistent_notification, webhook
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ..const import (
    DOMAIN,
    EVENT_ADVICE,
    ISSUE_AUDIT_FAILED,
    ISSUE_TOTP_LOCKED,
    SCOPE_ALERTS,
    SCOPE_VITAL_SIGNS,
)
from ..core.boundary import BoundaryError, Limits, field_path, parse_json, safe_text
from ..core.clinical.assessment import DEFAULT_THRESHOLDS
from ..core.clinical.vitals import Vital
from ..core.outbox import FHIR_JSON
from ..core.security import (
    DEFAULT_WINDOW,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AuthError,
    AuthReason,
    RequestVerifier,
    TotpThrottle,
    TotpVerifier,
)
from ..household.issues import async_raise_issue
from .http import (
    MAX_BODY,
    PSEUDONYM_RE,
    Audit,
    Reply,
    boundary_error,
    error_reply,
    read_body,
    response,
)
from .subscription import SubscriptionEndpoint
from .types import Link

_LOGGER = logging.getLogger(__name__)

TOTP_HEADER: Final = "X-SmartCare-TOTP"
ADVICE_ID_RE: Final = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
TYPE_ADVICE: Final = "advice"
TYPE_THRESHOLDS: Final = "thresholds"
TYPE_ACKNOWLEDGE: Final = "acknowledge"
TYPE_SUMMARY: Final = "summary"
REQUEST_TYPES: Final = (TYPE_ADVICE, TYPE_THRESHOLDS, TYPE_ACKNOWLEDGE, TYPE_SUMMARY)
AUTHORITY_HMAC: Final = "hmac"
AUTHORITY_TOTP: Final = "hmac+totp"
LIMIT_LEVELS: Final = (
    "warning_low",
    "urgent_low",
    "critical_low",
    "warning_high",
    "urgent_high",
    "critical_high",
)
# Alarm limits are physiological numbers; anything beyond this is not a limit.
MAX_LIMIT: Final = 100_000.0
REQUEST_LIMITS: Final = Limits(max_bytes=MAX_BODY, max_depth=6, max_string=8000, max_keys=200)
DATA_WEBHOOKS: Final = f"{DOMAIN}_clinic_webhooks"


def _number(value: Any) -> float:
    # JSON true/false are not limits (bool is an int in Python).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number or null")
    try:
        number = float(value)
    except OverflowError:
        raise vol.Invalid("number out of range") from None
    if not math.isfinite(number) or abs(number) > MAX_LIMIT:
        raise vol.Invalid("number out of range")
    return number


_PERSON = vol.All(str, vol.Match(PSEUDONYM_RE, msg="not a pseudonym of this link"))
_TYPE_SCHEMA = vol.Schema({vol.Required("type"): vol.In(REQUEST_TYPES)}, extra=vol.ALLOW_EXTRA)
_BASE: dict[vol.Marker, Any] = {vol.Required("type"): str, vol.Required("person"): _PERSON}
_LIMITS: dict[Any, Any] = {
    vol.In([v.value for v in Vital], msg="not a vital sign"): {
        vol.In(LIMIT_LEVELS, msg="not a limit"): vol.Any(None, _number)
    }
}
SCHEMAS: Final[Mapping[str, vol.Schema]] = {
    TYPE_ADVICE: vol.Schema(
        {
            **_BASE,
            vol.Required("title"): vol.All(str, vol.Strip, vol.Length(min=1, max=120)),
            vol.Required("text"): vol.All(str, vol.Strip, vol.Length(min=1, max=8000)),
            vol.Optional("advice_id"): vol.All(str, vol.Match(ADVICE_ID_RE)),
            vol.Optional("author"): vol.All(str, vol.Strip, vol.Length(min=1, max=120)),
        }
    ),
    TYPE_THRESHOLDS: vol.Schema(
        {
            **_BASE,
            vol.Required("thresholds"): _LIMITS,
        }
    ),
    TYPE_ACKNOWLEDGE: vol.Schema(
        {**_BASE, vol.Required("alert_id"): vol.All(str, vol.Length(min=1, max=64))}
    ),
    TYPE_SUMMARY: vol.Schema(
        {
            **_BASE,
            vol.Optional("days", default=7): vol.All(int, vol.Range(min=1, max=90)),
            vol.Optional("identified", default=False): bool,
        }
    ),
}
# Names a refusal may quote; any other key shows as "?" (never the sender's bytes).
KNOWN_FIELDS: Final = frozenset(
    {"type", "person", "title", "text", "advice_id", "author", "thresholds", "alert_id"}
    | {"days", "identified", *LIMIT_LEVELS, *(v.value for v in Vital)}
)


def _now() -> float:
    return dt_util.utcnow().timestamp()


def webhook_of(hass: HomeAssistant, link_id: str) -> ClinicWebhook | None:
    """The running webhook of a clinic link."""
    webhooks: dict[str, ClinicWebhook] = hass.data.get(DATA_WEBHOOKS, {})
    return webhooks.get(link_id)


class ClinicWebhook:
    """The webhook of one clinic link."""

    def __init__(self, link: Link) -> None:
        """Bind to the link; ``async_start`` registers the webhook."""
        self.link = link
        self.hass = link.hass
        self._verifier: RequestVerifier | None = None
        self._totp: TotpVerifier | None = None
        self.throttle = TotpThrottle(clock=_now)
        # Signatures accepted recently, also across a restart (from the audit trail).
        self._seen: dict[str, float] = {}
        self._next_prune = 0.0
        self._subscription = SubscriptionEndpoint(self)

    async def async_start(self, state: Mapping[str, Any]) -> None:
        """Restore replay protection and register the webhook."""
        config = self.link.config
        self._verifier = RequestVerifier(config.hmac_secret, clock=_now)
        last_step = state.get("totp_last_step")
        self._totp = TotpVerifier(
            config.totp_secret,
            clock=_now,
            last_step=last_step if isinstance(last_step, int) else None,
        )
        throttle_state = state.get("totp_throttle")
        self.throttle = TotpThrottle(
            clock=_now, state=throttle_state if isinstance(throttle_state, dict) else None
        )
        since = dt_util.utcnow().timestamp() - 2 * DEFAULT_WINDOW
        rows = await self.link.household.record.clinic_audit_rows(
            config.link_id, dt_util.utc_from_timestamp(since)
        )
        for row in rows:
            if row["signature"]:
                when = dt_util.parse_datetime(row["time"])
                expires = (when.timestamp() if when else since) + 2 * DEFAULT_WINDOW
                self._seen[row["signature"]] = expires
        self.hass.data.setdefault(DATA_WEBHOOKS, {})[config.link_id] = self
        webhook.async_register(
            self.hass,
            DOMAIN,
            f"Smart Care clinic {config.name}",
            config.webhook_id,
            self._async_handle,
            local_only=False,
            allowed_methods=["POST"],
        )

    def async_stop(self) -> None:
        """Unregister the webhook."""
        self.hass.data.get(DATA_WEBHOOKS, {}).pop(self.link.config.link_id, None)
        webhook.async_unregister(self.hass, self.link.config.webhook_id)

    async def _async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        try:
            return await self._async_handle_request(request)
        except Exception as err:
            _LOGGER.error("Clinic webhook request failed (%s)", type(err).__name__)
            return web.Response(
                text='{"error":"internal_error"}', status=500, content_type="application/json"
            )

    async def _async_handle_request(self, request: web.Request) -> web.Response:
        audit = Audit()
        try:
            if SIGNATURE_HEADER not in request.headers and self._subscription.claims(request):
                reply = await self._subscription.async_process(request, audit)
            else:
                reply = await self._async_process(request, audit)
        except Exception as err:  # a bug must not become HA's silent 200
            _LOGGER.error(
                "Clinic %s webhook request failed (%s)", self.link.config.name, type(err).__name__
            )
            reply = error_reply(500, "internal_error")
        await self._async_audit(audit, reply)
        log = _LOGGER.info if reply.status < 500 else _LOGGER.error
        log(
            "Clinic %s webhook: %s -> %d %s (%s)",
            self.link.config.name,
            audit.request_type,
            reply.status,
            reply.outcome,
            audit.authority,
        )
        return response(reply)

    async def _async_audit(self, audit: Audit, reply: Reply) -> None:
        """Write the request's one audit row; a failure is reported, never swallowed."""
        person = audit.person
        if person is not None and not PSEUDONYM_RE.match(person):
            person = safe_text(person)
        try:
            await self.link.household.record.clinic_audit(
                self.link.link_id,
                safe_text(audit.request_type, 32),
                person,
                reply.status,
                safe_text(reply.outcome, 64),
                audit.authority,
                audit.signature,
            )
        except Exception as err:
            _LOGGER.error(
                "Clinic %s webhook: audit row not written (%s)",
                self.link.config.name,
                type(err).__name__,
            )
            async_raise_issue(
                self.hass,
                ISSUE_AUDIT_FAILED,
                ISSUE_AUDIT_FAILED,
                {
                    "clinic": self.link.config.name,
                    "error": type(err).__name__,
                },
                severity=ir.IssueSeverity.ERROR,
            )

    def _prune(self, now: float) -> None:
        # At most every 10 s: rebuilding per request made a burst quadratic. A stale entry
        # refuses nothing the ±window check would accept anyway.
        if now < self._next_prune:
            return
        self._next_prune = now + 10
        self._seen = {sig: exp for sig, exp in self._seen.items() if exp > now}

    def check_replay(self, key: str, audit: Audit) -> Reply | None:
        """Refuse a key (signature) seen within the window; remember a new one."""
        now = _now()
        self._prune(now)
        if key in self._seen:
            return error_reply(401, "replayed")
        audit.signature = key
        self._seen[key] = now + 2 * DEFAULT_WINDOW
        return None

    def _check_signature(self, request: web.Request, body: bytes, audit: Audit) -> Reply | None:
        assert self._verifier is not None
        signature = request.headers.get(SIGNATURE_HEADER)
        normalized = signature.strip().lower() if signature else None
        now = _now()
        self._prune(now)
        if normalized and normalized in self._seen:
            return error_reply(401, "replayed")
        try:
            self._verifier.verify(request.headers.get(TIMESTAMP_HEADER), signature, body)
        except AuthError as err:
            return error_reply(401, err.reason.value)
        assert normalized is not None
        audit.authority = AUTHORITY_HMAC
        audit.signature = normalized
        self._seen[normalized] = now + 2 * DEFAULT_WINDOW
        return None

    async def _async_process(self, request: web.Request, audit: Audit) -> Reply:
        body = await read_body(request)
        if body is None:
            return error_reply(413, "too_large", message=f"at most {MAX_BODY} bytes")
        if (refused := self._check_signature(request, body, audit)) is not None:
            return refused
        try:
            doc = parse_json(body, REQUEST_LIMITS, KNOWN_FIELDS)
        except BoundaryError as err:
            return boundary_error(err)
        if not isinstance(doc, dict):
            return error_reply(400, "invalid_body", message="a JSON object is expected")
        try:
            _TYPE_SCHEMA(doc)
        except vol.Invalid:
            return error_reply(400, "unknown_type", "type", f"one of {', '.join(REQUEST_TYPES)}")
        audit.request_type = doc["type"]
        if isinstance(doc.get("person"), str):
            audit.person = doc["person"][:64]
        try:
            data: dict[str, Any] = SCHEMAS[doc["type"]](doc)
        except vol.Invalid as err:
            return error_reply(400, "invalid_field", field_path(err.path, KNOWN_FIELDS), err.msg)
        handler: Callable[[dict[str, Any], web.Request, Audit], Any] = {
            TYPE_ADVICE: self._async_advice,
            TYPE_THRESHOLDS: self._async_thresholds,
            TYPE_ACKNOWLEDGE: self._async_acknowledge,
            TYPE_SUMMARY: self._async_summary,
        }[data["type"]]
        reply: Reply = await handler(data, request, audit)
        return reply

    def _person(self, data: Mapping[str, Any]) -> str | None:
        person_id = self.link.people_by_pseudonym.get(data["person"])
        return person_id if person_id in self.link.household.people else None

    async def _async_totp(self, request: web.Request, audit: Audit) -> Reply:
        assert self._totp is not None
        record = self.link.household.record
        if (wait := self.throttle.retry_after()) > 0:
            # Not even checked: a guesser learns nothing while the link is locked.
            return self._locked(wait)
        try:
            self._totp.verify(request.headers.get(TOTP_HEADER))
        except AuthError as err:
            if err.reason is not AuthReason.BAD_TOTP:
                return error_reply(403, err.reason.value)
            locked = self.throttle.failed()
            await record.clinic_put_state(self.link.link_id, {"totp_throttle": self.throttle.state})
            if locked:
                _LOGGER.warning(
                    "Clinic %s: too many wrong TOTP codes; codes refused for %d s",
                    self.link.config.name,
                    locked,
                )
                async_raise_issue(
                    self.hass,
                    ISSUE_TOTP_LOCKED.format(self.link.link_id),
                    "clinic_totp_locked",
                    {
                        "clinic": self.link.config.name,
                        "minutes": str(locked // 60),
                    },
                )
                return self._locked(locked)
            return error_reply(403, err.reason.value)
        audit.authority = AUTHORITY_TOTP
        # Persisted before acting: a restart cannot make this code valid again.
        await record.clinic_put_state(self.link.link_id, {"totp_last_step": self._totp.last_step})
        return Reply(0, None, "")

    def _locked(self, wait: int) -> Reply:
        reply = error_reply(429, "totp_locked", message="too many wrong codes; retry later")
        reply.headers["Retry-After"] = str(wait)
        return reply

    async def async_clear_lockout(self) -> None:
        """The household lifts a TOTP lockout (service ``clear_totp_lockout``)."""
        self.throttle.clear()
        await self.link.household.record.clinic_put_state(
            self.link.link_id, {"totp_throttle": self.throttle.state}
        )
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_TOTP_LOCKED.format(self.link.link_id))

    async def _async_advice(
        self, data: dict[str, Any], request: web.Request, audit: Audit
    ) -> Reply:
        person_id = self._person(data)
        if person_id is None:
            return error_reply(404, "unknown_person")
        return await self.async_store_advice(
            person_id, data["title"], data["text"], data.get("author"), data.get("advice_id")
        )

    async def async_store_advice(
        self, person_id: str, title: str, text: str, author: str | None, clinic_id: str | None
    ) -> Reply:
        """Keep a clinician's advice in the record and tell the household."""
        person = self.link.household.people[person_id]
        # Namespaced per link: two clinics may both send advice "1".
        advice_id = (
            uuid.uuid5(uuid.NAMESPACE_URL, f"{self.link.link_id}/{clinic_id}").hex
            if clinic_id
            else uuid.uuid4().hex
        )
        payload = {
            "title": title,
            "text": text,
            "author": author,
            "clinic": self.link.config.name,
            "clinic_advice_id": clinic_id,
        }
        stored = await self.link.household.record.put_advice(
            advice_id, self.link.link_id, person_id, payload
        )
        reply_id = clinic_id or advice_id
        if not stored:
            return Reply(200, {"status": "duplicate", "advice_id": reply_id}, "duplicate")
        persistent_notification.async_create(
            self.hass,
            text + (f"\n\n— {author}" if author else ""),
            title=f"{person.alias}: {title} ({self.link.config.name})",
            notification_id=f"{DOMAIN}_advice_{advice_id}",
        )
        self.hass.bus.async_fire(
            EVENT_ADVICE,
            {
                "person_id": person_id,
                "person": person.alias,
                "advice_id": advice_id,
                "title": title,
                "clinic": self.link.config.name,
            },
        )
        return Reply(201, {"status": "stored", "advice_id": reply_id}, "stored")

    async def _async_thresholds(
        self, data: dict[str, Any], request: web.Request, audit: Audit
    ) -> Reply:
        overrides: dict[str, dict[str, float | None]] = data["thresholds"]
        try:
            DEFAULT_THRESHOLDS.with_overrides(overrides)
        except ValueError as err:
            return error_reply(400, "invalid_thresholds", "thresholds", str(err))
        person_id = self._person(data)
        if person_id is None:
            return error_reply(404, "unknown_person")
        if (totp := await self._async_totp(request, audit)).status:
            return totp
        person = self.link.household.people[person_id]
        await self.link.alerts.async_set_thresholds(person, overrides)
        return Reply(200, {"status": "updated"}, "updated")

    async def _async_acknowledge(
        self, data: dict[str, Any], request: web.Request, audit: Audit
    ) -> Reply:
        person_id = self._person(data)
        return await self.async_acknowledge(person_id, data["alert_id"])

    async def async_acknowledge(self, person_id: str | None, alert_id: str) -> Reply:
        """A clinician has seen an alert of one of this link's people."""
        if SCOPE_ALERTS not in self.link.config.scopes:
            return error_reply(403, "scope_not_granted", message=SCOPE_ALERTS)
        if person_id is None:
            return error_reply(404, "unknown_person")
        alerts = self.link.alerts
        alert = alerts.alerts.get(alert_id)
        if alert is None or alert.person_id != person_id:
            return error_reply(404, "unknown_alert")
        alert = await alerts.async_acknowledge(alert.alert_id, f"clinic:{self.link.config.name}")
        return Reply(200, {"status": alert.status, "alert_id": alert.alert_id}, "acknowledged")

    async def _async_summary(
        self, data: dict[str, Any], request: web.Request, audit: Audit
    ) -> Reply:
        if SCOPE_VITAL_SIGNS not in self.link.config.scopes:
            return error_reply(403, "scope_not_granted", message=SCOPE_VITAL_SIGNS)
        identified: bool = data["identified"]
        if identified and not self.link.config.identified:
            return error_reply(403, "identified_not_allowed")
        person_id = self._person(data)
        if person_id is None:
            return error_reply(404, "unknown_person")
        if identified and (totp := await self._async_totp(request, audit)).status:
            return totp
        alerts = []
        if SCOPE_ALERTS in self.link.config.scopes:
            alerts = [a.as_record() for a in self.link.alerts.active_alerts(person_id)]
        bundle = await self.hass.async_add_executor_job(
            partial(
                self.link.outbox.pull_summary,
                person_id,
                days=data["days"],
                identified=identified,
                now=dt_util.utcnow(),
                alerts=alerts,
            )
        )
        outcome = "identified" if identified else "pseudonymous"
        return Reply(200, bundle, outcome, content_type=FHIR_JSON)
