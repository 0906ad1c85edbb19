"""The real FHIR server of the suite (Medplum in Node) behaves as the bridge tests assume."""

from __future__ import annotations

from typing import Any

from tests.support.fhir_medplum import MedplumServer

SYSTEM = "urn:smart-care:test"


def _entry(i: int, **overrides: Any) -> dict[str, Any]:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "heart rate"},
        "identifier": [{"system": SYSTEM, "value": f"o{i}"}],
        "valueQuantity": {"value": 70 + i},
        **overrides,
    }
    return {
        "resource": obs,
        "request": {
            "method": "POST",
            "url": "Observation",
            "ifNoneExist": f"identifier={SYSTEM}|o{i}",
        },
    }


def _transaction(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def test_metadata_and_conditional_create(medplum: MedplumServer) -> None:
    """CapabilityStatement at /metadata; a re-sent conditional create creates nothing."""
    status, cap = await medplum.request("GET", "metadata")
    assert (status, cap["resourceType"], cap["fhirVersion"]) == (
        200,
        "CapabilityStatement",
        "4.0.1",
    )
    status, reply = await medplum.request("POST", "", _transaction([_entry(i) for i in range(8)]))
    assert status == 200
    assert [e["response"]["status"] for e in reply["entry"]] == ["201"] * 8
    status, reply = await medplum.request("POST", "", _transaction([_entry(i) for i in range(8)]))
    assert [e["response"]["status"] for e in reply["entry"]] == ["200"] * 8
    assert len(await medplum.by_identifier("Observation", SYSTEM, "o3")) == 1
    assert await medplum.count("Observation") == 8


async def test_strict_isolation_cap(medplum: MedplumServer) -> None:
    """Nine conditional creates in one transaction: Medplum's own 400, nothing stored."""
    status, outcome = await medplum.request("POST", "", _transaction([_entry(i) for i in range(9)]))
    assert status == 400
    assert outcome["resourceType"] == "OperationOutcome"
    assert "too many entries" in outcome["issue"][0]["details"]["text"]
    assert await medplum.count("Observation") == 0


async def test_invalid_entry_fails_whole_transaction(medplum: MedplumServer) -> None:
    """Every bundle entry is validated; one bad entry refuses the bundle (400 + outcome)."""
    bad = _entry(2, valueQuantity={"value": "seventy"})
    status, outcome = await medplum.request("POST", "", _transaction([_entry(1), bad]))
    assert status == 400
    assert outcome["issue"][0]["severity"] == "error"
    assert "Bundle.entry[1].resource" in outcome["issue"][0]["expression"][0]
    assert await medplum.count("Observation") == 0
    status, outcome = await medplum.request("POST", "Observation", bad["resource"])
    assert status == 400
    assert outcome["resourceType"] == "OperationOutcome"


async def test_oversized_body_is_413(medplum_factory: Any) -> None:
    """Bodies over FHIR_MAX_BODY are refused with 413 and an OperationOutcome."""
    server = medplum_factory(env={"FHIR_MAX_BODY": "2000"})
    status, outcome = await server.request("POST", "", _transaction([_entry(i) for i in range(8)]))
    assert status == 413
    assert outcome["resourceType"] == "OperationOutcome"


async def test_restart_loses_data(medplum: MedplumServer) -> None:
    """Kill and start again on the same port: in memory, so empty."""
    await medplum.request("POST", "", _transaction([_entry(1)]))
    port = medplum.port
    medplum.restart()
    assert medplum.port == port
    assert await medplum.count("Observation") == 0
