"""The clinic bridge against a real FHIR R4 server (Medplum's router and validator).

Everything goes through a real Home Assistant core and the real bridge; the server is
``tests/medplum/server.mjs`` (in memory, 127.0.0.1), which refuses any transaction of more
than 8 conditional entries, as Medplum does.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.core import fhir
from custom_components.smart_care.core.store.record_store import RecordStore
from tests.conftest import add_person
from tests.support.clinic_support import (
    bridge,
    household,
    link_clinic,
    only_link,
    record,
    settle,
    start_fhir,
)
from tests.support.fhir_medplum import MedplumServer

# (vital, value, unit) of one reading; a blood pressure reading is one panel.
EVERY_VITAL: list[list[tuple[str, float, str]]] = [
    [("systolic_bp", 124, "mmHg"), ("diastolic_bp", 79, "mmHg"), ("pulse", 66, "bpm")],
    [("heart_rate", 71, "bpm")],
    [("temperature", 36.8, "°C")],
    [("spo2", 97, "%")],
    [("respiration_rate", 15, "/min")],
    [("weight", 61.5, "kg")],
    [("glucose", 5.6, "mmol/L")],
]


def append_backlog(
    store: RecordStore, person_id: str, start: datetime, days: int, per_day: int
) -> int:
    """Every vital ``per_day`` times a day for ``days`` days; returns readings appended."""
    count = 0
    for day in range(days):
        for slot in range(per_day):
            when = start + timedelta(days=day, hours=slot * 24 / per_day)
            for n, reading in enumerate(EVERY_VITAL):
                at = when + timedelta(minutes=n)
                store.append_many(
                    person_id,
                    [(v, value + slot / 10, unit, at, None) for v, value, unit in reading],
                    "manual",
                    {},
                    f"{person_id}-{start:%Y%m%d%H%M}-{day}-{slot}-{n}",
                )
                count += 1
    return count


async def observation_ids(server: MedplumServer) -> Counter[str]:
    """How often each Observation identifier is stored."""
    return Counter(
        ident["value"]
        for obs in await server.all("Observation")
        for ident in obs.get("identifier", [])
        if ident.get("system") == fhir.OBSERVATION_SYSTEM
    )


def expected_observations(hass: HomeAssistant, person_id: str | None = None) -> set[str]:
    """Identifiers of every Observation the (first) link must deliver since linking."""
    link = next(iter(bridge(hass).links.values()))
    store = household(hass).store
    rows = store.measurements_after(link.config.start_row, 10**7)
    if person_id is not None:
        rows = [r for r in rows if r.person_id == person_id]
    resources, _ = link.outbox.reading_resources(rows)
    return {
        r["identifier"][0]["value"]
        for r in resources.values()
        if r["resourceType"] == "Observation"
    }


async def assert_exactly_once(hass: HomeAssistant, server: MedplumServer) -> None:  # one link
    """Every reading on the server once, nothing else from the readings lane."""
    expected = await hass.async_add_executor_job(expected_observations, hass)
    stored = await observation_ids(server)
    assert {k for k, n in stored.items() if n > 1} == set()
    assert set(stored) == expected
    # Spot checks the way a clinic would look: search by identifier.
    for value in sorted(expected)[:: max(1, len(expected) // 5)]:
        found = await server.by_identifier("Observation", fhir.OBSERVATION_SYSTEM, value)
        assert len(found) == 1


async def test_two_week_backlog_of_two_people_reaches_medplum_exactly_once(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, medplum: MedplumServer
) -> None:
    """Backlog, alerts, summaries, medication answers and an erasure on an 8-entry server."""
    await add_person(hass, loaded_household, alias="Grandpa")
    await link_clinic(hass, loaded_household, url=medplum.base_url)
    people = {p.alias: pid for pid, p in household(hass).people.items()}
    store = household(hass).store
    start = dt_util.utcnow() - timedelta(days=14)
    for pid in people.values():
        await hass.async_add_executor_job(append_backlog, store, pid, start, 14, 3)
    await record(hass, systolic=165, diastolic=95)  # an alert
    await record(hass, person="Grandpa", spo2=86)  # another
    link = only_link(hass)
    # Summaries of the last three finished days (as after a few days of running).
    today = dt_util.now().date()
    await link.async_queue_summaries({"summary_day": (today - timedelta(days=4)).isoformat()})
    clinic = bridge(hass)
    for day in range(3):
        scheduled = dt_util.now().replace(hour=8, minute=0) - timedelta(days=day + 1)
        for pid in people.values():
            await clinic.async_enqueue_medication(
                pid,
                medication="Metformin 500 mg",
                answer="taken",
                scheduled=scheduled,
                answered=scheduled + timedelta(minutes=4),
            )
    link.async_wake()
    await settle(hass)
    assert link.pending == 0, link.diagnostics()
    assert [(q["status"], q["outcome"]) for q in link.quarantined] == []
    await assert_exactly_once(hass, medplum)
    # Learned: Medplum's strict-isolation cap is small (how close the bounds get depends
    # on how many queued items went as transactions), so readings went as batches.
    diagnostics = link.diagnostics()
    assert diagnostics["limits"]["good"] <= 8 < diagnostics["limits"]["bad"] <= 16
    assert diagnostics["readings_as_batches"] is True
    assert diagnostics["batch_limits"]["good"] > 8
    assert await medplum.count("Patient") == 2
    alerts = await hass.async_add_executor_job(
        store.alerts_updated_since, dt_util.utcnow() - timedelta(days=1)
    )
    assert len(alerts) >= 2
    assert await medplum.count("DetectedIssue") == len(alerts)
    assert await medplum.count("MedicationStatement") == 6
    summaries = [
        o
        for o in await medplum.all("Observation")
        if o["identifier"][0]["system"] == fhir.DAILY_SUMMARY_SYSTEM
    ]
    assert len(summaries) == 6
    # Erasure: Grandpa leaves the household; the clinic loses everything about him.
    grandpa_obs = await hass.async_add_executor_job(expected_observations, hass, people["Grandpa"])
    (grandpa_entry,) = [
        sid
        for sid, sub in loaded_household.subentries.items()
        if sub.data.get("alias") == "Grandpa"
    ]
    hass.config_entries.async_remove_subentry(loaded_household, grandpa_entry)
    await hass.async_block_till_done()
    await settle(hass)
    (patient,) = await medplum.all("Patient")
    ref = f"Patient/{patient['id']}"
    for rtype, element in (
        ("Observation", "subject"),
        ("DetectedIssue", "patient"),
        ("MedicationStatement", "subject"),
    ):
        assert {r[element]["reference"] for r in await medplum.all(rtype)} == {ref}, rtype
    stored = await observation_ids(medplum)
    assert not grandpa_obs & set(stored)
    assert await medplum.count("MedicationStatement") == 3
    assert only_link(hass).pending == 0


async def test_poisoned_reading_is_quarantined_and_the_rest_arrives(
    hass: HomeAssistant,
    hass_client: Any,
    loaded_household: MockConfigEntry,
    grandma: str,
    medplum: MedplumServer,
) -> None:
    assert await async_setup_component(hass, "repairs", {})
    await link_clinic(hass, loaded_household, url=medplum.base_url)
    store = household(hass).store
    (person_id,) = household(hass).people
    start = dt_util.utcnow() - timedelta(days=4)
    await hass.async_add_executor_job(append_backlog, store, person_id, start, 2, 3)
    # A cuff whose advertised kind carries a control character: Medplum's validator
    # refuses its Device ("Invalid string format"), and so the bundle that holds it.
    poison_time = start + timedelta(days=2, hours=1)
    await hass.async_add_executor_job(
        lambda: store.append_many(
            person_id,
            [
                ("systolic_bp", 128, "mmHg", poison_time, None),
                ("diastolic_bp", 82, "mmHg", poison_time, None),
            ],
            "device:AA:BB:CC:DD:EE:01",
            {"kind": "blood pressure\u0001cuff"},
            "poisoned-reading",
        )
    )
    await hass.async_add_executor_job(
        append_backlog, store, person_id, start + timedelta(days=2, hours=2), 2, 3
    )
    link = only_link(hass)
    link.async_wake()
    await settle(hass)
    assert link.pending == 0
    (held,) = link.quarantined
    assert held["kind"] == "readings"
    assert held["key"] == "poisoned-reading"
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"clinic_quarantined_{link.link_id}_{held['qid']}"
    )
    assert issue is not None
    placeholders = issue.translation_placeholders
    assert placeholders["what"] == "diastolic_bp, systolic_bp"
    assert placeholders["time"] == dt_util.as_local(poison_time).strftime("%Y-%m-%d %H:%M")
    assert placeholders["device"] == "blood pressure\u0001cuff"
    assert placeholders["status"] == "400"
    assert "Invalid string format" in placeholders["outcome"]
    # Everything but the poisoned reading is on the server, once.
    expected = await hass.async_add_executor_job(expected_observations, hass)
    stored = await observation_ids(medplum)
    assert set(stored.values()) == {1}
    assert len(expected - set(stored)) == 1
    # Discard, through the repair: gone from the quarantine, audited, still in the record.
    client = await hass_client()
    resp = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue.issue_id}
    )
    flow = await resp.json()
    assert (flow["type"], flow["step_id"]) == ("menu", "init")
    assert flow["menu_options"] == ["retry", "discard"]
    resp = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={"next_step_id": "discard"}
    )
    flow = await resp.json()
    assert (flow["type"], flow["step_id"]) == ("form", "discard")
    resp = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert (await resp.json())["type"] == "create_entry"
    # A second discard of the same entry: it is gone.
    assert not await link.async_release(held["qid"], retry=False)
    assert link.quarantined == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue.issue_id) is None
    audit = await hass.async_add_executor_job(store.clinic_audit_rows)
    assert [r["type"] for r in audit] == ["quarantine_discard"]
    assert await hass.async_add_executor_job(store.has_reading, "poisoned-reading")


async def test_server_restart_ha_restart_and_kill_after_accept_still_exactly_once(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    medplum: MedplumServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await link_clinic(hass, loaded_household, url=medplum.base_url)
    store = household(hass).store
    (person_id,) = household(hass).people
    start = dt_util.utcnow() - timedelta(days=6)
    await hass.async_add_executor_job(append_backlog, store, person_id, start, 1, 2)
    await record(hass, systolic=165, diastolic=95)  # an alert
    link = only_link(hass)
    link.async_wake()
    await settle(hass)
    await assert_exactly_once(hass, medplum)
    # 1. The server restarts: in memory, it comes back empty. The next answer shows it
    # (our gateway Device is created anew) and everything is sent again.
    medplum.restart()
    assert await medplum.count("Observation") == 0
    await hass.async_add_executor_job(
        append_backlog, store, person_id, start + timedelta(days=1), 1, 2
    )
    link.async_wake()
    await settle(hass)
    await assert_exactly_once(hass, medplum)
    assert await medplum.count("DetectedIssue") == len(
        await hass.async_add_executor_job(
            store.alerts_updated_since, dt_util.utcnow() - timedelta(days=1)
        )
    )
    # 2. Home Assistant restarts in the middle of a backlog.
    await hass.async_add_executor_job(
        append_backlog, store, person_id, start + timedelta(days=2), 1, 2
    )
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(loaded_household.entry_id)
    await settle(hass)
    await assert_exactly_once(hass, medplum)
    # 3. Killed between "the server accepted" and "recorded as sent".
    store = household(hass).store
    await hass.async_add_executor_job(
        append_backlog, store, person_id, start + timedelta(days=3), 1, 2
    )
    real_ack = RecordStore.clinic_ack
    kills = {"left": 1}

    def _killed(self: RecordStore, *args: Any, **kwargs: Any) -> None:
        if kills["left"]:
            kills["left"] -= 1
            raise RuntimeError("simulated kill before the cursor was saved")
        real_ack(self, *args, **kwargs)

    monkeypatch.setattr(RecordStore, "clinic_ack", _killed)
    link = only_link(hass)
    link.async_wake()
    await settle(hass)
    assert kills["left"] == 0
    assert link.pending > 0
    monkeypatch.setattr(RecordStore, "clinic_ack", real_ack)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(hours=1, seconds=5))
    await settle(hass)
    assert link.pending == 0
    await assert_exactly_once(hass, medplum)


async def test_two_clinics_each_get_exactly_their_data_once(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    medplum: MedplumServer,
    aiohttp_server: Any,
) -> None:
    """A strict 8-entry Medplum and a hospital server that takes large bundles, at once."""
    hospital = await start_fhir(aiohttp_server)
    await link_clinic(
        hass,
        loaded_household,
        url=medplum.base_url,
        name="Community Clinic",
        scopes=["vital_signs", "alerts"],
    )
    await link_clinic(
        hass,
        loaded_household,
        url=hospital.base_url,
        name="City Hospital",
        scopes=["vital_signs", "daily_summary", "medication"],
    )
    links = {link.config.name: link for link in bridge(hass).links.values()}
    store = household(hass).store
    (person_id,) = household(hass).people
    start = dt_util.utcnow() - timedelta(days=5)
    await hass.async_add_executor_job(append_backlog, store, person_id, start, 4, 3)
    await record(hass, systolic=165, diastolic=95)  # an alert: only the clinic shares alerts
    today = dt_util.now().date()
    for link in links.values():
        await link.async_queue_summaries({"summary_day": (today - timedelta(days=3)).isoformat()})
    scheduled = dt_util.now().replace(hour=8, minute=0) - timedelta(days=1)
    assert (
        await bridge(hass).async_enqueue_medication(
            person_id,
            medication="Metformin 500 mg",
            answer="taken",
            scheduled=scheduled,
            answered=scheduled + timedelta(minutes=3),
        )
        == 1
    )
    for link in links.values():
        link.async_wake()
    await settle(hass)
    for link in links.values():
        assert link.pending == 0
        assert link.quarantined == []

    def identifiers(resources: list[dict[str, Any]], system: str) -> Counter[str]:
        return Counter(
            i["value"] for r in resources for i in r.get("identifier", []) if i["system"] == system
        )

    expected = await hass.async_add_executor_job(expected_observations, hass)  # clinic's ids
    clinic_obs = await medplum.all("Observation")
    assert identifiers(clinic_obs, fhir.OBSERVATION_SYSTEM) == Counter(dict.fromkeys(expected, 1))
    assert not identifiers(clinic_obs, fhir.DAILY_SUMMARY_SYSTEM)
    assert await medplum.count("DetectedIssue") >= 1
    assert await medplum.count("MedicationStatement") == 0
    # The hospital: every reading once (its own pseudonyms), summaries and the medication
    # answer, no alerts; it took bundles far above the clinic's 8 entries.
    hospital_link = links["City Hospital"]
    rows = await hass.async_add_executor_job(
        store.measurements_after, hospital_link.config.start_row, 10**7
    )
    resources, _ = hospital_link.outbox.reading_resources(rows)
    hospital_expected = {
        r["identifier"][0]["value"]
        for r in resources.values()
        if r["resourceType"] == "Observation"
    }
    hospital_obs = hospital.all("Observation")
    assert identifiers(hospital_obs, fhir.OBSERVATION_SYSTEM) == Counter(
        dict.fromkeys(hospital_expected, 1)
    )
    assert not hospital_expected & expected  # keyed per link: no shared identifiers
    assert sum(identifiers(hospital_obs, fhir.DAILY_SUMMARY_SYSTEM).values()) == 2
    assert hospital.count("DetectedIssue") == 0
    assert hospital.count("MedicationStatement") == 1
    assert max(len(b["entry"]) for b in hospital.received) > 8
    # The clinic's strict server: its small transaction cap was learned (never above 8
    # accepted, a refusal above it), so readings went as batches of conditional creates.
    clinic_diag = links["Community Clinic"].diagnostics()
    assert clinic_diag["limits"]["good"] <= 8 < clinic_diag["limits"]["bad"]
    assert clinic_diag["readings_as_batches"] is True
    assert clinic_diag["batch_limits"]["good"] > 8
    assert links["City Hospital"].diagnostics()["readings_as_batches"] is False
    assert links["City Hospital"].diagnostics()["limits"]["bad"] is None
