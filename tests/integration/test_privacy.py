"""Privacy services: audit trail, export and erasure (administrators only)."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.smart_care.clinic.services import SETTING_LOCATION_LOG
from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.privacy import LOCAL_AUDIT_LINK, PRIVACY_SERVICES
from tests.clinic.test_bridge_sync import fhir_server  # noqa: F401 (fixture)
from tests.clinic.test_webhook import ADVICE_TEXT, Clinic, advice, clinic  # noqa: F401 (fixture)
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_NAME, SENTINEL_TEXT, add_person
from tests.fakes.fhir_server import FhirServer
from tests.support.clinic_support import (
    alerts,
    household,
    link_clinic,
    only_link,
    record,
    settle,
    validate_bundle,
)

IDENTITY = (SENTINEL_NAME, SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH)


async def call(
    hass: HomeAssistant, service: str, user: MockUser | None, **data: Any
) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        service,
        data,
        blocking=True,
        return_response=True,
        context=Context(user_id=user.id if user else None),
    )
    assert response is not None
    return dict(response)


@pytest.mark.parametrize("service", PRIVACY_SERVICES)
async def test_only_administrators(
    hass: HomeAssistant, grandma: str, hass_read_only_user: MockUser, service: str
) -> None:
    with pytest.raises(Unauthorized):
        await call(hass, service, hass_read_only_user, person="Grandma")
    # Nothing was erased or recorded.
    assert household(hass).person_by_alias("Grandma") is not None
    rows = await hass.async_add_executor_job(household(hass).store.clinic_audit_rows)
    assert rows == []


async def test_person_required_and_known(
    hass: HomeAssistant, grandma: str, hass_admin_user: MockUser
) -> None:
    for service in ("export_person", "forget_person"):
        with pytest.raises(ServiceValidationError) as err:
            await call(hass, service, hass_admin_user)
        assert err.value.translation_key == "person_required"
        with pytest.raises(ServiceValidationError) as err:
            await call(hass, service, hass_admin_user, person="Nobody")
        assert err.value.translation_key == "unknown_person"


async def test_audit_trail_lists_disclosures_and_refusals(
    hass: HomeAssistant,
    clinic: Clinic,  # noqa: F811
    loaded_household: MockConfigEntry,
    hass_admin_user: MockUser,
) -> None:
    await add_person(hass, loaded_household, alias="Grandpa")
    await settle(hass)
    hh = household(hass)
    grandma = hh.person_by_alias("Grandma")
    assert grandma is not None
    await record(hass, systolic=150, diastolic=85)
    await settle(hass)
    assert (await clinic.post(advice(clinic, advice_id="a1")))[0] == 201
    status, _ = await clinic.post({"type": "summary", "person": clinic.pseudonym})
    assert status == 200
    assert (await clinic.post({"type": "summary", "person": "sc-" + "a" * 26}))[0] == 404
    bad = json.dumps(advice(clinic)).encode()
    response = await clinic.client.post(
        clinic.path, data=bad, headers={"X-SmartCare-Signature": "0" * 64}
    )
    assert response.status == 401
    log = [{"alert_id": "a-1", "time": "2025-01-01T00:00:00+00:00", "by": "user:abc"}]
    await hass.async_add_executor_job(
        hh.store.put_setting, grandma.person_id, SETTING_LOCATION_LOG, log
    )

    result = await call(hass, "get_audit", hass_admin_user)
    kinds = [(e["kind"], e.get("request"), e.get("status")) for e in result["entries"]]
    assert ("clinic_request", "advice", 201) in kinds
    assert ("clinic_request", "summary", 200) in kinds
    assert ("clinic_request", "summary", 404) in kinds
    assert ("clinic_request", "unknown", 401) in kinds
    assert ("emergency_location", None, None) in kinds
    assert ("clinic_sharing", None, None) in kinds
    assert result["rejected"] == 2
    assert result["disclosures"] == 3  # the summary, the sharing, the location
    (summary,) = [
        e for e in result["entries"] if e.get("request") == "summary" and e["status"] == 200
    ]
    assert summary["person_id"] == grandma.person_id
    assert summary["to"] == "Community Clinic"
    assert summary["authority"] == "hmac"
    assert summary["disclosure"] is True
    # Filtered by person: the refused request about nobody and Grandpa's nothing drop out.
    mine = await call(hass, "get_audit", hass_admin_user, person="Grandma")
    assert {e["person_id"] for e in mine["entries"]} == {grandma.person_id}
    assert await call(hass, "get_audit", hass_admin_user, person="Grandpa") == {
        "entries": [],
        "disclosures": 0,
        "rejected": 0,
    }
    # The trail names nobody and carries no advice text.
    text = json.dumps(result)
    for secret in (*IDENTITY, ADVICE_TEXT, "Grandma"):
        assert secret not in text


async def test_export_person(
    hass: HomeAssistant,
    clinic: Clinic,  # noqa: F811
    hass_admin_user: MockUser,
) -> None:
    await record(hass, systolic=190, diastolic=100, pulse=80)
    assert (await clinic.post(advice(clinic, advice_id="a1")))[0] == 201
    result = await call(hass, "export_person", hass_admin_user, person="Grandma")
    grandma = household(hass).person_by_alias("Grandma")
    assert grandma is not None
    assert result["person_id"] == grandma.person_id
    assert result["profile"]["id_number"] == SENTINEL_ID
    assert result["profile"]["birth_date"] == SENTINEL_BIRTH
    assert result["person"]["alias"] == "Grandma"
    assert sorted(m["vital"] for m in result["measurements"]) == [
        "diastolic_bp",
        "pulse",
        "systolic_bp",
    ]
    assert result["alerts"]
    (stored,) = result["advice"]
    assert stored["text"] == ADVICE_TEXT
    assert isinstance(result["adherence"], list)
    validate_bundle(result["fhir"])
    assert result["fhir"]["type"] == "collection"
    patient = result["fhir"]["entry"][0]["resource"]
    assert patient["resourceType"] == "Patient"
    assert patient["birthDate"] == SENTINEL_BIRTH
    json.dumps(result, allow_nan=False)
    # The export itself is in the trail, with who asked.
    audit = await call(hass, "get_audit", hass_admin_user, person="Grandma")
    (export,) = [e for e in audit["entries"] if e["kind"] == "export"]
    assert export["by"] == f"user:{hass_admin_user.id}"
    assert export["person_id"] == grandma.person_id


async def test_forget_person_erases_everywhere(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    fhir_server: FhirServer,  # noqa: F811
    hass_admin_user: MockUser,
) -> None:
    await add_person(hass, loaded_household, alias="Grandpa")
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    await record(hass, systolic=190, diastolic=100)
    await record(hass, person="Grandpa", pulse=70)
    await settle(hass)
    assert fhir_server.count("Patient") == 2
    hh = household(hass)
    person = hh.person_by_alias("Grandma")
    assert person is not None
    person_id = person.person_id
    # A held reading guessed to be hers, and an alert change waiting for the clinic.
    await hass.async_add_executor_job(
        hh.store.put_pending,
        "held-1",
        {
            "samples": [{"vital": "weight", "value": 60.0, "time": "2025-01-01T00:00:00+00:00"}],
            "guess": person_id,
            "device_name": "Scale",
            "details": {},
            "source": "device:x",
            "dedupe_prefix": None,
        },
    )
    fhir_server.down()
    alert = alerts(hass).active_alerts(person_id)[0]
    await hass.services.async_call(
        DOMAIN, "acknowledge_alert", {"alert_id": alert.alert_id}, blocking=True
    )
    await settle(hass)
    assert only_link(hass).pending
    fhir_server.recover()

    result = await call(hass, "forget_person", hass_admin_user, person="Grandma")
    await hass.async_block_till_done()
    await settle(hass)
    only_link(hass).async_wake()
    await settle(hass)
    assert result["held_readings_dropped"] == 1
    assert result["clinic_items_dropped"] >= 1
    assert result["recorder_cleared"] is False  # no recorder in this test
    # Gone from the household and the record.
    hh = household(hass)
    assert hh.person_by_alias("Grandma") is None
    store = hh.store
    assert await hass.async_add_executor_job(store.get_profile, person_id) is None
    assert await hass.async_add_executor_job(store.count, person_id) == 0
    assert await hass.async_add_executor_job(store.advice, person_id) == []
    assert await hass.async_add_executor_job(store.list_pending) == {}
    assert await hass.async_add_executor_job(lambda: store.alerts(person_id=person_id)) == []
    assert hass.states.get("sensor.grandma_systolic_blood_pressure") is None
    # The clinic was told in FHIR terms: DELETEs by id of what a search by reference found
    # (the bridge's erasure sweep), then the conditional DELETEs; only Grandpa is left.
    deletes = [
        e for b in fhir_server.received for e in b["entry"] if e["request"]["method"] == "DELETE"
    ]
    assert (
        len([e for e in deletes if "?" in e["request"]["url"]]) == 5
    )  # DetectedIssue, MedicationStatement, Observation, Bundle (reports), Patient
    assert all("?" in e["request"]["url"] or e["request"]["url"].count("/") == 1 for e in deletes)
    assert fhir_server.count("Patient") == 1
    assert fhir_server.count("DetectedIssue") == 0
    assert only_link(hass).pending == 0
    # The trail keeps the erasure, by id only.
    rows = await hass.async_add_executor_job(store.clinic_audit_rows, LOCAL_AUDIT_LINK)
    (erasure,) = [r for r in rows if r["type"] == "erasure"]
    assert erasure["person"] == person_id
    assert erasure["authority"] == f"user:{hass_admin_user.id}"
    text = json.dumps(rows)
    for secret in (*IDENTITY, "Grandma"):
        assert secret not in text
