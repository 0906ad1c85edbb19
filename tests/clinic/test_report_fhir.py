"""The visit report as a FHIR document, sent through the outbox to a real FHIR server.

Real HA core, real bridge, Medplum (tests/medplum/server.mjs, 127.0.0.1) validating what
it is sent. The document is looked up the way a clinic would: by its identifier.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.core import fhir
from custom_components.smart_care.core.fhir_report import VISIT_REPORT_SYSTEM
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID
from tests.support.clinic_support import link_clinic, only_link, settle
from tests.support.fhir_medplum import MedplumServer


async def _measure_two_weeks(hass: HomeAssistant) -> None:
    today = dt_util.start_of_local_day()
    for day in range(14, 0, -1):
        for hour, (systolic, diastolic) in ((7, (142, 91)), (19, (128, 79))):
            when = today - timedelta(days=day) + timedelta(hours=hour)
            await hass.services.async_call(
                DOMAIN,
                "record_measurement",
                {"person": "Grandma", "time": when, "systolic": systolic, "diastolic": diastolic},
                blocking=True,
            )
    for day, value in ((3, 6.2), (2, 3.4), (1, 11.8)):
        when = today - timedelta(days=day) + timedelta(hours=8)
        await hass.services.async_call(
            DOMAIN,
            "record_measurement",
            {"person": "Grandma", "time": when, "glucose": value},
            blocking=True,
        )


def _section(document: dict[str, Any], title: str) -> dict[str, Any]:
    composition = document["entry"][0]["resource"]
    (section,) = [s for s in composition["section"] if s["title"] == title]
    return section


async def test_report_document_is_accepted_by_medplum(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    medplum: MedplumServer,
) -> None:
    await link_clinic(hass, loaded_household, url=medplum.base_url)
    await _measure_two_weeks(hass)
    await settle(hass)
    response = await hass.services.async_call(
        DOMAIN,
        "visit_report",
        {"person": "Grandma", "send_to_clinic": True},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["sent_to_clinics"] == 1
    await settle(hass)
    link = only_link(hass)
    assert (
        await hass.async_add_executor_job(link.household.store.clinic_item_count, link.link_id) == 0
    )  # delivered and acknowledged

    documents = await medplum.search("Bundle", type="document")
    assert len(documents) == 1
    document = documents[0]
    Bundle.model_validate(document)  # R4(B)-valid on our side as well
    assert document["identifier"]["system"] == VISIT_REPORT_SYSTEM
    composition = document["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["status"] == "final"
    period = response["period"]
    assert composition["event"][0]["period"] == {"start": period["start"], "end": period["end"]}

    # Every reference inside the document resolves inside it.
    urls = {e["fullUrl"] for e in document["entry"]}
    assert composition["subject"]["reference"] in urls
    bp = _section(document, "Home blood pressure")
    # 13 days kept * 2 readings = 26 BP panels; (13*142 + 13*128) / 26 = 135, (91+79)/2 = 85
    assert len(bp["entry"]) == 26
    assert all(ref["reference"] in urls for ref in bp["entry"])
    assert "Average: 135/85 mmHg (26 readings)" in bp["text"]["div"]
    glucose = _section(document, "Blood glucose")
    assert len(glucose["entry"]) == 3
    # 6.2 + 3.4 + 11.8 = 21.4 / 3 = 7.13 -> 7.1
    assert "Mean: 7.1 mmol/L (3 readings)" in glucose["text"]["div"]
    by_url = {e["fullUrl"]: e["resource"] for e in document["entry"]}
    panel = by_url[bp["entry"][0]["reference"]]
    assert panel["code"]["coding"][0]["code"] == fhir.BP_PANEL_LOINC

    # Pseudonymous by default: the Patient is a pseudonym, nothing of the identity.
    patient = by_url[composition["subject"]["reference"]]
    assert [i["system"] for i in patient["identifier"]] == [fhir.PSEUDONYM_SYSTEM]
    text = str(document)
    for sentinel in (SENTINEL_ID, SENTINEL_BIRTH, "Grandma"):
        assert sentinel not in text

    key = document["identifier"]["value"]
    found = await medplum.by_identifier("Bundle", VISIT_REPORT_SYSTEM, key)
    assert len(found) == 1, [d["identifier"] for d in await medplum.search("Bundle")]
    # The same weeks sent again replace the document (conditional update), never a copy.
    await hass.services.async_call(
        DOMAIN,
        "visit_report",
        {"person": "Grandma", "send_to_clinic": True},
        blocking=True,
        return_response=True,
    )
    await settle(hass)
    assert len(await medplum.search("Bundle", type="document")) == 1

    # Grandma leaves the household: the clinic's copy of her report goes with her.
    hass.config_entries.async_remove_subentry(loaded_household, grandma)
    await hass.async_block_till_done()
    await settle(hass)
    assert await medplum.search("Patient") == []
    assert await medplum.search("Bundle", type="document") == []


async def test_report_without_summary_consent_is_not_sent(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    medplum: MedplumServer,
) -> None:
    await link_clinic(hass, loaded_household, url=medplum.base_url, scopes=["vital_signs"])
    response = await hass.services.async_call(
        DOMAIN,
        "visit_report",
        {"person": "Grandma", "send_to_clinic": True},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["sent_to_clinics"] == 0
    await settle(hass)
    assert await medplum.search("Bundle", type="document") == []
