"""Clinic webhooks through HA's real HTTP server: every status, nothing changed on refusal.

Requests are signed exactly as docs/clinic.md tells clinics (core.security's helpers
produce the same bytes as the documented openssl line, see test_webhook_docs.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import json
import logging
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.components.persistent_notification import (
    _async_get_or_create_notifications,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util import dt as dt_util
import pyotp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.clinic.webhook import MAX_BODY, TOTP_HEADER
from custom_components.smart_care.const import DOMAIN, EVENT_ADVICE
from custom_components.smart_care.core import fhir
from custom_components.smart_care.core.clinical.assessment import DEFAULT_THRESHOLDS
from custom_components.smart_care.core.security import signed_headers
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID
from tests.support.clinic_support import (
    alerts,
    household,
    link_clinic,
    only_link,
    record,
    settle,
    validate_bundle,
)

ADVICE_TEXT = "Please take your blood pressure twice daily this week. sentinel-advice-text"


class Clinic:
    """A clinic's HTTP client for one link: signs like docs/clinic.md."""

    def __init__(self, client: TestClient, data: dict[str, Any], pseudonym: str) -> None:
        self.client = client
        self.data = data
        self.path = f"/api/webhook/{data['webhook_id']}"
        self.secret = data["hmac_secret"]
        self.totp = pyotp.TOTP(data["totp_secret"])
        self.pseudonym = pseudonym
        self._step = 0
        self._sent = 0
        self._base = int(dt_util.utcnow().timestamp())

    def code(self) -> str:
        """A fresh TOTP code (a later step each time: codes are single use)."""
        now = dt_util.utcnow().timestamp()
        code = self.totp.at(now + 30 * self._step)
        self._step += 1
        return code

    async def post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        totp: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        # A request re-signed in the same second is byte-identical: a replay. A real
        # clinic's clock moves on; here each request is signed a second before the last.
        self._sent += 1
        when = timestamp if timestamp is not None else self._base - self._sent
        sent = {"Content-Type": "application/json", **signed_headers(self.secret, body, when)}
        if totp is not None:
            sent[TOTP_HEADER] = totp
        sent |= headers or {}
        response = await self.client.post(self.path, data=body, headers=sent)
        return response.status, await response.json(content_type=None)


@pytest.fixture
async def clinic(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
) -> Clinic:
    """A linked clinic (folder transport: no server needed) allowed identified data."""
    _, data, _ = await link_clinic(hass, loaded_household, transport="folder", identified=True)
    (person_id,) = household(hass).people
    return Clinic(await hass_client_no_auth(), data, only_link(hass).outbox.pseudonym(person_id))


@pytest.fixture
def advice_events(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Every smart_care_advice event."""
    fired: list[dict[str, Any]] = []

    @callback
    def _listen(event: Event) -> None:
        fired.append(dict(event.data))

    hass.bus.async_listen(EVENT_ADVICE, _listen)
    return fired


async def audit(hass: HomeAssistant) -> list[tuple[str, int, str, str]]:
    rows = await hass.async_add_executor_job(household(hass).store.clinic_audit_rows)
    return [(r["type"], r["status"], r["outcome"], r["authority"]) for r in rows]


def advice(clinic: Clinic, **extra: Any) -> dict[str, Any]:
    return {
        "type": "advice",
        "person": clinic.pseudonym,
        "title": "Blood pressure follow-up",
        "text": ADVICE_TEXT,
        **extra,
    }


async def nothing_changed(hass: HomeAssistant) -> None:
    store = household(hass).store
    assert await hass.async_add_executor_job(store.advice) == []
    (person,) = household(hass).people.values()
    assert alerts(hass).thresholds[person.person_id] == DEFAULT_THRESHOLDS
    assert not [n for n in _async_get_or_create_notifications(hass) if "advice" in n]


async def test_advice_is_stored_notified_and_announced(
    hass: HomeAssistant,
    clinic: Clinic,
    advice_events: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    status, body = await clinic.post(advice(clinic, advice_id="adv-1", author="Dr Li"))
    assert status == 201
    assert body == {"status": "stored", "advice_id": "adv-1"}
    (stored,) = await hass.async_add_executor_job(household(hass).store.advice)
    assert stored["text"] == ADVICE_TEXT
    assert stored["clinic"] == "Community Clinic"
    (event,) = advice_events
    assert event["person"] == "Grandma"
    assert event["title"] == "Blood pressure follow-up"
    assert "text" not in event  # the free text stays off the bus
    notification = _async_get_or_create_notifications(hass)[f"{DOMAIN}_advice_{event['advice_id']}"]
    assert ADVICE_TEXT in notification["message"]
    assert notification["title"] == "Grandma: Blood pressure follow-up (Community Clinic)"
    # The same advice id again (a clinic retry, re-signed): kept once.
    status, body = await clinic.post(advice(clinic, advice_id="adv-1", author="Dr Li"))
    assert (status, body["status"]) == (200, "duplicate")
    assert len(advice_events) == 1
    assert await audit(hass) == [
        ("advice", 201, "stored", "hmac"),
        ("advice", 200, "duplicate", "hmac"),
    ]
    for secret in (ADVICE_TEXT, clinic.pseudonym, clinic.secret):
        assert secret not in caplog.text
    assert "webhook: advice -> 201 stored (hmac)" in caplog.text


@pytest.mark.parametrize(
    ("mutate", "status", "error"),
    [
        (lambda c, h: h.update({"X-SmartCare-Signature": "0" * 64}), 401, "bad_signature"),
        (lambda c, h: h.pop("X-SmartCare-Signature"), 401, "missing_signature"),
        (lambda c, h: h.update({"X-SmartCare-Timestamp": "soon"}), 401, "malformed_timestamp"),
    ],
)
async def test_bad_signatures_are_refused(
    hass: HomeAssistant, clinic: Clinic, mutate: Any, status: int, error: str
) -> None:
    body = json.dumps(advice(clinic)).encode()
    headers = signed_headers(clinic.secret, body, int(dt_util.utcnow().timestamp()))
    mutate(clinic, headers)
    response = await clinic.client.post(clinic.path, data=body, headers=headers)
    assert response.status == status
    assert await response.json() == {"error": error}
    await nothing_changed(hass)
    assert await audit(hass) == [("unknown", status, error, "none")]


async def test_expired_and_replayed_requests_are_refused(
    hass: HomeAssistant, clinic: Clinic, loaded_household: MockConfigEntry
) -> None:
    old = int(dt_util.utcnow().timestamp()) - 301
    assert await clinic.post(advice(clinic), timestamp=old) == (401, {"error": "expired"})
    await nothing_changed(hass)
    body = json.dumps(advice(clinic, advice_id="a1")).encode()
    headers = {
        "Content-Type": "application/json",
        **signed_headers(clinic.secret, body, int(dt_util.utcnow().timestamp())),
    }
    first = await clinic.client.post(clinic.path, data=body, headers=headers)
    assert first.status == 201
    again = await clinic.client.post(clinic.path, data=body, headers=headers)
    assert (again.status, await again.json()) == (401, {"error": "replayed"})
    # Replay protection survives a restart (the audit trail remembers the signature).
    await hass.config_entries.async_reload(loaded_household.entry_id)
    await settle(hass)
    again = await clinic.client.post(clinic.path, data=body, headers=headers)
    assert (again.status, await again.json()) == (401, {"error": "replayed"})
    assert len(await hass.async_add_executor_job(household(hass).store.advice)) == 1
    assert [row[1:3] for row in await audit(hass)] == [
        (401, "expired"),
        (201, "stored"),
        (401, "replayed"),
        (401, "replayed"),
    ]


async def test_oversized_bodies_are_refused_before_reading_them(
    hass: HomeAssistant, clinic: Clinic
) -> None:
    big = advice(clinic, text="x" * (MAX_BODY + 10))
    status, body = await clinic.post(big)
    assert (status, body["error"]) == (413, "too_large")

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: chunked, counted while reading.
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024

    response = await clinic.client.post(clinic.path, data=chunks())
    assert response.status == 413
    await nothing_changed(hass)
    assert [row[1] for row in await audit(hass)] == [413, 413]


@pytest.mark.parametrize(
    ("payload", "error", "field"),
    [
        (b"{not json", "malformed_json", None),
        (b"[1, 2]", "invalid_body", None),
        ({"type": "gossip"}, "unknown_type", "type"),
        ({"person": "x"}, "unknown_type", "type"),
        ("no_title", "invalid_field", "title"),
        ("bad_person", "invalid_field", "person"),
        ("extra", "invalid_field", "?"),  # unknown keys are never echoed
        ("bool_limit", "invalid_field", "thresholds.systolic_bp.warning_high"),
        ("bad_limits", "invalid_thresholds", "thresholds"),
        ("days", "invalid_field", "days"),
    ],
)
async def test_bad_requests_name_the_problem(
    hass: HomeAssistant, clinic: Clinic, payload: Any, error: str, field: str | None
) -> None:
    cases: dict[str, dict[str, Any]] = {
        "no_title": {"type": "advice", "person": clinic.pseudonym, "text": "t"},
        "bad_person": advice(clinic) | {"person": "Grandma"},
        "extra": advice(clinic) | {"colour": "red"},
        "bool_limit": {
            "type": "thresholds",
            "person": clinic.pseudonym,
            "thresholds": {"systolic_bp": {"warning_high": True}},
        },
        "bad_limits": {
            "type": "thresholds",
            "person": clinic.pseudonym,
            "thresholds": {"systolic_bp": {"warning_high": 90, "urgent_high": 80}},
        },
        "days": {"type": "summary", "person": clinic.pseudonym, "days": 400},
    }
    if isinstance(payload, str):
        payload = cases[payload]
    status, body = await clinic.post(payload, totp=clinic.code())
    assert status == 400
    assert body["error"] == error
    assert body.get("field") == field
    await nothing_changed(hass)
    ((_, audited_status, outcome, authority),) = await audit(hass)
    assert (audited_status, outcome, authority) == (400, error, "hmac")


@pytest.mark.parametrize(
    "extra",
    [
        {"type": "advice", "title": "t", "text": "x"},
        {"type": "thresholds", "thresholds": {"pulse": {"warning_high": 120}}},
        {"type": "acknowledge", "alert_id": "a1"},
        {"type": "summary"},
    ],
)
async def test_unknown_person_is_404(
    hass: HomeAssistant, clinic: Clinic, extra: dict[str, Any]
) -> None:
    stranger = "sc-" + "a" * 26
    assert await clinic.post({"person": stranger, **extra}, totp=clinic.code()) == (
        404,
        {"error": "unknown_person"},
    )
    await nothing_changed(hass)
    assert await audit(hass) == [(extra["type"], 404, "unknown_person", "hmac")]


async def test_a_failed_audit_write_still_answers(
    hass: HomeAssistant,
    clinic: Clinic,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def _broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(household(hass).store, "clinic_audit", _broken)
    status, _ = await clinic.post(advice(clinic) | {"person": 7})
    assert status == 400
    assert "audit row not written (OSError)" in caplog.text


async def test_thresholds_need_a_fresh_totp(
    hass: HomeAssistant, clinic: Clinic, loaded_household: MockConfigEntry
) -> None:
    payload = {
        "type": "thresholds",
        "person": clinic.pseudonym,
        "thresholds": {"systolic_bp": {"warning_high": 150, "urgent_high": 175}},
    }
    assert await clinic.post(payload) == (403, {"error": "missing_totp"})
    assert await clinic.post(payload, totp="000000") == (403, {"error": "bad_totp"})
    await nothing_changed(hass)
    code = clinic.code()
    assert await clinic.post(payload, totp=code) == (200, {"status": "updated"})
    (person,) = household(hass).people.values()
    limits = alerts(hass).thresholds[person.person_id]
    assert limits != DEFAULT_THRESHOLDS
    # A code is used once, also after a restart.
    assert await clinic.post(payload, totp=code) == (403, {"error": "totp_replayed"})
    await hass.config_entries.async_reload(loaded_household.entry_id)
    await settle(hass)
    assert await clinic.post(payload, totp=code) == (403, {"error": "totp_replayed"})
    assert [row[1:] for row in await audit(hass)] == [
        (403, "missing_totp", "hmac"),
        (403, "bad_totp", "hmac"),
        (200, "updated", "hmac+totp"),
        (403, "totp_replayed", "hmac"),
        (403, "totp_replayed", "hmac"),
    ]


async def test_clinician_acknowledges_an_alert(
    hass: HomeAssistant, clinic: Clinic, advice_events: list[dict[str, Any]]
) -> None:
    await record(hass, systolic=150, diastolic=85)
    (alert,) = alerts(hass).active_alerts()
    payload = {"type": "acknowledge", "person": clinic.pseudonym, "alert_id": "nope"}
    assert await clinic.post(payload) == (404, {"error": "unknown_alert"})
    assert alert.status == "open"
    status, body = await clinic.post(payload | {"alert_id": alert.alert_id})
    assert (status, body) == (200, {"status": "acknowledged", "alert_id": alert.alert_id})
    assert alert.acknowledged_by == "clinic:Community Clinic"


async def test_acknowledge_needs_the_alerts_scope(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
) -> None:
    _, data, _ = await link_clinic(
        hass, loaded_household, transport="folder", scopes=["daily_summary"]
    )
    (person_id,) = household(hass).people
    clinic = Clinic(await hass_client_no_auth(), data, only_link(hass).outbox.pseudonym(person_id))
    await record(hass, systolic=150, diastolic=85)
    (alert,) = alerts(hass).active_alerts()
    payload = {"type": "acknowledge", "person": clinic.pseudonym, "alert_id": alert.alert_id}
    assert await clinic.post(payload) == (403, {"error": "scope_not_granted", "message": "alerts"})
    summary = {"type": "summary", "person": clinic.pseudonym}
    assert (await clinic.post(summary))[0] == 403
    assert alert.status == "open"


async def test_summary_is_pseudonymous_unless_identified_with_totp(
    hass: HomeAssistant, clinic: Clinic
) -> None:
    await record(hass, systolic=150, diastolic=85, pulse=72)
    status, bundle = await clinic.post({"type": "summary", "person": clinic.pseudonym})
    assert status == 200
    validate_bundle(bundle)
    assert bundle["type"] == "collection"
    patient = bundle["entry"][0]["resource"]
    assert patient["identifier"][0] == {"system": fhir.PSEUDONYM_SYSTEM, "value": clinic.pseudonym}
    assert "name" not in patient
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["DetectedIssue", "Device", "Observation", "Observation", "Patient"]
    text = json.dumps(bundle)
    assert SENTINEL_ID not in text
    assert SENTINEL_BIRTH not in text
    identified = {"type": "summary", "person": clinic.pseudonym, "identified": True, "days": 2}
    assert await clinic.post(identified) == (403, {"error": "missing_totp"})
    status, bundle = await clinic.post(identified, totp=clinic.code())
    assert status == 200
    validate_bundle(bundle)
    patient = bundle["entry"][0]["resource"]
    assert patient["name"] == [{"text": "Grandma"}]
    assert patient["birthDate"] == SENTINEL_BIRTH
    assert [row[2:] for row in await audit(hass)] == [
        ("pseudonymous", "hmac"),
        ("missing_totp", "hmac"),
        ("identified", "hmac+totp"),
    ]


async def test_identified_summary_needs_the_links_permission(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
) -> None:
    _, data, _ = await link_clinic(hass, loaded_household, transport="folder", identified=False)
    (person_id,) = household(hass).people
    clinic = Clinic(await hass_client_no_auth(), data, only_link(hass).outbox.pseudonym(person_id))
    payload = {"type": "summary", "person": clinic.pseudonym, "identified": True}
    assert await clinic.post(payload, totp=clinic.code()) == (
        403,
        {"error": "identified_not_allowed"},
    )


async def test_unexpected_errors_answer_500_json(
    hass: HomeAssistant, clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(hass, systolic=150, diastolic=85)
    (alert,) = alerts(hass).active_alerts()

    async def _broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(alerts(hass), "async_acknowledge", _broken)
    payload = {"type": "acknowledge", "person": clinic.pseudonym, "alert_id": alert.alert_id}
    assert await clinic.post(payload) == (500, {"error": "internal_error"})
    assert (await audit(hass))[-1] == ("acknowledge", 500, "internal_error", "hmac")


async def test_only_post_and_only_while_linked(
    hass: HomeAssistant, clinic: Clinic, loaded_household: MockConfigEntry
) -> None:
    response = await clinic.client.get(clinic.path)
    assert response.status == 405
    subentry_id = next(
        sid for sid, s in loaded_household.subentries.items() if s.subentry_type == "clinic"
    )
    hass.config_entries.async_remove_subentry(loaded_household, subentry_id)
    await hass.async_block_till_done()
    await settle(hass)
    # Unlinked: HA answers 200 to unknown webhooks (it never tells whether one exists),
    # and nothing is stored.
    status, _ = await clinic.post(advice(clinic) | {"advice_id": "after"})
    assert status == 200
    assert await hass.async_add_executor_job(household(hass).store.advice) == []


async def test_timestamp_window_both_ways(hass: HomeAssistant, clinic: Clinic) -> None:
    now = int(dt_util.utcnow().timestamp())
    assert (await clinic.post(advice(clinic, advice_id="early"), timestamp=now + 290))[0] == 201
    assert (await clinic.post(advice(clinic, advice_id="late"), timestamp=now - 290))[0] == 201
    future = now + int(timedelta(minutes=6).total_seconds())
    assert await clinic.post(advice(clinic, advice_id="x"), timestamp=future) == (
        401,
        {"error": "expired"},
    )
