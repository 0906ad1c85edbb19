"""FHIR R4 rest-hook Subscription notifications from a clinic's own server (HA glue).

Notes: docs/modules.md (clinic/subscription.py).
"""

from __future__ import annotations

from datetime import datetime
import hashlib
import hmac
import re
from typing import Any, Final

from aiohttp import web
from homeassistant.util import dt as dt_util

from ..core.boundary import BoundaryError, Limits, parse_json
from ..core.fhir import ALERT_SYSTEM, PSEUDONYM_SYSTEM
from ..core.security import (
    DEFAULT_WINDOW,
    subscription_secret,
    subscription_signature,
    subscription_token,
)
from .http import MAX_BODY, PSEUDONYM_RE, Audit, Reply, boundary_error, error_reply, read_body
from .types import LinkWebhook

MEDPLUM_SIGNATURE_HEADER: Final = "X-Signature"
AUTHORIZATION_HEADER: Final = "Authorization"
AUTHORITY_BEARER: Final = "fhir-bearer"
AUTHORITY_SIGNED: Final = "fhir-signature"
REQUEST_FHIR: Final = "fhir"
FHIR_LIMITS: Final = Limits(
    max_bytes=MAX_BODY,
    max_depth=16,
    max_string=8000,
    max_keys=2000,
)
KNOWN_FHIR_FIELDS: Final = frozenset(
    {
        "resourceType",
        "id",
        "meta",
        "lastUpdated",
        "subject",
        "recipient",
        "patient",
        "identifier",
        "system",
        "value",
        "payload",
        "contentString",
        "topic",
        "text",
        "sender",
        "display",
        "status",
        "mitigation",
        "author",
        "category",
    }
)
_ID_RE: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_SIG_RE: Final = re.compile(r"^[0-9a-fA-F]{64}$")
RESOURCE_TYPES: Final = ("Communication", "DetectedIssue", "Flag")


def _identifier(value: Any, system: str) -> str | None:
    """The value of a Reference's or resource's identifier in ``system``."""
    if not isinstance(value, dict):
        return None
    identifiers = value.get("identifier")
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    if not isinstance(identifiers, list):
        return None
    for item in identifiers:
        if isinstance(item, dict) and item.get("system") == system:
            found = item.get("value")
            return found if isinstance(found, str) else None
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("text")
    return value.strip() if isinstance(value, str) and value.strip() else None


class SubscriptionEndpoint:
    """The FHIR notification side of one link's webhook."""

    def __init__(self, hook: LinkWebhook) -> None:
        """Bind to the link's webhook (replay memory and actions are shared)."""
        self.hook = hook

    def claims(self, request: web.Request) -> bool:
        """Whether a request without our own signature header is a FHIR notification."""
        headers = request.headers
        return MEDPLUM_SIGNATURE_HEADER in headers or AUTHORIZATION_HEADER in headers

    def _authenticate(self, request: web.Request, body: bytes, audit: Audit) -> Reply | None:
        secret = self.hook.link.config.hmac_secret
        signature = request.headers.get(MEDPLUM_SIGNATURE_HEADER)
        if signature is not None:
            candidate = signature.strip().lower()
            expected = subscription_signature(subscription_secret(secret), body)
            if not _SIG_RE.match(candidate) or not hmac.compare_digest(
                expected.encode(), candidate.encode()
            ):
                return error_reply(401, "bad_signature")
            audit.authority = AUTHORITY_SIGNED
            key = candidate
        else:
            scheme, _, token = request.headers.get(AUTHORIZATION_HEADER, "").partition(" ")
            expected = subscription_token(secret)
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                expected.encode(), token.strip().encode("utf-8", "replace")
            ):
                return error_reply(401, "bad_token")
            audit.authority = AUTHORITY_BEARER
            key = hashlib.sha256(body).hexdigest()
        return self.hook.check_replay(key, audit)

    async def async_process(self, request: web.Request, audit: Audit) -> Reply:
        """Check and act on one notification."""
        audit.request_type = REQUEST_FHIR
        body = await read_body(request)
        if body is None:
            return error_reply(413, "too_large", message=f"at most {MAX_BODY} bytes")
        if (refused := self._authenticate(request, body, audit)) is not None:
            return refused
        try:
            doc = parse_json(body, FHIR_LIMITS, KNOWN_FHIR_FIELDS)
        except BoundaryError as err:
            return boundary_error(err)
        if not isinstance(doc, dict) or doc.get("resourceType") not in RESOURCE_TYPES:
            return error_reply(
                400, "unsupported_resource", "resourceType", f"one of {', '.join(RESOURCE_TYPES)}"
            )
        kind: str = doc["resourceType"]
        audit.request_type = f"fhir:{kind}"
        if (stale := self._fresh(doc)) is not None:
            return stale
        if kind == "Communication":
            return await self._async_communication(doc, audit)
        return await self._async_alert(doc, audit)

    @staticmethod
    def _fresh(doc: dict[str, Any]) -> Reply | None:
        meta = doc.get("meta")
        updated = meta.get("lastUpdated") if isinstance(meta, dict) else None
        when: datetime | None = None
        if isinstance(updated, str) and len(updated) <= 40:
            when = dt_util.parse_datetime(updated)
        if when is None or when.tzinfo is None:
            return error_reply(400, "invalid_field", "meta.lastUpdated", "an instant is required")
        if abs(dt_util.utcnow().timestamp() - when.timestamp()) > DEFAULT_WINDOW:
            return error_reply(401, "expired")
        return None

    def _person(self, pseudonym: str | None, audit: Audit) -> str | None:
        if pseudonym is None:
            return None
        audit.person = pseudonym[:64]
        if not PSEUDONYM_RE.match(pseudonym):
            return None
        link = self.hook.link
        person_id = link.people_by_pseudonym.get(pseudonym)
        return person_id if person_id in link.household.people else None

    async def _async_communication(self, doc: dict[str, Any], audit: Audit) -> Reply:
        pseudonym = _identifier(doc.get("subject"), PSEUDONYM_SYSTEM)
        if pseudonym is None:
            recipients = doc.get("recipient")
            if isinstance(recipients, list):
                for recipient in recipients:
                    if pseudonym := _identifier(recipient, PSEUDONYM_SYSTEM):
                        break
        if pseudonym is None:
            return error_reply(
                400, "invalid_field", "subject", "a pseudonym identifier is required"
            )
        status = doc.get("status")
        if status in ("entered-in-error", "not-done", "stopped"):
            return error_reply(400, "invalid_field", "status", "not a message to deliver")
        parts: list[str] = []
        payload = doc.get("payload")
        if isinstance(payload, list):
            parts = [
                p["contentString"].strip()
                for p in payload
                if isinstance(p, dict)
                and isinstance(p.get("contentString"), str)
                and p["contentString"].strip()
            ]
        text = "\n\n".join(parts)
        if not text or len(text) > 8000:
            return error_reply(400, "invalid_field", "payload", "1-8000 characters of text")
        categories = doc.get("category")
        category = categories[0] if isinstance(categories, list) and categories else None
        title = _text(doc.get("topic")) or _text(category) or "Advice"
        sender = doc.get("sender")
        author = _text({"text": sender.get("display")}) if isinstance(sender, dict) else None
        resource_id = doc.get("id")
        clinic_id = (
            f"Communication-{resource_id}"
            if isinstance(resource_id, str) and _ID_RE.match(resource_id)
            else None
        )
        person_id = self._person(pseudonym, audit)
        if person_id is None:
            return error_reply(404, "unknown_person")
        return await self.hook.async_store_advice(
            person_id, title[:120], text, author[:120] if author else None, clinic_id
        )

    async def _async_alert(self, doc: dict[str, Any], audit: Audit) -> Reply:
        alert_id = _identifier(doc, ALERT_SYSTEM)
        if alert_id is None or not 0 < len(alert_id) <= 64:
            return error_reply(
                400, "invalid_field", "identifier", "an alert identifier is required"
            )
        if doc["resourceType"] == "DetectedIssue":
            mitigations = doc.get("mitigation")
            by_clinician = isinstance(mitigations, list) and any(
                isinstance(m, dict) and m.get("author") for m in mitigations
            )
            if not by_clinician:
                # The bridge's own updates come back through the clinic's Subscription too.
                return Reply(200, {"status": "ignored"}, "ignored")
            reference = doc.get("patient")
        else:
            reference = doc.get("subject")
        alert = self.hook.link.alerts.alerts.get(alert_id)
        person_id = alert.person_id if alert is not None else None
        named = _identifier(reference, PSEUDONYM_SYSTEM)
        link = self.hook.link
        if named is not None:
            person_id = self._person(named, audit)
        elif person_id not in link.people_by_pseudonym.values():
            # Only people this link knows: its pseudonym map holds exactly them.
            person_id = None
        if person_id is None:
            return error_reply(404, "unknown_person")
        return await self.hook.async_acknowledge(person_id, alert_id)
