"""Issue 17 through a real HA core: what an attacker holding one link's HMAC secret tries.

Pathological but validly signed bodies get a 4xx naming the problem without repeating
what was sent (never a 500, never HA's empty 200); every request leaves exactly one audit
row, with attacker strings escaped; a failing audit write is reported; wrong TOTP codes
are throttled per link.
"""

from __future__ import annotations

from datetime import timedelta
import json
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
import voluptuous as vol

from custom_components.smart_care.clinic.webhook import TOTP_HEADER
from custom_components.smart_care.const import DOMAIN, ISSUE_AUDIT_FAILED, ISSUE_TOTP_LOCKED
from custom_components.smart_care.core.clinical.assessment import DEFAULT_THRESHOLDS
from custom_components.smart_care.core.security import signed_headers
from tests.support.clinic_support import alerts, household, only_link

from .test_webhook import Clinic, advice, clinic, nothing_changed  # noqa: F401 (fixture)


class Sender:
    """Signs raw bytes with fresh timestamps and returns status, headers and raw reply."""

    def __init__(self, clinic: Clinic) -> None:  # noqa: F811
        self.clinic = clinic
        self.sent = 0

    async def post(self, raw: bytes, headers: dict[str, str] | None = None) -> Any:
        self.sent += 1
        when = int(dt_util.utcnow().timestamp()) - self.sent
        sent = {"Content-Type": "application/json", **signed_headers(self.clinic.secret, raw, when)}
        sent |= headers or {}
        response = await self.clinic.client.post(self.clinic.path, data=raw, headers=sent)
        return response.status, response.headers, await response.read()


async def audit_rows(hass: HomeAssistant) -> list[dict[str, Any]]:
    return await hass.async_add_executor_job(household(hass).store.clinic_audit_rows)


def _thresholds(clinic: Clinic, raw_limit: str) -> bytes:  # noqa: F811
    return (
        f'{{"type":"thresholds","person":"{clinic.pseudonym}",'
        f'"thresholds":{{"systolic_bp":{{"warning_high":{raw_limit}}}}}}}'
    ).encode()


def _hostile(clinic: Clinic) -> dict[str, tuple[bytes, str]]:  # noqa: F811
    p = clinic.pseudonym
    return {
        "deep": (
            b'{"type":"advice","person":"'
            + p.encode()
            + b'","title":'
            + b"[" * 5000
            + b"]" * 5000
            + b"}",
            "too_deep",
        ),
        "deep_objects": (b'{"a":' * 3000 + b"1" + b"}" * 3000, "too_deep"),
        "huge_int_limit": (_thresholds(clinic, "9" * 400), "number_too_large"),
        "huge_float_limit": (_thresholds(clinic, "1e400"), "number_too_large"),
        "negative_huge": (_thresholds(clinic, "-" + "9" * 30), "number_too_large"),
        "nan": (_thresholds(clinic, "NaN"), "invalid_number"),
        "surrogate_value": (
            b'{"type":"advice","person":"' + p.encode() + b'","title":"\\ud800","text":"x"}',
            "invalid_text",
        ),
        "surrogate_key": (
            b'{"type":"advice","person":"' + p.encode() + b'","\\udfff":"x","title":"t"}',
            "invalid_key",
        ),
        "surrogate_person": (b'{"type":"advice","person":"\\udbff\\u0000","title":"t"}', ""),
        "overlong_utf8": (b'{"type":"advice","title":"\xc0\xaf"}', "invalid_encoding"),
        "encoded_surrogate": (b'{"type":"advice","title":"\xed\xa0\x80"}', "invalid_encoding"),
        "duplicate_key": (
            b'{"type":"advice","type":"thresholds","person":"' + p.encode() + b'"}',
            "duplicate_key",
        ),
        "control_char": (
            b'{"type":"advice","person":"' + p.encode() + b'","title":"a\\u0007","text":"x"}',
            "invalid_text",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "deep",
        "deep_objects",
        "huge_int_limit",
        "huge_float_limit",
        "negative_huge",
        "nan",
        "surrogate_value",
        "surrogate_key",
        "surrogate_person",
        "overlong_utf8",
        "encoded_surrogate",
        "duplicate_key",
        "control_char",
    ],
)
async def test_pathological_signed_bodies_are_400(
    hass: HomeAssistant,
    clinic: Clinic,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    raw, code = _hostile(clinic)[case]
    status, _, reply = await Sender(clinic).post(raw)
    assert status == 400, reply[:200]
    body = json.loads(reply)  # never HA's empty 200
    if code:
        assert body["error"] == code
    reply.decode("ascii")  # the reply is plain ASCII: nothing of the body comes back
    for marker in (b"\\ud800", b"\\udfff", b"\\udbff", b"\xc0", b"999999"):
        assert marker not in reply
    assert "Traceback" not in caplog.text
    assert "Error processing webhook" not in caplog.text
    # Exactly one audit row, storable and readable.
    (row,) = await audit_rows(hass)
    assert row["status"] == 400
    if row["person"] is not None:
        row["person"].encode("utf-8")  # escaped, never a lone surrogate
    await nothing_changed(hass)


async def test_unknown_field_is_not_echoed(hass: HomeAssistant, clinic: Clinic) -> None:  # noqa: F811
    status, body = await clinic.post(advice(clinic) | {"<script>evil": "x"})
    assert (status, body["error"], body["field"]) == (400, "invalid_field", "?")
    status, body = await clinic.post(
        {
            "type": "thresholds",
            "person": clinic.pseudonym,
            "thresholds": {"systolic_bp": {"warning_high": 1e300}},
        }
    )
    assert status == 400
    assert body["error"] in ("number_too_large", "invalid_field")


async def test_failed_audit_write_is_reported(
    hass: HomeAssistant,
    clinic: Clinic,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A disk-full-like failure of the audit insert: a repair and a log line, not silence."""
    store = household(hass).store

    def _break() -> None:
        with store._lock:
            store._conn.execute(
                "CREATE TRIGGER no_audit BEFORE INSERT ON clinic_audit "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )

    await hass.async_add_executor_job(_break)
    status, body = await clinic.post(advice(clinic, advice_id="a-1"))
    assert status == 201
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_AUDIT_FAILED)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert "audit row not written (IntegrityError)" in caplog.text
    assert clinic.pseudonym not in caplog.text


async def _set_thresholds(sender: Sender, clinic: Clinic, code: str) -> tuple[int, Any, Any]:  # noqa: F811
    raw = json.dumps(
        {
            "type": "thresholds",
            "person": clinic.pseudonym,
            "thresholds": {"systolic_bp": {"warning_high": 150}},
        }
    ).encode()
    status, headers, reply = await sender.post(raw, {TOTP_HEADER: code})
    return status, headers, json.loads(reply)


def _wrong(clinic: Clinic, n: int) -> str:  # noqa: F811
    right = {clinic.totp.at(dt_util.utcnow().timestamp() + 30 * k) for k in (-1, 0, 1)}
    return next(c for i in range(n, n + 10) if (c := f"{i:06d}") not in right)


async def test_totp_guesses_are_throttled(
    hass: HomeAssistant,
    clinic: Clinic,  # noqa: F811
    freezer: FrozenDateTimeFactory,
) -> None:
    sender = Sender(clinic)
    statuses = []
    for attempt in range(5):
        status, headers, body = await _set_thresholds(sender, clinic, _wrong(clinic, attempt * 10))
        statuses.append((status, body["error"]))
    assert statuses == [(403, "bad_totp")] * 4 + [(429, "totp_locked")]
    assert headers["Retry-After"] == "900"
    link = only_link(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_TOTP_LOCKED.format(link.link_id))
    # While locked even the right code is refused, unchecked.
    right = clinic.totp.at(dt_util.utcnow().timestamp())
    status, headers, body = await _set_thresholds(sender, clinic, right)
    assert (status, body["error"]) == (429, "totp_locked")
    assert 0 < int(headers["Retry-After"]) <= 900
    await nothing_changed(hass)
    rows = await audit_rows(hass)
    assert [(r["status"], r["outcome"]) for r in rows] == [(403, "bad_totp")] * 4 + [
        (429, "totp_locked")
    ] * 2
    # The lock ends by itself.
    freezer.tick(timedelta(seconds=901))
    right = clinic.totp.at(dt_util.utcnow().timestamp())
    status, _, body = await _set_thresholds(sender, clinic, right)
    assert (status, body) == (200, {"status": "updated"})
    # A valid code is accepted once only.
    status, _, body = await _set_thresholds(sender, clinic, right)
    assert (status, body["error"]) == (403, "totp_replayed")


async def test_household_clears_a_lockout(
    hass: HomeAssistant,
    clinic: Clinic,  # noqa: F811
    freezer: FrozenDateTimeFactory,
    hass_admin_user: Any,
    hass_read_only_user: Any,
) -> None:
    sender = Sender(clinic)
    for attempt in range(5):
        await _set_thresholds(sender, clinic, _wrong(clinic, attempt * 10))
    right = clinic.totp.at(dt_util.utcnow().timestamp())
    assert (await _set_thresholds(sender, clinic, right))[0] == 429
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "clear_totp_lockout",
            {"clinic": "Community Clinic"},
            blocking=True,
            context=_context(hass_read_only_user),
        )
    await hass.services.async_call(
        DOMAIN,
        "clear_totp_lockout",
        {"clinic": "Community Clinic"},
        blocking=True,
        context=_context(hass_admin_user),
        return_response=True,
    )
    link = only_link(hass)
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_TOTP_LOCKED.format(link.link_id)) is None
    )
    status, _, body = await _set_thresholds(sender, clinic, right)
    assert (status, body) == (200, {"status": "updated"})
    (person,) = household(hass).people.values()
    assert alerts(hass).thresholds[person.person_id] != DEFAULT_THRESHOLDS


def _context(user: Any) -> Any:
    from homeassistant.core import Context

    return Context(user_id=user.id)


async def test_service_text_passes_the_boundary(hass: HomeAssistant, clinic: Clinic) -> None:  # noqa: F811
    """Service calls go through the same text rules (lone surrogates, controls)."""
    for bad in ("help \ud800", "a\x00b", "x" * 2001):
        with pytest.raises(vol.Invalid) as err:
            await hass.services.async_call(
                DOMAIN,
                "notify_emergency_contacts",
                {"alert_id": "a", "message": bad},
                blocking=True,
            )
        assert "\ud800" not in str(err.value)
