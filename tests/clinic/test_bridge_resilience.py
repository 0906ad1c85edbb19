"""Clinic bridge under failure: outages, restarts, crashes, backoff, repairs. Nothing lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.clinic.bridge import ClinicLink
from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.core.outbox import SenderProfile
from custom_components.smart_care.core.store.record_store import RecordStore
from custom_components.smart_care.household.keys import key_path, open_record
from custom_components.smart_care.household.runtime import record_path
from tests.conftest import SENTINEL_BIRTH
from tests.fakes.fhir_server import FhirServer
from tests.support.clinic_support import (
    household,
    link_clinic,
    observation_values,
    only_link,
    record,
    settle,
    start_fhir,
    validate_bundle,
)


@pytest.fixture
async def fhir_server(aiohttp_server: Any, socket_enabled: None) -> FhirServer:
    """A FHIR R4 server on 127.0.0.1 that validates every bundle with R4B."""
    return await start_fhir(aiohttp_server)


async def retry(hass: HomeAssistant, seconds: float = 3700) -> None:
    """Let the backoff timer fire (it is never longer than an hour)."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await settle(hass)


def no_duplicates(server: FhirServer) -> None:
    for rtype in ("Observation", "DetectedIssue", "Patient", "Device"):
        keys = [
            (r["identifier"][0]["system"], r["identifier"][0]["value"]) for r in server.all(rtype)
        ]
        assert len(keys) == len(set(keys)), rtype
    for bundle in server.received:
        validate_bundle(bundle)


async def test_outage_then_recovery_delivers_everything_once(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    fhir_server.down(503)
    base = dt_util.now() - timedelta(hours=2)
    for n in range(6):
        await record(hass, pulse=61 + n, time=(base + timedelta(minutes=n)).isoformat())
    await record(hass, systolic=150, diastolic=85)
    await settle(hass)
    assert fhir_server.count("Observation") == 0
    link = only_link(hass)
    assert link.pending == 9  # 6 pulses, the 2 BP rows, the alert
    assert hass.states.get("sensor.community_clinic_waiting_to_be_sent").state == "9"
    # Still down at the next attempts.
    await retry(hass)
    await retry(hass)
    assert fhir_server.count("Observation") == 0
    fhir_server.recover()
    await retry(hass)
    assert link.pending == 0
    assert [v for v in observation_values(fhir_server) if v[0] == "8867-4"] == [
        ("8867-4", 61.0 + n) for n in range(6)
    ]
    assert fhir_server.count("Observation") == 7
    assert fhir_server.count("DetectedIssue") == 1
    no_duplicates(fhir_server)


async def test_backoff_is_exponential_with_no_busy_loop(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    fhir_server.down(503)
    await record(hass, pulse=70)
    await settle(hass)
    assert fhir_server.transaction_requests == 1
    # First retry after 5-10 s (equal jitter of 10 s): not before 5 s.
    freezer.tick(timedelta(seconds=4))
    async_fire_time_changed(hass)
    await settle(hass)
    assert fhir_server.transaction_requests == 1
    # New readings do not hammer a server that is down.
    await record(hass, pulse=71)
    await settle(hass)
    assert fhir_server.transaction_requests == 1
    freezer.tick(timedelta(seconds=7))
    async_fire_time_changed(hass)
    await settle(hass)
    assert fhir_server.transaction_requests == 2
    # Three hours down, checked every minute: 10, 20, 40 ... s, capped at an hour.
    for _ in range(180):
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await settle(hass)
    assert 9 <= fhir_server.transaction_requests <= 13
    assert only_link(hass).attempts == fhir_server.transaction_requests
    # At the cap: at most one attempt per hour from now on.
    requests = fhir_server.transaction_requests
    fhir_server.recover()
    for _ in range(61):
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await settle(hass)
    assert fhir_server.transaction_requests == requests + 1
    assert only_link(hass).pending == 0
    assert fhir_server.count("Observation") == 2


async def test_unreachable_issue_after_six_hours_goes_with_success(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    link = only_link(hass)
    issue_id = f"clinic_unreachable_{link.link_id}"
    fhir_server.down(502)
    await record(hass, pulse=70)
    await settle(hass)
    issues = ir.async_get(hass)
    for _ in range(5 * 6):  # five hours
        freezer.tick(timedelta(minutes=10))
        async_fire_time_changed(hass)
        await settle(hass)
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    for _ in range(3 * 6):  # eight hours
        freezer.tick(timedelta(minutes=10))
        async_fire_time_changed(hass)
        await settle(hass)
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "clinic_unreachable"
    assert issue.translation_placeholders["clinic"] == "Community Clinic"
    # Logged once when the outage began, not at every attempt.
    assert caplog.text.count("is not accepting data") == 1
    fhir_server.recover()
    freezer.tick(timedelta(hours=1))
    async_fire_time_changed(hass)
    await settle(hass)
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    assert "is accepting data again" in caplog.text
    assert fhir_server.count("Observation") == 1


async def test_refused_reading_is_quarantined_with_a_redacted_repair(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
) -> None:
    """A reading refused for its content is kept aside; the repair quotes the server."""
    assert await async_setup_component(hass, "repairs", {})
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    link = only_link(hass)
    (person_id,) = household(hass).people
    pseudonym = link.outbox.pseudonym(person_id)
    fhir_server.fail(
        422,
        diagnostics=f"Patient {pseudonym} (Grandma, born {SENTINEL_BIRTH}): profile check failed",
    )
    await record(hass, pulse=70)
    await settle(hass)
    assert link.pending == 0  # not stuck: kept aside
    assert link.attempts == 0
    (held,) = link.quarantined
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"clinic_quarantined_{link.link_id}_{held['qid']}"
    )
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.is_fixable
    placeholders = issue.translation_placeholders
    assert placeholders["status"] == "422"
    assert placeholders["what"] == "pulse"
    assert placeholders["device"] == "manual entry"
    assert "profile check failed" in placeholders["outcome"]
    for secret in (pseudonym, "Grandma", SENTINEL_BIRTH):
        assert secret not in str(placeholders)
    assert fhir_server.count("Observation") == 0
    # Other readings are not held up.
    await record(hass, pulse=71)
    await settle(hass)
    assert observation_values(fhir_server) == [("8867-4", 71.0)]
    # Retry through the repair: the server takes it now.
    client = await hass_client()
    resp = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue.issue_id}
    )
    flow = await resp.json()
    resp = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={"next_step_id": "retry"}
    )
    assert (await resp.json())["type"] == "create_entry"
    await settle(hass)
    assert sorted(observation_values(fhir_server)) == [("8867-4", 70.0), ("8867-4", 71.0)]
    assert link.quarantined == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue.issue_id) is None
    audit = await hass.async_add_executor_job(household(hass).store.clinic_audit_rows)
    assert [row["type"] for row in audit if row["type"].startswith("quarantine")] == [
        "quarantine_retry"
    ]


async def test_too_large_shrinks_the_bundles_and_remembers(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    (person_id,) = household(hass).people
    store = household(hass).store
    when = dt_util.utcnow() - timedelta(hours=1)

    def _four_readings() -> None:
        for n in range(4):
            store.append_many(
                person_id,
                [("weight", 60.0 + n, "kg", when + timedelta(minutes=n), None)],
                "manual",
                {},
                f"r{n}",
            )

    await hass.async_add_executor_job(_four_readings)
    fhir_server.fail(413, times=1)
    link = only_link(hass)
    link.async_wake()
    await settle(hass)

    def sizes(bundles: list[dict[str, Any]]) -> list[int]:
        return [len(b["entry"]) for b in bundles]

    # 6 entries (gateway, patient, 4 readings) refused for size. Under so small a cap the
    # readings go as a FHIR batch: first the identities (gateway and Patient, a
    # transaction), then the batch, which this server refuses (it only does transactions).
    # The batch's readings then go as transactions within the learned size, and the link
    # stops batching.
    assert [(b["type"], len(b["entry"])) for b in fhir_server.received] == [
        ("transaction", 6),
        ("transaction", 2),
        ("batch", 5),
        ("transaction", 4),
        ("transaction", 4),
    ]
    assert max(sizes(fhir_server.transactions)) == 4
    assert fhir_server.count("Observation") == 4
    assert link.pending == 0
    assert link.quarantined == []
    diagnostics = link.diagnostics()
    assert diagnostics["limits"]["bad"] == 6
    assert diagnostics["limits"]["good"] == 4
    assert diagnostics["readings_as_batches"] is False
    state = await hass.async_add_executor_job(store.clinic_state, link.link_id)
    assert state["limits"]["bad"] == 6
    assert state["batch_off"] is not None


async def test_retry_after_is_honoured(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    fhir_server.fail(429, retry_after=120)
    await record(hass, pulse=70)
    await settle(hass)
    await retry(hass, 100)
    assert fhir_server.transaction_requests == 1
    await retry(hass, 125)
    assert fhir_server.transaction_requests == 2
    assert only_link(hass).pending == 0


async def test_timeout_is_a_transient_failure(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    aiohttp_server: Any,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not validating: only the deliberate delay may be slow here.
    server = await start_fhir(aiohttp_server, validate=False)
    # The link profile is where a link's timing lives: a short send timeout for this test.
    monkeypatch.setattr(ClinicLink, "sender_profile", SenderProfile(send_timeout=0.5))
    await link_clinic(hass, loaded_household, url=server.base_url)
    server.delay = 2.0
    await record(hass, pulse=70)
    await settle(hass)
    link = only_link(hass)
    assert link.attempts == 1
    assert link.last_error == "transient"
    server.delay = 0
    await retry(hass)
    assert link.pending == 0
    # The slow first request may still be stored by the server: once it has answered, no
    # duplicate (waits for the server, not for a guess at its delay).
    async with asyncio.timeout(30):
        await server.wait_idle()
    no_duplicates(server)
    assert server.count("Observation") == 1


async def test_restart_mid_outage_loses_nothing(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    fhir_server.down(503)
    await record(hass, systolic=150, diastolic=85)
    await record(hass, pulse=88)
    await settle(hass)
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    await hass.async_block_till_done()
    fhir_server.recover()
    assert await hass.config_entries.async_setup(loaded_household.entry_id)
    await settle(hass)
    assert loaded_household.state is ConfigEntryState.LOADED
    assert sorted(observation_values(fhir_server)) == sorted(
        [("85354-9", (("8480-6", 150.0), ("8462-4", 85.0))), ("8867-4", 88.0)]
    )
    assert fhir_server.count("DetectedIssue") == 1
    assert only_link(hass).pending == 0
    no_duplicates(fhir_server)


async def test_readings_stored_while_down_go_out_at_start(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    """A kill between "stored" and "sent": the rows are in the log, nothing else."""
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    (person_id,) = household(hass).people
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    await hass.async_block_till_done()

    def _store_without_ha() -> None:
        # Opened as the integration opens it: with the household's keys.
        store, _ = open_record(
            record_path(hass, loaded_household.entry_id), key_path(hass, loaded_household.entry_id)
        )
        try:
            when = dt_util.utcnow() - timedelta(minutes=3)
            store.append_many(person_id, [("spo2", 95.0, "%", when, None)], "manual", {}, "r1")
            store.append_many(person_id, [("spo2", 94.0, "%", when, None)], "manual", {}, "r2")
        finally:
            store.close()

    await hass.async_add_executor_job(_store_without_ha)
    assert fhir_server.count("Observation") == 0
    assert await hass.config_entries.async_setup(loaded_household.entry_id)
    await settle(hass)
    assert observation_values(fhir_server) == [("2708-6", 94.0), ("2708-6", 95.0)]
    assert only_link(hass).pending == 0


async def test_crash_after_the_server_accepted_resends_without_duplicates(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed after the server's 200 and before the cursor moved: sent again, 200 each."""
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    original = RecordStore.clinic_ack

    def _killed(self: RecordStore, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated kill before the cursor was saved")

    monkeypatch.setattr(RecordStore, "clinic_ack", _killed)
    await record(hass, systolic=150, diastolic=85, pulse=80)
    await settle(hass)
    # One bundle was accepted (the alert or the readings, whichever was queued first when
    # the bridge woke), then the crash stopped everything behind it.
    kinds = ("Observation", "Patient", "DetectedIssue", "Device")
    assert len(fhir_server.transactions) == 1
    first_bundle = fhir_server.transactions[0]
    stored_before = sum(fhir_server.count(t) for t in kinds)
    assert stored_before > 0
    assert only_link(hass).pending > 0
    # "Restart" with a working store: everything is sent again and matched, not duplicated.
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    await hass.async_block_till_done()
    monkeypatch.setattr(RecordStore, "clinic_ack", original)
    fhir_server.entry_status.clear()
    assert await hass.config_entries.async_setup(loaded_household.entry_id)
    await settle(hass)
    stored = {t: fhir_server.count(t) for t in kinds}
    assert stored == {"Observation": 2, "Patient": 1, "DetectedIssue": 1, "Device": 1}
    # The same bundle, byte for byte, went again; only what it did not hold was new.
    assert first_bundle in fhir_server.transactions[1:]
    assert fhir_server.entry_status["201"] == sum(stored.values()) - stored_before
    assert only_link(hass).pending == 0
    no_duplicates(fhir_server)


async def test_auth_failure_is_fixed_with_a_new_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
) -> None:
    fhir_server.token = "old-token"
    subentry_id, _, _ = await link_clinic(
        hass, loaded_household, url=fhir_server.base_url, token="old-token"
    )
    link = only_link(hass)
    fhir_server.token = "new-token"
    await record(hass, pulse=70)
    await settle(hass)
    issue_id = f"clinic_auth_{link.link_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={"token": "still-wrong"}
    )
    flow = await response.json()
    assert flow["errors"] == {"base": "invalid_auth"}
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={"token": "new-token"}
    )
    flow = await response.json()
    assert flow["type"] == "create_entry"
    await hass.async_block_till_done()
    await settle(hass)
    assert loaded_household.subentries[subentry_id].data["token"] == "new-token"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert observation_values(fhir_server) == [("8867-4", 70.0)]


async def test_a_refused_batch_entry_is_quarantined_and_the_rest_arrives(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    """Under an 8-entry transaction cap readings go as batches; one refused entry is held."""
    fhir_server.batch = True
    fhir_server.strict_entries = 8
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    link = only_link(hass)
    (person_id,) = household(hass).people
    store = household(hass).store
    when = dt_util.utcnow() - timedelta(days=1)

    def _readings() -> str:
        for n in range(30):
            store.append_many(
                person_id,
                [("pulse", 60.0 + n, "bpm", when + timedelta(minutes=n), None)],
                "manual",
                {},
                f"r{n}",
            )
        rows = [r for r in store.measurements_after(0, 100) if r.reading_id == "r17"]
        (observation,) = link.outbox.reading_resources(rows)[0].values()
        return str(observation["identifier"][0]["value"])

    refused = await hass.async_add_executor_job(_readings)
    fhir_server.refuse_identifiers[refused] = (422, "Observation.valueQuantity: implausible")
    link.async_wake()
    await settle(hass)
    assert link.pending == 0
    (held,) = link.quarantined
    assert held["key"] == "r17"
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"clinic_quarantined_{link.link_id}_{held['qid']}"
    )
    assert issue is not None
    assert issue.translation_placeholders["status"] == "422"
    assert "implausible" in issue.translation_placeholders["outcome"]
    # The 29 others arrived once each, in batches far above the transaction cap.
    assert sorted(v for _, v in observation_values(fhir_server)) == [
        60.0 + n for n in range(30) if n != 17
    ]
    no_duplicates(fhir_server)
    batches = [b for b in fhir_server.received if b["type"] == "batch"]
    assert batches
    assert max(len(b["entry"]) for b in batches) > 8
    assert link.diagnostics()["readings_as_batches"] is True
