"""The clinic answers in FHIR: rest-hook Subscription notifications from a real FHIR server.

The clinic's server is Medplum's router in Node (``tests/medplum``) with a rest-hook
dispatcher that sends what Medplum's subscription worker sends. The test creates the
Subscription ON that server, pointing at HA's webhook URL (real HTTP on 127.0.0.1), then
creates resources there; HA receives the notifications like any clinic's would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import json
import logging
from pathlib import Path
import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from homeassistant.core import Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.const import EVENT_ADVICE
from custom_components.smart_care.core.fhir import ALERT_SYSTEM, PSEUDONYM_SYSTEM
from custom_components.smart_care.core.security import (
    subscription_secret,
    subscription_token,
)
from tests.support.clinic_support import alerts, household, link_clinic, only_link, record
from tests.support.fhir_medplum import MedplumServer

SECRET_EXTENSION = "https://www.medplum.com/fhir/StructureDefinition/subscription-secret"
ADVICE_TEXT = "Please measure your blood pressure every morning this week."


class _Answered(logging.Handler):
    """Counts the webhook's per-request log lines (written after the audit row)."""

    def __init__(self, hass: HomeAssistant) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.event = asyncio.Event()
        self.loop = hass.loop
        logging.getLogger("custom_components.smart_care.clinic.webhook").addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if "webhook: " in record.getMessage():
            self.count += 1
            self.loop.call_soon_threadsafe(self.event.set)


class Setup:
    """A linked clinic whose FHIR server is Medplum, and HA's webhook URL."""

    def __init__(
        self, hass: HomeAssistant, server: MedplumServer, client: TestClient, data: dict[str, Any]
    ) -> None:
        self.hass = hass
        self.server = server
        self.data = data
        self.url = str(client.make_url(f"/api/webhook/{data['webhook_id']}"))
        (person_id,) = household(hass).people
        self.pseudonym = only_link(hass).outbox.pseudonym(person_id)
        self.client = client
        self.answered = _Answered(hass)

    async def subscribe(
        self,
        criteria: str,
        *,
        signed: bool = True,
        secret: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Create an active rest-hook Subscription on the clinic's server."""
        subscription: dict[str, Any] = {
            "resourceType": "Subscription",
            "status": "active",
            "reason": "Smart Care: answers to the household",
            "criteria": criteria,
            "channel": {
                "type": "rest-hook",
                "endpoint": endpoint or self.url,
                "payload": "application/fhir+json",
            },
        }
        if signed:
            value = secret or subscription_secret(self.data["hmac_secret"])
            subscription["extension"] = [{"url": SECRET_EXTENSION, "valueString": value}]
        else:
            token = secret or subscription_token(self.data["hmac_secret"])
            subscription["channel"]["header"] = [f"Authorization: Bearer {token}"]
        status, created = await self.server.request("POST", "Subscription", subscription)
        assert status == 201, created
        return created

    def communication(
        self, pseudonym: str | None = None, text: str = ADVICE_TEXT
    ) -> dict[str, Any]:
        return {
            "resourceType": "Communication",
            "status": "completed",
            "subject": {
                "identifier": {"system": PSEUDONYM_SYSTEM, "value": pseudonym or self.pseudonym}
            },
            "topic": {"text": "Blood pressure follow-up"},
            "sender": {"display": "Dr. Li, community clinic"},
            "payload": [{"contentString": text}],
        }

    async def audit(self) -> list[tuple[str, int, str, str]]:
        rows = await self.hass.async_add_executor_job(household(self.hass).store.clinic_audit_rows)
        return [(r["type"], r["status"], r["outcome"], r["authority"]) for r in rows]

    async def audited(self, count: int) -> list[tuple[str, int, str, str]]:
        """Wait until the webhook has answered ``count`` notifications, then read the audit.

        The webhook logs its one line per request after the audit row is written.
        """
        async with asyncio.timeout(30):
            while self.answered.count < count:
                self.answered.event.clear()
                await self.answered.event.wait()
        return await self.audit()


@pytest.fixture
async def setup(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
    medplum: MedplumServer,
) -> AsyncIterator[Setup]:
    _, data, _ = await link_clinic(hass, loaded_household, transport="folder")
    made = Setup(hass, medplum, await hass_client_no_auth(), data)
    yield made
    logging.getLogger("custom_components.smart_care.clinic.webhook").removeHandler(made.answered)


def _advice_events(hass: HomeAssistant) -> tuple[list[dict[str, Any]], asyncio.Event]:
    fired: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    @callback
    def _listen(event: Event) -> None:
        fired.append(dict(event.data))
        arrived.set()

    hass.bus.async_listen(EVENT_ADVICE, _listen)
    return fired, arrived


@pytest.mark.parametrize(
    ("signed", "authority"), [(True, "fhir-signature"), (False, "fhir-bearer")]
)
async def test_communication_becomes_advice(
    hass: HomeAssistant, setup: Setup, signed: bool, authority: str
) -> None:
    fired, arrived = _advice_events(hass)
    await setup.subscribe("Communication", signed=signed)
    status, created = await setup.server.request("POST", "Communication", setup.communication())
    assert status == 201, created
    async with asyncio.timeout(30):
        await arrived.wait()
    (event,) = fired
    assert event["person"] == "Grandma"
    assert event["title"] == "Blood pressure follow-up"
    (stored,) = await hass.async_add_executor_job(household(hass).store.advice)
    assert stored["text"] == ADVICE_TEXT
    assert stored["author"] == "Dr. Li, community clinic"
    assert stored["clinic_advice_id"] == f"Communication-{created['id']}"
    assert await setup.audited(1) == [("fhir:Communication", 201, "stored", authority)]


async def test_bad_signature_and_bad_token_change_nothing(
    hass: HomeAssistant, setup: Setup
) -> None:
    await setup.subscribe("Communication", signed=True, secret="not-the-link-secret")
    await setup.subscribe("Communication", signed=False, secret="not-the-link-token")
    status, _ = await setup.server.request("POST", "Communication", setup.communication())
    assert status == 201
    rows = await setup.audited(2)
    assert sorted(rows) == [
        ("fhir", 401, "bad_signature", "none"),
        ("fhir", 401, "bad_token", "none"),
    ]
    assert await hass.async_add_executor_job(household(hass).store.advice) == []


async def test_replayed_notification_is_refused(
    hass: HomeAssistant, setup: Setup, aiohttp_server: Callable[..., Any]
) -> None:
    """Someone who recorded a signed notification sends it again."""
    captured: list[tuple[bytes, dict[str, str]]] = []
    overheard = asyncio.Event()

    async def _record(request: web.Request) -> web.Response:
        captured.append((await request.read(), dict(request.headers)))
        overheard.set()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/capture", _record)
    eavesdropper = await aiohttp_server(app)
    fired, arrived = _advice_events(hass)
    await setup.subscribe("Communication")
    await setup.subscribe("Communication", endpoint=str(eavesdropper.make_url("/capture")))
    status, _ = await setup.server.request("POST", "Communication", setup.communication())
    assert status == 201
    async with asyncio.timeout(30):
        await arrived.wait()
        await overheard.wait()
    body, headers = captured[0]
    sent = {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-signature")}
    response = await setup.client.post(
        f"/api/webhook/{setup.data['webhook_id']}", data=body, headers=sent
    )
    assert response.status == 401
    assert (await response.json())["error"] == "replayed"
    assert len(fired) == 1
    assert (await setup.audit())[-1] == ("fhir", 401, "replayed", "fhir-signature")


async def test_oversized_notification_is_413(hass: HomeAssistant, setup: Setup) -> None:
    await setup.subscribe("Communication")
    big = setup.communication(text="x" * 70_000)
    status, _ = await setup.server.request("POST", "Communication", big)
    assert status == 201  # the clinic's server takes it; the household does not
    assert await setup.audited(1) == [("fhir", 413, "too_large", "none")]
    assert await hass.async_add_executor_job(household(hass).store.advice) == []


async def test_unknown_patient_is_404(hass: HomeAssistant, setup: Setup) -> None:
    await setup.subscribe("Communication")
    status, _ = await setup.server.request(
        "POST", "Communication", setup.communication(pseudonym="sc-" + "a" * 26)
    )
    assert status == 201
    assert await setup.audited(1) == [
        ("fhir:Communication", 404, "unknown_person", "fhir-signature")
    ]
    assert await hass.async_add_executor_job(household(hass).store.advice) == []
    rows = await hass.async_add_executor_job(household(hass).store.clinic_audit_rows)
    assert rows[0]["person"] == "sc-" + "a" * 26


async def test_flag_acknowledges_the_alert(hass: HomeAssistant, setup: Setup) -> None:
    await record(hass, systolic=190, diastolic=100)
    alert = alerts(hass).active_alerts()[0]
    await setup.subscribe("Flag")
    flag = {
        "resourceType": "Flag",
        "status": "active",
        "identifier": [{"system": ALERT_SYSTEM, "value": alert.alert_id}],
        "code": {"text": "Seen by the community clinic"},
        "subject": {"identifier": {"system": PSEUDONYM_SYSTEM, "value": setup.pseudonym}},
    }
    status, created = await setup.server.request("POST", "Flag", flag)
    assert status == 201, created
    assert await setup.audited(1) == [("fhir:Flag", 200, "acknowledged", "fhir-signature")]
    current = alerts(hass).alerts[alert.alert_id]
    assert current.status == "acknowledged"
    assert current.acknowledged_by == "clinic:Community Clinic"


async def test_detected_issue_needs_a_clinician(hass: HomeAssistant, setup: Setup) -> None:
    """The bridge's own DetectedIssue updates come back too; only a clinician's step counts."""
    await record(hass, systolic=190, diastolic=100)
    alert = alerts(hass).active_alerts()[0]
    await setup.subscribe("DetectedIssue")
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "status": "preliminary",
        "identifier": [{"system": ALERT_SYSTEM, "value": alert.alert_id}],
        "patient": {"identifier": {"system": PSEUDONYM_SYSTEM, "value": setup.pseudonym}},
    }
    status, created = await setup.server.request("POST", "DetectedIssue", issue)
    assert status == 201, created
    assert await setup.audited(1) == [("fhir:DetectedIssue", 200, "ignored", "fhir-signature")]
    assert alerts(hass).alerts[alert.alert_id].status == "open"
    created["mitigation"] = [
        {"action": {"text": "Phoned the patient"}, "author": {"display": "Dr. Li"}}
    ]
    status, updated = await setup.server.request("PUT", f"DetectedIssue/{created['id']}", created)
    assert status == 200, updated
    rows = await setup.audited(2)
    assert rows[1] == ("fhir:DetectedIssue", 200, "acknowledged", "fhir-signature")
    assert alerts(hass).alerts[alert.alert_id].status == "acknowledged"


async def test_documented_credentials_match_openssl(setup: Setup) -> None:
    """docs/clinic.md derives both credentials with openssl from the signing secret."""
    secret = setup.data["hmac_secret"]
    for label, expected in (
        ("bearer", subscription_token(secret)),
        ("signature", subscription_secret(secret)),
    ):
        proc = await asyncio.create_subprocess_exec(
            "openssl",
            "dgst",
            "-sha256",
            "-hmac",
            secret,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(f"smart-care/fhir-subscription/{label}".encode())
        assert out.decode().strip().rsplit("= ", 1)[-1] == expected
    assert json.dumps(secret)  # the secret itself is never sent anywhere by these tests


async def test_documented_subscription_delivers_advice(hass: HomeAssistant, setup: Setup) -> None:
    """docs/clinic.md section 4, run as written: credentials, Subscription, Communication."""
    doc = (Path(__file__).parents[2] / "docs" / "clinic.md").read_text()

    def block(name: str) -> str:
        found = re.search(rf"<!-- tested-example: {name} -->\s*```\w*\n(.*?)```", doc, re.S)
        assert found is not None, name
        return found.group(1)

    script = block("subscription-credentials") + 'printf "%s %s" "$TOKEN" "$SIGNING"\n'
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        env={"SECRET": setup.data["hmac_secret"], "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    token, signing = out.decode().split()
    subscription = json.loads(block("subscription"))
    subscription["channel"]["endpoint"] = setup.url
    subscription["channel"]["header"] = [f"Authorization: Bearer {token}"]
    subscription["extension"][0]["valueString"] = signing
    status, created = await setup.server.request("POST", "Subscription", subscription)
    assert status == 201, created
    fired, arrived = _advice_events(hass)
    communication = setup.communication()
    communication["category"] = [{"coding": [{"code": "advice"}], "text": "Follow-up"}]
    del communication["topic"]
    other = setup.communication(text="not for the household")  # no category: not matched
    assert (await setup.server.request("POST", "Communication", other))[0] == 201
    assert (await setup.server.request("POST", "Communication", communication))[0] == 201
    async with asyncio.timeout(30):
        await arrived.wait()
    assert [e["title"] for e in fired] == ["Follow-up"]
    assert await setup.audited(1) == [("fhir:Communication", 201, "stored", "fhir-signature")]
