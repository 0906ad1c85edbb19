"""Clinic bridge: readings, alerts, summaries and medication answers reach a FHIR server.

Every test talks to a real FHIR R4 server (``tests/fakes/fhir_server.py`` on 127.0.0.1) that
enforces conditional create / update and validates every bundle with fhir.resources R4B;
the tests validate every bundle received once more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import json
import logging
from pathlib import Path
import stat
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.clinic import bridge as bridge_module
from custom_components.smart_care.const import DOMAIN, EVENT_MEDICATION_ANSWERED
from custom_components.smart_care.core import fhir, outbox as outbox_module
from custom_components.smart_care.core.clinical.medication import medication_id
from custom_components.smart_care.core.store.record_store import RecordStore
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_TEXT, add_person
from tests.fakes.fhir_server import FhirServer
from tests.support.clinic_support import (
    alerts,
    bridge,
    household,
    link_clinic,
    observation_values,
    only_link,
    record,
    settle,
    start_fhir,
    validate_bundle,
)

PENDING = "sensor.community_clinic_waiting_to_be_sent"
LAST_SYNC = "sensor.community_clinic_last_successful_sync"


@pytest.fixture
async def fhir_server(aiohttp_server: Any, socket_enabled: None) -> FhirServer:
    """A FHIR R4 server on 127.0.0.1 that validates every bundle with R4B."""
    return await start_fhir(aiohttp_server)


def all_valid(server: FhirServer) -> None:
    assert server.received
    for bundle in server.received:
        validate_bundle(bundle)


def grandma_id(hass: HomeAssistant) -> str:
    (person,) = household(hass).people.values()
    return person.person_id


def append_rows(
    store: RecordStore,
    person_id: str,
    rows: list[list[tuple[str, float, str]]],
    start: datetime,
) -> None:
    """Append one reading per list of (vital, value, unit), a minute apart."""
    for n, reading in enumerate(rows):
        when = start + timedelta(minutes=n)
        store.append_many(
            person_id,
            [(vital, value, unit, when, None) for vital, value, unit in reading],
            "manual",
            {},
            f"reading-{n}",
        )


async def test_readings_reach_the_clinic(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    await record(hass, systolic=128, diastolic=82, pulse=71)
    await settle(hass)
    # One BP panel (not two loose components) and one heart rate.
    assert observation_values(fhir_server) == [
        ("85354-9", (("8480-6", 128.0), ("8462-4", 82.0))),
        ("8867-4", 71.0),
    ]
    all_valid(fhir_server)
    (patient,) = fhir_server.all("Patient")
    link = only_link(hass)
    pseudonym = link.outbox.pseudonym(grandma_id(hass))
    assert patient["identifier"] == [{"system": fhir.PSEUDONYM_SYSTEM, "value": pseudonym}]
    assert "name" not in patient
    assert "birthDate" not in patient
    assert patient["meta"]["security"][0]["code"] == "PSEUDED"
    (gateway,) = [
        d for d in fhir_server.all("Device") if d["identifier"][0]["system"] == fhir.GATEWAY_SYSTEM
    ]
    for obs in fhir_server.all("Observation"):
        # References were resolved by the server: nothing dangles.
        assert obs["subject"]["reference"] == f"Patient/{patient['id']}"
        assert obs["device"]["reference"] == f"Device/{gateway['id']}"
    assert hass.states.get(PENDING).state == "0"
    assert hass.states.get(LAST_SYNC).state not in ("unknown", "unavailable")
    text = json.dumps(fhir_server.received)
    for sentinel in ("Grandma", SENTINEL_ID, SENTINEL_BIRTH, SENTINEL_TEXT, grandma_id(hass)):
        assert sentinel not in text


async def test_identified_sharing_sends_identity_only_when_allowed(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    aiohttp_server: Any,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    open_server = await start_fhir(aiohttp_server)
    pseudo_server = await start_fhir(aiohttp_server)
    await link_clinic(
        hass, loaded_household, url=open_server.base_url, name="Open", identified=True
    )
    await link_clinic(hass, loaded_household, url=pseudo_server.base_url, name="Closed")
    await record(hass, spo2=97)
    await settle(hass)
    (identified,) = open_server.all("Patient")
    assert identified["name"] == [{"text": "Grandma"}]
    assert identified["birthDate"] == SENTINEL_BIRTH
    assert identified["gender"] == "female"
    assert {"system": fhir.NATIONAL_ID_SYSTEM, "value": SENTINEL_ID}.items() <= identified[
        "identifier"
    ][1].items()
    (pseudonymous,) = pseudo_server.all("Patient")
    assert set(pseudonymous) == {"resourceType", "id", "identifier", "active", "meta"}
    # Two links, two pseudonyms: the clinics cannot join their data on it.
    assert identified["identifier"][0]["value"] != pseudonymous["identifier"][0]["value"]
    for server in (open_server, pseudo_server):
        all_valid(server)
    for sentinel in (SENTINEL_ID, SENTINEL_BIRTH, SENTINEL_TEXT):
        assert sentinel not in caplog.text


async def test_alert_lifecycle_updates_one_detected_issue(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    await record(hass, systolic=150, diastolic=85)
    await settle(hass)
    (issue,) = fhir_server.all("DetectedIssue")
    assert issue["status"] == "preliminary"
    assert issue["severity"] == "moderate"
    (alert,) = alerts(hass).active_alerts()
    assert issue["identifier"] == [{"system": fhir.ALERT_SYSTEM, "value": alert.alert_id}]
    (patient,) = fhir_server.all("Patient")
    assert issue["patient"]["reference"] == f"Patient/{patient['id']}"
    await hass.services.async_call(
        DOMAIN, "acknowledge_alert", {"alert_id": alert.alert_id}, blocking=True
    )
    await settle(hass)
    (issue,) = fhir_server.all("DetectedIssue")
    assert issue["status"] == "final"
    assert [m["action"]["coding"][0]["code"] for m in issue["mitigation"]] == ["acknowledged"]
    await hass.services.async_call(
        DOMAIN, "resolve_alert", {"alert_id": alert.alert_id}, blocking=True
    )
    await settle(hass)
    (issue,) = fhir_server.all("DetectedIssue")
    assert [m["action"]["coding"][0]["code"] for m in issue["mitigation"]] == [
        "acknowledged",
        "resolved",
    ]
    all_valid(fhir_server)


async def test_resending_a_bundle_creates_no_duplicates(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    await record(hass, systolic=150, diastolic=85, pulse=80)
    await settle(hass)
    counts = {
        t: fhir_server.count(t) for t in ("Patient", "Device", "Observation", "DetectedIssue")
    }
    assert counts["Observation"] == 2
    fhir_server.entry_status.clear()
    async with aiohttp.ClientSession() as session:
        for bundle in list(fhir_server.transactions):
            async with session.post(fhir_server.base_url, json=bundle) as response:
                assert response.status == 200
    after = {t: fhir_server.count(t) for t in counts}
    assert after == counts
    # Every entry matched what the server already had: conditional create / update.
    assert set(fhir_server.entry_status) == {"200"}


async def test_bundles_of_at_most_120_entries_keep_panels_whole(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    store = household(hass).store
    start = dt_util.utcnow() - timedelta(days=2)
    # 117 weights, then a blood pressure reading across the 118th Observation, then more.
    rows: list[list[tuple[str, float, str]]] = [
        [("weight", 60 + n / 1000, "kg")] for n in range(117)
    ]
    rows.append([("systolic_bp", 131, "mmHg"), ("diastolic_bp", 84, "mmHg")])
    rows += [[("weight", 70 + n / 1000, "kg")] for n in range(132)]
    await hass.async_add_executor_job(append_rows, store, grandma_id(hass), rows, start)
    link = only_link(hass)
    link.async_wake()
    await settle(hass)
    assert fhir_server.transaction_requests == 3
    assert all(len(b["entry"]) <= outbox_module.DEFAULT_MAX_ENTRIES for b in fhir_server.received)
    sizes = sorted(
        sum(1 for e in b["entry"] if e["resource"]["resourceType"] == "Observation")
        for b in fhir_server.received
    )
    # 120 entries: the gateway, the Patient and 118 Observations (the panel is one).
    assert sizes == [14, 118, 118]
    assert fhir_server.count("Observation") == 250
    panels = [v for v in observation_values(fhir_server) if v[0] == "85354-9"]
    assert panels == [("85354-9", (("8480-6", 131.0), ("8462-4", 84.0)))]
    assert not [v for v in observation_values(fhir_server) if v[0] in ("8480-6", "8462-4")]
    assert link.pending == 0
    all_valid(fhir_server)


async def test_one_sender_per_link_in_order(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    aiohttp_server: Any,
    socket_enabled: None,
) -> None:
    first = await start_fhir(aiohttp_server)
    second = await start_fhir(aiohttp_server)
    await link_clinic(hass, loaded_household, url=first.base_url, name="First")
    await link_clinic(hass, loaded_household, url=second.base_url, name="Second")
    first.delay = second.delay = 0.05
    base = dt_util.now() - timedelta(hours=1)
    for n in range(8):
        await record(hass, weight=60 + n, time=(base + timedelta(minutes=n)).isoformat())
    await settle(hass)
    for server in (first, second):
        # Never two bundles in flight to one clinic, and the order of the log kept.
        assert server.max_in_flight == 1
        weights = [
            e["resource"]["valueQuantity"]["value"]
            for b in server.transactions
            for e in b["entry"]
            if e["resource"]["resourceType"] == "Observation"
        ]
        assert weights == [60.0 + n for n in range(8)]
        all_valid(server)


async def test_folder_transport_writes_valid_private_bundles(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, data, _ = await link_clinic(hass, loaded_household, transport="folder")
    folder = Path(hass.config.path("smart_care_outbox", data["link_id"]))
    assert data["folder"] == str(folder)
    await record(hass, systolic=150, diastolic=85)
    await settle(hass)
    files = sorted(folder.glob("*.json"))
    assert len(files) == 2  # the alert, then the reading
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        bundle = json.loads(path.read_text())
        validate_bundle(bundle)
        assert bundle["type"] == "transaction"
    assert [p.name.split("-")[0] for p in files] == ["items", "readings"]
    # Killed after writing and before acknowledging: the same file is written again.
    original = RecordStore.clinic_ack
    calls = 0

    def _crash_once(self: RecordStore, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("simulated crash")
        original(self, *args, **kwargs)

    monkeypatch.setattr(RecordStore, "clinic_ack", _crash_once)
    await record(hass, pulse=77)
    await settle(hass)
    assert len(list(folder.glob("*.json"))) == 3
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5))
    await settle(hass)
    assert len(list(folder.glob("*.json"))) == 3
    assert only_link(hass).pending == 0


async def test_consent_is_prospective_and_per_scope(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await record(hass, pulse=65)  # before the link: never shared
    subentry_id, _, _ = await link_clinic(
        hass, loaded_household, url=fhir_server.base_url, scopes=["alerts"]
    )
    await record(hass, systolic=150, diastolic=85)
    await settle(hass)
    assert fhir_server.count("Observation") == 0
    assert fhir_server.count("DetectedIssue") == 1
    assert only_link(hass).pending == 0
    # Vital signs granted later: shared from then on, not the readings taken before.
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, "clinic"),
        context={"source": "reconfigure", "subentry_id": subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Community Clinic",
            "transport": "http",
            "fhir_base_url": fhir_server.base_url,
            "scopes": ["alerts", "vital_signs"],
            "identified_sharing": False,
        },
    )
    assert result["reason"] == "reconfigure_successful"
    await settle(hass)
    await record(hass, spo2=96)
    await settle(hass)
    assert observation_values(fhir_server) == [("2708-6", 96.0)]
    all_valid(fhir_server)


async def test_daily_summary_after_midnight(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(
        dt_util.as_utc(datetime(2025, 3, 10, 12, 0, tzinfo=dt_util.get_default_time_zone()))
    )
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    local = dt_util.get_default_time_zone()
    freezer.move_to(dt_util.as_utc(datetime(2025, 3, 11, 9, 0, tzinfo=local)))
    await record(hass, systolic=120, diastolic=80)
    freezer.move_to(dt_util.as_utc(datetime(2025, 3, 11, 19, 0, tzinfo=local)))
    await record(hass, systolic=130, diastolic=84)
    await settle(hass)
    assert not [o for o in fhir_server.all("Observation") if "effectivePeriod" in o]
    freezer.move_to(dt_util.as_utc(datetime(2025, 3, 12, 0, 6, tzinfo=local)))
    async_fire_time_changed(hass)
    await settle(hass)
    (summary,) = [o for o in fhir_server.all("Observation") if "effectivePeriod" in o]
    assert summary["code"]["coding"][0]["code"] == "daily-vital-signs"
    assert summary["effectivePeriod"]["start"].startswith("2025-03-11T00:00:00")
    stats = {c["code"]["coding"][0]["code"]: c for c in summary["component"]}
    assert stats["systolic_bp-count"]["valueInteger"] == 2
    assert stats["systolic_bp-mean"]["valueQuantity"]["value"] == 125.0
    assert len(summary["derivedFrom"]) == 2
    assert all(ref["reference"].startswith("Observation/") for ref in summary["derivedFrom"])
    # Once per person per day: a restart does not queue it again.
    await hass.config_entries.async_reload(loaded_household.entry_id)
    await settle(hass)
    summaries = [o for o in fhir_server.all("Observation") if "effectivePeriod" in o]
    assert len(summaries) == 1
    puts = [
        e
        for b in fhir_server.received
        for e in b["entry"]
        if e["request"]["method"] == "PUT" and e["resource"]["resourceType"] == "Observation"
    ]
    assert len(puts) == 1
    all_valid(fhir_server)


async def test_medication_answers_become_one_statement_per_dose(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    person_id = grandma_id(hass)
    scheduled = dt_util.now().replace(hour=8, minute=0, second=0, microsecond=0)
    queued = await bridge(hass).async_enqueue_medication(
        person_id,
        medication="Metformin 500 mg",
        answer="snoozed",
        scheduled=scheduled,
        answered=scheduled + timedelta(minutes=2),
    )
    assert queued == 1
    await settle(hass)
    (statement,) = fhir_server.all("MedicationStatement")
    assert statement["status"] == "intended"
    # The reminder module announces an answer: the bridge turns it into the same dose.
    hass.bus.async_fire(
        EVENT_MEDICATION_ANSWERED,
        {
            "person_id": person_id,
            "person": "Grandma",
            "medication_id": medication_id(person_id, "Metformin 500 mg"),
            "dose_key": scheduled.strftime("%Y%m%d%H%M"),
            "time": scheduled.isoformat(),
            "status": "taken",
            "answered_at": (scheduled + timedelta(minutes=20)).isoformat(),
        },
    )
    await settle(hass)
    (statement,) = fhir_server.all("MedicationStatement")
    assert statement["status"] == "completed"
    assert statement["medicationCodeableConcept"] == {"text": "Metformin 500 mg"}
    with pytest.raises(ValueError, match="answer"):
        await bridge(hass).async_enqueue_medication(
            person_id, medication="X", answer="maybe", scheduled=scheduled
        )
    all_valid(fhir_server)


async def test_removed_person_is_erased_at_the_clinic(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await add_person(hass, loaded_household, alias="Grandpa")
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    await record(hass, systolic=150, diastolic=85)
    await record(hass, person="Grandpa", pulse=70)
    await settle(hass)
    assert fhir_server.count("Patient") == 2
    hass.config_entries.async_remove_subentry(loaded_household, grandma)
    await hass.async_block_till_done()
    await settle(hass)
    (patient,) = fhir_server.all("Patient")
    subjects = {o["subject"]["reference"] for o in fhir_server.all("Observation")}
    assert subjects == {f"Patient/{patient['id']}"}
    assert fhir_server.count("DetectedIssue") == 0
    deletes = [
        e
        for b in fhir_server.received
        for e in b["entry"]
        if e["request"]["method"] == "DELETE" and "?" in e["request"]["url"]
    ]
    assert len(deletes) == 5  # four types and the Patient
    assert only_link(hass).pending == 0


async def test_notify_clinic_queues_the_alert_again(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await record(hass, systolic=150, diastolic=85)
    (alert,) = alerts(hass).active_alerts()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "notify_clinic",
            {"alert_id": alert.alert_id},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "no_clinic_linked"
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    before = fhir_server.transaction_requests
    response = await hass.services.async_call(
        DOMAIN, "notify_clinic", {"alert_id": alert.alert_id}, blocking=True, return_response=True
    )
    assert response == {"queued": 1}
    await settle(hass)
    assert fhir_server.transaction_requests > before
    (issue,) = fhir_server.all("DetectedIssue")
    assert issue["identifier"][0]["value"] == alert.alert_id


async def test_clinic_device_sensors_and_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
) -> None:
    subentry_id, data, _ = await link_clinic(
        hass, loaded_household, url=fhir_server.base_url, token="tok-secret-1234"
    )
    fhir_server.down(503)
    await record(hass, pulse=70)
    await record(hass, spo2=95)
    await settle(hass)
    assert hass.states.get(PENDING).state == "2"
    entity = er.async_get(hass).async_get(PENDING)
    assert entity is not None
    assert entity.config_subentry_id == subentry_id
    device = dr.async_get(hass).async_get(entity.device_id)
    assert device is not None
    assert device.name == "Community Clinic"
    assert await async_setup_component(hass, "diagnostics", {})
    diag = await get_diagnostics_for_config_entry(hass, hass_client, loaded_household)
    text = json.dumps(diag)
    for key in ("webhook_id", "hmac_secret", "totp_secret", "pseudonym_key", "token"):
        assert data[key] not in text
    (clinic,) = diag["clinics"]
    assert clinic["pending"] == 2
    assert clinic["attempts"] == 1
    assert clinic["last_error"] == "transient (HTTP 503)"


async def test_medication_without_clinic_or_with_unknown_dose(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    person_id = grandma_id(hass)
    now = dt_util.now()
    assert (
        await bridge(hass).async_enqueue_medication(
            person_id, medication="M", answer="taken", scheduled=now, answered=now
        )
        == 0
    )
    await link_clinic(hass, loaded_household, url=fhir_server.base_url, scopes=["vital_signs"])
    # No medication consent: nothing queued.
    assert (
        await bridge(hass).async_enqueue_medication(
            person_id, medication="M", answer="taken", scheduled=now, answered=now
        )
        == 0
    )
    for data in (
        {"person_id": person_id, "medication_id": "0" * 16, "time": now.isoformat()},
        {"person_id": "someone-else", "medication_id": "0" * 16, "time": now.isoformat()},
    ):
        hass.bus.async_fire(EVENT_MEDICATION_ANSWERED, data | {"status": "missed"})
    await settle(hass)
    assert fhir_server.count("MedicationStatement") == 0
    assert only_link(hass).pending == 0


async def test_a_broken_link_does_not_stop_the_household(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    fhir_server.down(503)
    await record(hass, pulse=70)
    await settle(hass)

    async def _broken(self: Any, state: Any) -> None:
        raise RuntimeError("webhook id taken")

    monkeypatch.setattr(bridge_module.ClinicWebhook, "async_start", _broken)
    await hass.config_entries.async_reload(loaded_household.entry_id)
    await settle(hass)
    assert "Clinic Community Clinic could not start (RuntimeError)" in caplog.text
    await record(hass, pulse=71)  # the household still records
    assert household(hass).people
    # The link's queue was kept, and goes out once it starts again.
    monkeypatch.undo()
    fhir_server.recover()
    await hass.config_entries.async_reload(loaded_household.entry_id)
    await settle(hass)
    assert sorted(observation_values(fhir_server)) == [("8867-4", 70.0), ("8867-4", 71.0)]


async def test_removing_a_person_removes_their_clinic_advice(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
) -> None:
    await add_person(hass, loaded_household, alias="Grandpa")
    await link_clinic(hass, loaded_household, transport="folder")
    store = household(hass).store
    for person in household(hass).people.values():
        await hass.async_add_executor_job(
            store.put_advice, f"adv-{person.alias}", "link", person.person_id, {"text": "t"}
        )
    hass.config_entries.async_remove_subentry(loaded_household, grandma)
    await hass.async_block_till_done()
    await settle(hass)
    remaining = await hass.async_add_executor_job(household(hass).store.advice)
    assert [a["advice_id"] for a in remaining] == ["adv-Grandpa"]
