"""FHIR R4 mapping: R4B-validated output, LOINC/UCUM per vital, BP panel, identifiers,
transaction semantics, pseudonymity, alerts, daily summary, medication, erasure."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
import json
from pathlib import Path
from typing import Any
import uuid
from zoneinfo import ZoneInfo

from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, assume, given, settings, strategies as st
import pytest

from custom_components.smart_care.core import fhir
from custom_components.smart_care.core.clinical.vitals import Vital, VitalSample
from custom_components.smart_care.core.fhir import (
    ALERT_SYSTEM,
    DEVICE_STATUS_SYSTEM,
    NATIONAL_ID_SYSTEM,
    OBSERVATION_CATEGORY_SYSTEM,
    OBSERVATION_SYSTEM,
    PSEUDONYM_SYSTEM,
    UCUM_SYSTEM,
    VITALSIGNS_PROFILE,
    alert_request,
    alert_resource,
    conditional_update_entry,
    daily_summary,
    erasure_bundle,
    erasure_requests,
    fhir_datetime,
    full_url,
    full_url_for,
    gateway_device_resource,
    identifier_query,
    medical_device_resource,
    medication_statement,
    observation_identifier,
    observations_for_samples,
    patient_resource,
    summary_bundle,
    transaction_bundle,
)

MODULE = Path(fhir.__file__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 3, 15, 14, 30, 45, tzinfo=SHANGHAI)
SD = "http://hl7.org/fhir/StructureDefinition/"

# R4 (4.0.1) required bindings that fhir.resources does not enforce.
OBSERVATION_STATUS = {
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
}
MEDICATION_STATEMENT_STATUS = {
    "active",
    "completed",
    "entered-in-error",
    "intended",
    "stopped",
    "on-hold",
    "unknown",
    "not-taken",
}
DETECTED_ISSUE_SEVERITY = {"high", "moderate", "low"}

# From /work/shared/reference/fhir_vital_signs.json (R4 vital-signs profiles), plus the
# product's choices for body fat and glucose: vital -> (LOINC, UCUM, category, profiles).
EXPECTED: dict[Vital, tuple[str, str, str, list[str]]] = {
    Vital.PULSE: ("8867-4", "/min", "vital-signs", [VITALSIGNS_PROFILE, SD + "heartrate"]),
    Vital.HEART_RATE: ("8867-4", "/min", "vital-signs", [VITALSIGNS_PROFILE, SD + "heartrate"]),
    Vital.TEMPERATURE: ("8310-5", "Cel", "vital-signs", [VITALSIGNS_PROFILE, SD + "bodytemp"]),
    Vital.SPO2: ("2708-6", "%", "vital-signs", [VITALSIGNS_PROFILE, SD + "oxygensat"]),
    Vital.RESPIRATION_RATE: (
        "9279-1",
        "/min",
        "vital-signs",
        [VITALSIGNS_PROFILE, SD + "resprate"],
    ),
    Vital.WEIGHT: ("29463-7", "kg", "vital-signs", [VITALSIGNS_PROFILE, SD + "bodyweight"]),
    Vital.HEIGHT: ("8302-2", "cm", "vital-signs", [VITALSIGNS_PROFILE, SD + "bodyheight"]),
    Vital.BMI: ("39156-5", "kg/m2", "vital-signs", [VITALSIGNS_PROFILE, SD + "bmi"]),
    Vital.BODY_FAT: ("41982-0", "%", "exam", []),
    Vital.GLUCOSE: ("15074-8", "mmol/L", "laboratory", []),
    # A lone BP component (no panel partner): base vital-signs profile only.
    Vital.SYSTOLIC_BP: ("8480-6", "mm[Hg]", "vital-signs", [VITALSIGNS_PROFILE]),
    Vital.DIASTOLIC_BP: ("8462-4", "mm[Hg]", "vital-signs", [VITALSIGNS_PROFILE]),
    Vital.MEAN_ARTERIAL_PRESSURE: ("8478-0", "mm[Hg]", "vital-signs", [VITALSIGNS_PROFILE]),
}
TYPICAL: dict[Vital, float] = {
    Vital.SYSTOLIC_BP: 128,
    Vital.DIASTOLIC_BP: 82,
    Vital.MEAN_ARTERIAL_PRESSURE: 97.3,
    Vital.PULSE: 71,
    Vital.HEART_RATE: 64,
    Vital.TEMPERATURE: 36.85,
    Vital.SPO2: 97,
    Vital.RESPIRATION_RATE: 16,
    Vital.WEIGHT: 63.45,
    Vital.BMI: 22.4,
    Vital.HEIGHT: 168.2,
    Vital.BODY_FAT: 27.5,
    Vital.GLUCOSE: 5.6,
}


def validate(resource: Mapping[str, Any]) -> None:
    """Validate with fhir.resources R4B and check JSON round-trips without NaN."""
    text = json.dumps(resource, allow_nan=False, ensure_ascii=False)
    assert json.loads(text) == resource
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def observations(samples: list[VitalSample], **overrides: Any) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "patient_ref": full_url_for(PSEUDONYM_SYSTEM, "p-1"),
        "device_ref": full_url_for(fhir.DEVICE_SYSTEM, "dev-1"),
        "person_pseudonym": "p-1",
        "device_key": "dev-1",
        "effective": T0,
    } | overrides
    result = observations_for_samples(samples, **kwargs)
    for resource in result:
        validate(resource)
        assert resource["status"] in OBSERVATION_STATUS
    return result


def codes(concept: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(coding["system"], coding["code"]) for coding in concept["coding"]]


def category_codes(resource: Mapping[str, Any]) -> set[str]:
    return {
        coding["code"]
        for concept in resource.get("category", [])
        for coding in concept["coding"]
        if coding["system"] == OBSERVATION_CATEGORY_SYSTEM
    }


def alert(**overrides: Any) -> dict[str, Any]:
    return {
        "alert_id": "alert-42",
        "severity": "critical",
        "kind": "threshold",
        "code": "systolic_bp_high",
        "vital": "systolic_bp",
        "value": 186.0,
        "unit": "mmHg",
        "threshold": 180.0,
        "message": "Systolic blood pressure very high.",
        "time": "2024-03-15T14:31:00+08:00",
        "status": "open",
    } | overrides


# --------------------------------------------------------------------------- module hygiene


def test_module_is_pure_and_builds_plain_dicts() -> None:
    tree = ast.parse(MODULE.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not any(name.startswith(("homeassistant", "fhir")) for name in imported)


def test_uuid_namespace_is_pinned() -> None:
    # Changing it would change every fullUrl already sent to clinics.
    assert uuid.uuid5(uuid.NAMESPACE_URL, "urn:smartcare") == fhir._UUID_NAMESPACE
    assert full_url_for(PSEUDONYM_SYSTEM, "p-1") == full_url_for(PSEUDONYM_SYSTEM, "p-1")
    assert full_url_for(PSEUDONYM_SYSTEM, "p-1").startswith("urn:uuid:")
    assert full_url_for(PSEUDONYM_SYSTEM, "p-1") != full_url_for(PSEUDONYM_SYSTEM, "p-2")
    assert full_url_for(PSEUDONYM_SYSTEM, "p-1") != full_url_for(fhir.DEVICE_SYSTEM, "p-1")


# --------------------------------------------------------------------------- per-vital coding


@pytest.mark.parametrize("vital", list(Vital))
def test_every_vital_has_loinc_ucum_category_and_profile(vital: Vital) -> None:
    loinc, ucum, category, profiles = EXPECTED[vital]
    [obs] = observations([VitalSample(vital, TYPICAL[vital])])
    assert codes(obs["code"])[0] == ("http://loinc.org", loinc)
    assert obs["valueQuantity"]["system"] == UCUM_SYSTEM
    assert obs["valueQuantity"]["code"] == ucum
    assert obs["valueQuantity"]["value"] == pytest.approx(TYPICAL[vital])
    assert category_codes(obs) == {category}
    assert obs.get("meta", {}).get("profile", []) == profiles
    assert obs["status"] == "final"
    assert obs["subject"] == {"reference": full_url_for(PSEUDONYM_SYSTEM, "p-1")}
    assert obs["device"] == {"reference": full_url_for(fhir.DEVICE_SYSTEM, "dev-1")}
    assert obs["identifier"][0]["system"] == OBSERVATION_SYSTEM
    assert "component" not in obs


def test_glucose_is_laboratory_not_vital_signs() -> None:
    [obs] = observations([VitalSample(Vital.GLUCOSE, 5.5506)])
    assert category_codes(obs) == {"laboratory"}
    assert "meta" not in obs
    assert "vital-signs" not in json.dumps(obs)
    assert obs["valueQuantity"] == {
        "value": 5.55,
        "unit": "mmol/L",
        "system": UCUM_SYSTEM,
        "code": "mmol/L",
    }


def test_spo2_carries_pulse_oximetry_coding_second() -> None:
    [obs] = observations([VitalSample(Vital.SPO2, 96)])
    assert codes(obs["code"]) == [("http://loinc.org", "2708-6"), ("http://loinc.org", "59408-5")]


def test_values_are_rounded_to_the_export_resolution() -> None:
    # kPa-converted pressure: 16 kPa = 120.0098... mmHg; no spurious precision on the wire.
    result = observations(
        [
            VitalSample(Vital.SYSTOLIC_BP, 16 * 7.50061683),
            VitalSample(Vital.WEIGHT, 70.123456),
            VitalSample(Vital.TEMPERATURE, -0.0001),
        ]
    )
    assert result[0]["valueQuantity"]["value"] == 120.0
    assert result[1]["valueQuantity"]["value"] == 70.123
    assert json.dumps(result[2]["valueQuantity"]["value"]) == "0.0"  # never "-0.0"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        observations([VitalSample(Vital.PULSE, bad)])
    with pytest.raises(ValueError, match="finite"):
        observations([VitalSample(Vital.SYSTOLIC_BP, bad), VitalSample(Vital.DIASTOLIC_BP, 80)])


# --------------------------------------------------------------------------- BP panel


def test_bp_panel_structure() -> None:
    result = observations(
        [
            VitalSample(Vital.SYSTOLIC_BP, 140),
            VitalSample(Vital.DIASTOLIC_BP, 90),
            VitalSample(Vital.MEAN_ARTERIAL_PRESSURE, 106.67),
            VitalSample(Vital.PULSE, 72),
        ]
    )
    assert len(result) == 2
    panel, pulse = result
    assert codes(panel["code"]) == [("http://loinc.org", "85354-9")]
    assert panel["meta"]["profile"] == [VITALSIGNS_PROFILE, SD + "bp"]
    assert "valueQuantity" not in panel  # the panel's values live in its components
    assert [codes(c["code"])[0][1] for c in panel["component"]] == ["8480-6", "8462-4", "8478-0"]
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [140.0, 90.0, 106.7]
    for component in panel["component"]:
        assert component["valueQuantity"]["code"] == "mm[Hg]"
        assert component["valueQuantity"]["system"] == UCUM_SYSTEM
    assert codes(pulse["code"]) == [("http://loinc.org", "8867-4")]
    # The example in the reference file, byte for byte where it matters.
    reference = observations(
        [VitalSample(Vital.SYSTOLIC_BP, 140), VitalSample(Vital.DIASTOLIC_BP, 90)],
        effective=datetime(2024, 3, 15, 14, 30, 45, tzinfo=timezone(timedelta(hours=1))),
    )[0]
    assert reference["effectiveDateTime"] == "2024-03-15T14:30:45+01:00"
    assert len(reference["component"]) == 2


def test_panel_identifier_matches_the_public_function() -> None:
    [panel] = observations(
        [VitalSample(Vital.DIASTOLIC_BP, 90), VitalSample(Vital.SYSTOLIC_BP, 140)]
    )
    expected = observation_identifier(
        "p-1", "dev-1", "blood_pressure", {"systolic_bp": 140, "diastolic_bp": 90}, T0
    )
    assert panel["identifier"] == [{"system": OBSERVATION_SYSTEM, "value": expected}]


def test_single_identifier_matches_the_public_function() -> None:
    [obs] = observations([VitalSample(Vital.PULSE, 71.04)])
    expected = observation_identifier("p-1", "dev-1", Vital.PULSE, 71.0, T0)
    assert obs["identifier"][0]["value"] == expected


def test_lone_bp_components_are_exported_alone() -> None:
    result = observations(
        [VitalSample(Vital.SYSTOLIC_BP, 150), VitalSample(Vital.MEAN_ARTERIAL_PRESSURE, 110)]
    )
    assert [codes(o["code"])[0][1] for o in result] == ["8480-6", "8478-0"]
    for obs in result:
        assert obs["meta"]["profile"] == [VITALSIGNS_PROFILE]


def test_bp_readings_group_by_instant() -> None:
    t1 = T0 + timedelta(minutes=5)
    result = observations(
        [
            VitalSample(Vital.SYSTOLIC_BP, 140, T0),
            VitalSample(Vital.SYSTOLIC_BP, 132, t1),
            VitalSample(Vital.DIASTOLIC_BP, 90, T0),
            VitalSample(Vital.DIASTOLIC_BP, 85, t1),
        ]
    )
    assert len(result) == 2
    assert [o["effectiveDateTime"] for o in result] == [fhir_datetime(T0), fhir_datetime(t1)]
    assert [o["component"][0]["valueQuantity"]["value"] for o in result] == [140.0, 132.0]


def test_conflicting_bp_component_is_refused() -> None:
    with pytest.raises(ValueError, match="two different systolic_bp"):
        observations(
            [
                VitalSample(Vital.SYSTOLIC_BP, 140),
                VitalSample(Vital.SYSTOLIC_BP, 141),
                VitalSample(Vital.DIASTOLIC_BP, 90),
            ]
        )


def test_exact_duplicates_are_emitted_once() -> None:
    sample = VitalSample(Vital.PULSE, 70)
    bp = [VitalSample(Vital.SYSTOLIC_BP, 120), VitalSample(Vital.DIASTOLIC_BP, 80)]
    assert len(observations([sample, sample, *bp, *bp])) == 2


# --------------------------------------------------------------------------- device status


def test_status_flags_become_note_and_searchable_components() -> None:
    result = observations(
        [
            VitalSample(Vital.SYSTOLIC_BP, 140),
            VitalSample(Vital.DIASTOLIC_BP, 90),
            VitalSample(Vital.PULSE, 95),
        ],
        status_flags=["irregular_pulse", "body_movement", "irregular_pulse"],
    )
    panel, pulse = result
    for obs in result:
        assert obs["note"] == [{"text": "Device reported: irregular pulse, body movement."}]
        flagged = [c for c in obs["component"] if codes(c["code"])[0][0] == DEVICE_STATUS_SYSTEM]
        assert [c["code"]["coding"][0]["code"] for c in flagged] == [
            "irregular_pulse",
            "body_movement",
        ]
        assert all(c["valueBoolean"] is True for c in flagged)
    # Measurement components stay first, so the BP slices are unchanged.
    assert [codes(c["code"])[0][1] for c in panel["component"][:2]] == ["8480-6", "8462-4"]
    assert pulse["valueQuantity"]["value"] == 95.0
    # Flags do not change the reading's identity.
    plain = observations([VitalSample(Vital.PULSE, 95)])[0]
    assert plain["identifier"] == pulse["identifier"]
    assert "note" not in plain


@pytest.mark.parametrize("flag", ["", "Irregular Pulse", "cuff too loose", "x|y", 3])
def test_malformed_status_flags_are_refused(flag: Any) -> None:
    with pytest.raises(ValueError, match="status flag"):
        observations([VitalSample(Vital.PULSE, 70)], status_flags=[flag])


def test_gateway_extension_names_the_forwarding_gateway() -> None:
    gateway = full_url_for(fhir.GATEWAY_SYSTEM, "gw-1")
    [obs] = observations([VitalSample(Vital.WEIGHT, 70)], gateway_ref=gateway, device_ref=None)
    assert obs["extension"] == [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice",
            "valueReference": {"reference": gateway},
        }
    ]
    assert "device" not in obs


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 3, 15, 14, 30, 45, tzinfo=SHANGHAI), "2024-03-15T14:30:45+08:00"),
        (
            datetime(2024, 7, 1, 8, 0, 0, 999999, tzinfo=ZoneInfo("America/New_York")),
            "2024-07-01T08:00:00-04:00",
        ),
        (
            datetime(2024, 1, 1, 0, 0, tzinfo=ZoneInfo("Asia/Kathmandu")),
            "2024-01-01T00:00:00+05:45",
        ),
        (datetime(2024, 1, 1, 0, 0, tzinfo=UTC), "2024-01-01T00:00:00+00:00"),
        # Offsets FHIR cannot write (seconds) fall back to the same instant in UTC.
        (
            datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=1, seconds=30))),
            "2024-01-01T10:59:30+00:00",
        ),
    ],
)
def test_effective_time_keeps_its_offset(moment: datetime, expected: str) -> None:
    assert fhir_datetime(moment) == expected
    [obs] = observations([VitalSample(Vital.PULSE, 70, moment)])
    assert obs["effectiveDateTime"] == expected


def test_sample_time_wins_over_effective_and_effective_fills_in() -> None:
    own = datetime(2024, 3, 14, 7, 0, tzinfo=SHANGHAI)
    result = observations([VitalSample(Vital.PULSE, 70, own), VitalSample(Vital.SPO2, 97)])
    assert [o["effectiveDateTime"] for o in result] == [
        "2024-03-14T07:00:00+08:00",
        "2024-03-15T14:30:45+08:00",
    ]


def test_naive_times_are_refused() -> None:
    naive = datetime(2024, 3, 15, 14, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        observations([VitalSample(Vital.PULSE, 70)], effective=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        observations([VitalSample(Vital.PULSE, 70, naive)])
    with pytest.raises(ValueError, match="timezone-aware"):
        observation_identifier("p", "d", "pulse", 70, naive)


# --------------------------------------------------------------------------- identifiers

texts = st.text(min_size=1, max_size=20)
values = st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, SHANGHAI, ZoneInfo("America/New_York")]),
)


def test_identifier_is_stable_and_offset_independent() -> None:
    one = observation_identifier("p", "d", "pulse", 70.0, T0)
    assert one == observation_identifier("p", "d", "pulse", 70.0, T0)
    assert one == observation_identifier("p", "d", Vital.PULSE, 70, T0.astimezone(UTC))
    assert one == observation_identifier("p", "d", "pulse", 70.00001, T0.replace(microsecond=5))
    assert len(one) == 64
    assert int(one, 16) >= 0
    mapping = observation_identifier("p", "d", "blood_pressure", {"a": 1.0, "b": 2.0}, T0)
    assert mapping == observation_identifier("p", "d", "blood_pressure", {"b": 2.0, "a": 1.0}, T0)
    assert mapping != observation_identifier("p", "d", "blood_pressure", {"a": 2.0, "b": 1.0}, T0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    person=texts,
    device=texts,
    vital=st.sampled_from([str(v) for v in Vital]),
    value=values,
    moment=instants,
    change=st.sampled_from(["person", "device", "vital", "value", "time"]),
    data=st.data(),
)
def test_identifier_changes_with_every_input(
    person: str,
    device: str,
    vital: str,
    value: float,
    moment: datetime,
    change: str,
    data: st.DataObject,
) -> None:
    inputs: dict[str, Any] = {
        "person": person,
        "device": device,
        "vital": vital,
        "value": value,
        "time": moment,
    }

    def ident(args: Mapping[str, Any]) -> str:
        return observation_identifier(
            args["person"], args["device"], args["vital"], args["value"], args["time"]
        )

    before = ident(inputs)
    assert before == ident(dict(inputs))
    changed = dict(inputs)
    if change in ("person", "device"):
        changed[change] = data.draw(texts.filter(lambda s: s != inputs[change]))
    elif change == "vital":
        changed["vital"] = data.draw(st.sampled_from([str(v) for v in Vital if v != vital]))
    elif change == "value":
        # Anything at or above the identifier's resolution (1e-4; exports are coarser).
        delta = data.draw(st.floats(min_value=1e-3, max_value=100))
        changed["value"] = value + data.draw(st.sampled_from([delta, -delta]))
    else:
        seconds = data.draw(st.integers(min_value=1, max_value=10**7))
        changed["time"] = moment + timedelta(
            seconds=data.draw(st.sampled_from([seconds, -seconds]))
        )
    assert ident(changed) != before


# --------------------------------------------------------------------------- Patient


def test_pseudonymous_patient_carries_no_identity() -> None:
    patient = patient_resource("p-1")
    validate(patient)
    assert patient["identifier"] == [{"system": PSEUDONYM_SYSTEM, "value": "p-1"}]
    for key in ("name", "birthDate", "gender", "telecom", "address"):
        assert key not in patient
    assert NATIONAL_ID_SYSTEM not in json.dumps(patient)
    assert patient["meta"]["security"][0]["code"] == "PSEUDED"


def test_identified_patient_carries_identity() -> None:
    identity = {
        "name": "王丽 Wang Li",
        "birth_date": "1941-03-07",
        "sex": "female",
        "id_number": "SENT1NEL-4711-ID",
    }
    patient = patient_resource("p-1", identified=identity)
    validate(patient)
    assert patient["identifier"][0] == {"system": PSEUDONYM_SYSTEM, "value": "p-1"}
    national = patient["identifier"][1]
    assert national["system"] == NATIONAL_ID_SYSTEM
    assert national["value"] == "SENT1NEL-4711-ID"
    assert codes(national["type"]) == [("http://terminology.hl7.org/CodeSystem/v2-0203", "NI")]
    assert patient["name"] == [{"text": "王丽 Wang Li"}]
    assert patient["birthDate"] == "1941-03-07"
    assert patient["gender"] == "female"
    assert "meta" not in patient
    # Same business key either way: the same clinic record.
    assert full_url(patient) == full_url(patient_resource("p-1"))


@pytest.mark.parametrize(
    ("identity", "match"),
    [
        ({"birthdate": "1941-03-07"}, "unknown identity fields"),
        ({"sex": "F"}, "sex must be"),
        ({"birth_date": "07/03/1941"}, "ISO date"),
        ({"birth_date": "1941-02-30"}, "birth_date is not a calendar date"),
        ({"name": " padded "}, "name"),
        ({"id_number": ""}, "id_number"),
    ],
)
def test_identity_fields_are_validated(identity: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        patient_resource("p-1", identified=identity)


def test_partial_identity_is_allowed() -> None:
    patient = patient_resource("p-1", identified={"name": "Grandma Wang"})
    validate(patient)
    assert patient["name"] == [{"text": "Grandma Wang"}]
    assert "birthDate" not in patient
    assert len(patient["identifier"]) == 1


# --------------------------------------------------------------------------- Device


def test_gateway_device() -> None:
    gateway = gateway_device_resource("gw-1", "Smart Care gateway", "0.1.0")
    validate(gateway)
    assert codes(gateway["type"]) == [(fhir.MDC_SYSTEM, "531981")]
    assert gateway["version"][0]["value"] == "0.1.0"
    assert gateway["deviceName"] == [{"name": "Smart Care gateway", "type": "user-friendly-name"}]


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("blood_pressure", "528391"),
        ("thermometer", "528392"),
        ("temperature", "528392"),
        ("pulse_oximeter", "528388"),
        ("plx_spot_check", "528388"),
        ("weight", "528399"),
        ("glucose", "528401"),
        ("body_composition", "528404"),
    ],
)
def test_medical_device_uses_phd_specialization_codes(kind: str, code: str) -> None:
    gateway_ref = full_url_for(fhir.GATEWAY_SYSTEM, "gw-1")
    device = medical_device_resource(
        "dev-1",
        manufacturer="A&D Medical",
        model="UA-651BLE",
        serial="5180400664",
        kind=kind,
        gateway_ref=gateway_ref,
    )
    validate(device)
    assert codes(device["type"]) == [(fhir.MDC_SYSTEM, "65573")]
    assert codes(device["specialization"][0]["systemType"]) == [(fhir.MDC_SYSTEM, code)]
    assert device["parent"] == {"reference": gateway_ref}
    assert device["manufacturer"] == "A&D Medical"
    assert device["modelNumber"] == "UA-651BLE"
    assert device["serialNumber"] == "5180400664"


def test_unknown_device_kind_gets_a_text_only_type() -> None:
    device = medical_device_resource(
        "manual", manufacturer=None, model=None, serial=None, kind="heart_rate", gateway_ref=None
    )
    validate(device)
    assert device["type"] == {"text": "heart rate"}
    for key in ("specialization", "parent", "manufacturer", "modelNumber", "serialNumber"):
        assert key not in device


# --------------------------------------------------------------------------- transaction


def household() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    patient = patient_resource("p-1")
    gateway = gateway_device_resource("gw-1", "Home", "0.1.0")
    device = medical_device_resource(
        "dev-1",
        manufacturer="Omron",
        model="HEM-7600T",
        serial=None,
        kind="blood_pressure",
        gateway_ref=full_url(gateway),
    )
    return patient, gateway, device


def reading_bundle(flags: tuple[str, ...] = ()) -> dict[str, Any]:
    patient, gateway, device = household()
    obs = observations_for_samples(
        [
            VitalSample(Vital.SYSTOLIC_BP, 141),
            VitalSample(Vital.DIASTOLIC_BP, 88),
            VitalSample(Vital.PULSE, 77),
        ],
        patient_ref=full_url(patient),
        device_ref=full_url(device),
        person_pseudonym="p-1",
        device_key="dev-1",
        effective=T0,
        status_flags=flags,
        gateway_ref=full_url(gateway),
    )
    return transaction_bundle([(full_url(r), r) for r in (patient, gateway, device, *obs)])


def test_transaction_bundle_is_conditional_create_with_internal_references() -> None:
    bundle = reading_bundle(("irregular_pulse",))
    validate(bundle)
    assert bundle["type"] == "transaction"
    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        identifier = resource["identifier"][0]
        assert entry["fullUrl"].startswith("urn:uuid:")
        assert entry["request"] == {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={identifier['system']}|{identifier['value']}",
        }
    by_type = {e["resource"]["resourceType"]: e for e in bundle["entry"]}
    patient_url = by_type["Patient"]["fullUrl"]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation":
            assert resource["subject"]["reference"] == patient_url
            assert resource["device"]["reference"] in urls
            assert resource["extension"][0]["valueReference"]["reference"] in urls
        if resource.get("parent"):
            assert resource["parent"]["reference"] in urls


def test_bundles_are_deterministic() -> None:
    one, two = reading_bundle(), reading_bundle()
    assert one == two
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert one["identifier"]["value"].startswith("urn:uuid:")
    # Content-addressed: a different payload gets a different bundle identifier.
    assert reading_bundle(("body_movement",))["identifier"] != one["identifier"]


def test_bundle_does_not_alias_its_inputs() -> None:
    patient = patient_resource("p-1")
    bundle = transaction_bundle([(full_url(patient), patient)])
    patient["active"] = False
    assert bundle["entry"][0]["resource"]["active"] is True


def test_transaction_bundle_guards() -> None:
    patient = patient_resource("p-1")
    with pytest.raises(ValueError, match="does not match"):
        transaction_bundle([("urn:uuid:00000000-0000-0000-0000-000000000000", patient)])
    with pytest.raises(ValueError, match="at least one entry"):
        transaction_bundle([])
    with pytest.raises(ValueError, match="no identifier"):
        transaction_bundle([("urn:uuid:x", {"resourceType": "Patient"})])
    with pytest.raises(ValueError, match="request.method"):
        transaction_bundle([], entries=[{"resource": patient}])
    # Same resource twice: sent once. Different content under one identifier: refused.
    assert len(transaction_bundle([(full_url(patient), patient)] * 2)["entry"]) == 1
    other = patient_resource("p-1", identified={"name": "Someone"})
    with pytest.raises(ValueError, match="share fullUrl"):
        transaction_bundle([(full_url(patient), patient), (full_url(other), other)])


def test_identifier_query_escapes_search_syntax() -> None:
    assert identifier_query(PSEUDONYM_SYSTEM, "p-1") == "identifier=urn:smartcare:pseudonym|p-1"
    assert identifier_query("urn:x", "a|b,c$d\\e f&g") == (
        "identifier=urn:x|a%5C%7Cb%5C%2Cc%5C%24d%5C%5Ce%20f%26g"
    )
    patient = patient_resource("odd|pseudonym,1")
    entry = transaction_bundle([(full_url(patient), patient)])["entry"][0]
    assert entry["request"]["ifNoneExist"] == (
        "identifier=urn:smartcare:pseudonym|odd%5C%7Cpseudonym%5C%2C1"
    )


# --------------------------------------------------------------------------- alerts


def test_alert_is_a_detected_issue_with_evidence() -> None:
    patient_ref = full_url_for(PSEUDONYM_SYSTEM, "p-1")
    obs_ref = "urn:uuid:5ccc9bf3-de53-5b10-95ad-12eeb0c10889"
    gateway_ref = full_url_for(fhir.GATEWAY_SYSTEM, "gw-1")
    issue = alert_resource(
        alert(), patient_ref=patient_ref, observation_refs=[obs_ref], author_ref=gateway_ref
    )
    validate(issue)
    assert issue["resourceType"] == "DetectedIssue"
    assert issue["identifier"] == [{"system": ALERT_SYSTEM, "value": "alert-42"}]
    assert issue["status"] == "preliminary"
    assert issue["severity"] == "high"
    assert issue["patient"] == {"reference": patient_ref}
    assert issue["author"] == {"reference": gateway_ref}
    assert issue["identifiedDateTime"] == "2024-03-15T14:31:00+08:00"
    assert codes(issue["code"]) == [(fhir.ALERT_CODE_SYSTEM, "systolic_bp_high")]
    [evidence] = issue["evidence"]
    assert codes(evidence["code"][0]) == [("http://loinc.org", "8480-6")]
    assert evidence["detail"] == [{"reference": obs_ref}]
    assert issue["detail"] == (
        "CRITICAL threshold alert: Systolic blood pressure very high. "
        "Value 186 mmHg. Threshold 180 mmHg."
    )
    assert "mitigation" not in issue


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("info", "low"), ("warning", "moderate"), ("urgent", "high"), ("critical", "high")],
)
def test_alert_severity_mapping(severity: str, expected: str) -> None:
    issue = alert_resource(alert(severity=severity), patient_ref="Patient/1", observation_refs=[])
    assert issue["severity"] == expected
    assert issue["severity"] in DETECTED_ISSUE_SEVERITY
    assert issue["detail"].startswith(severity.upper())


def test_alert_lifecycle_updates_the_same_resource() -> None:
    opened = alert_resource(alert(), patient_ref="Patient/1", observation_refs=[])
    acked = alert_resource(
        alert(status="acknowledged", acknowledged_at="2024-03-15T14:40:00+08:00"),
        patient_ref="Patient/1",
        observation_refs=[],
    )
    resolved = alert_resource(
        alert(
            status="resolved",
            acknowledged_at="2024-03-15T14:40:00+08:00",
            resolved_at="2024-03-15T16:00:00+08:00",
        ),
        patient_ref="Patient/1",
        observation_refs=[],
    )
    for issue in (opened, acked, resolved):
        validate(issue)
        assert issue["status"] in OBSERVATION_STATUS
    assert [opened["status"], acked["status"], resolved["status"]] == [
        "preliminary",
        "final",
        "final",
    ]
    assert [m["action"]["coding"][0]["code"] for m in acked["mitigation"]] == ["acknowledged"]
    assert [(m["action"]["coding"][0]["code"], m["date"]) for m in resolved["mitigation"]] == [
        ("acknowledged", "2024-03-15T14:40:00+08:00"),
        ("resolved", "2024-03-15T16:00:00+08:00"),
    ]
    requests = [alert_request(issue) for issue in (opened, acked, resolved)]
    expected_url = "DetectedIssue?identifier=urn:smartcare:alert|alert-42"
    assert {r["request"]["url"] for r in requests} == {expected_url}
    assert {r["request"]["method"] for r in requests} == {"PUT"}
    assert len({r["fullUrl"] for r in requests}) == 1
    bundle = transaction_bundle([], entries=requests[-1:])
    validate(bundle)


def test_alert_without_vital_or_readings() -> None:
    issue = alert_resource(
        alert(kind="stale", code="no_readings", vital=None, value=None, threshold=None),
        patient_ref="Patient/1",
        observation_refs=[],
    )
    validate(issue)
    assert "evidence" not in issue
    assert "Value" not in issue["detail"]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"severity": "severe"}, "severity"),
        ({"status": "closed"}, "status"),
        ({"time": "2024-03-15T14:31:00"}, "timezone-aware"),
        ({"vital": "blood_sugar"}, "blood_sugar"),
        ({"message": ""}, "message"),
        ({"value": float("nan")}, "finite"),
    ],
)
def test_alert_inputs_are_validated(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        alert_resource(alert(**overrides), patient_ref="Patient/1", observation_refs=[])


def test_reference_lists_refuse_a_bare_string() -> None:
    with pytest.raises(ValueError, match="not one string"):
        alert_resource(alert(), patient_ref="Patient/1", observation_refs="Observation/1")


def test_alert_request_only_takes_alerts() -> None:
    with pytest.raises(ValueError, match="DetectedIssue"):
        alert_request(patient_resource("p-1"))


# --------------------------------------------------------------------------- daily summary


def test_daily_summary_statistics() -> None:
    day = date(2024, 3, 15)
    at = [datetime(2024, 3, 15, h, 0, tzinfo=SHANGHAI) for h in (0, 8, 23)]
    samples = [
        VitalSample(Vital.PULSE, 70, at[0]),
        VitalSample(Vital.SYSTOLIC_BP, 150, at[1]),
        VitalSample(Vital.PULSE, 80, at[1]),
        VitalSample(Vital.PULSE, 91, at[2]),
        VitalSample(Vital.GLUCOSE, 6.1, None),
    ]
    refs = [full_url_for(OBSERVATION_SYSTEM, "x"), full_url_for(OBSERVATION_SYSTEM, "y")]
    summary = daily_summary(
        samples,
        day=day,
        tz=SHANGHAI,
        person_pseudonym="p-1",
        patient_ref="Patient/1",
        observation_refs=refs,
    )
    validate(summary)
    assert summary["status"] == "final"
    assert "category" not in summary  # not a vital sign: keep it out of vital-signs queries
    assert summary["effectivePeriod"] == {
        "start": "2024-03-15T00:00:00+08:00",
        "end": "2024-03-15T23:59:59+08:00",
    }
    stats = {c["code"]["coding"][0]["code"]: c for c in summary["component"]}
    assert list(stats)[:4] == [
        "systolic_bp-count",
        "systolic_bp-min",
        "systolic_bp-max",
        "systolic_bp-mean",
    ]
    assert stats["pulse-count"]["valueInteger"] == 3
    assert stats["pulse-min"]["valueQuantity"]["value"] == 70.0
    assert stats["pulse-max"]["valueQuantity"]["value"] == 91.0
    assert stats["pulse-mean"]["valueQuantity"] == {
        "value": 80.3,
        "unit": "beats/minute",
        "system": UCUM_SYSTEM,
        "code": "/min",
    }
    assert stats["glucose-mean"]["valueQuantity"]["code"] == "mmol/L"
    assert summary["derivedFrom"] == [{"reference": ref} for ref in refs]
    # Same person-day, same identifier (recomputation replaces); order-independent content.
    again = daily_summary(
        list(reversed(samples)),
        day=day,
        tz=SHANGHAI,
        person_pseudonym="p-1",
        patient_ref="Patient/1",
        observation_refs=refs,
    )
    assert again["component"] == summary["component"]
    assert again["identifier"] == summary["identifier"]
    entry = conditional_update_entry(summary)
    assert entry["request"]["method"] == "PUT"
    assert entry["request"]["url"].startswith("Observation?identifier=urn:smartcare:daily-summary|")
    other_day = daily_summary(
        [], day=date(2024, 3, 16), tz=SHANGHAI, person_pseudonym="p-1", patient_ref="Patient/1"
    )
    assert other_day["identifier"] != summary["identifier"]


def test_daily_summary_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    summary = daily_summary(
        [VitalSample(Vital.WEIGHT, 70.25, datetime(2024, 3, 31, 23, 0, tzinfo=berlin))],
        day=date(2024, 3, 31),
        tz=berlin,
        person_pseudonym="p-1",
        patient_ref="Patient/1",
        status="preliminary",
    )
    validate(summary)
    assert summary["effectivePeriod"] == {
        "start": "2024-03-31T00:00:00+01:00",
        "end": "2024-03-31T23:59:59+02:00",
    }
    assert summary["status"] == "preliminary"


def test_empty_day_says_so() -> None:
    summary = daily_summary(
        [], day=date(2024, 3, 15), tz=SHANGHAI, person_pseudonym="p-1", patient_ref="Patient/1"
    )
    validate(summary)
    assert "component" not in summary
    assert summary["dataAbsentReason"]["coding"][0]["code"] == "not-performed"


def test_daily_summary_guards() -> None:
    with pytest.raises(ValueError, match="not on 2024-03-15"):
        daily_summary(
            [VitalSample(Vital.PULSE, 70, datetime(2024, 3, 16, 0, 0, tzinfo=SHANGHAI))],
            day=date(2024, 3, 15),
            tz=SHANGHAI,
            person_pseudonym="p-1",
            patient_ref="Patient/1",
        )
    with pytest.raises(ValueError, match="final or preliminary"):
        daily_summary(
            [],
            day=date(2024, 3, 15),
            tz=SHANGHAI,
            person_pseudonym="p-1",
            patient_ref="Patient/1",
            status="amended",
        )


# --------------------------------------------------------------------------- medication


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("taken", "completed"),
        ("skipped", "not-taken"),
        ("snoozed", "intended"),
        ("unanswered", "unknown"),
    ],
)
def test_medication_statement_status(answer: str, status: str) -> None:
    scheduled = datetime(2024, 3, 15, 8, 0, tzinfo=SHANGHAI)
    answered = None if answer == "unanswered" else scheduled + timedelta(minutes=12)
    statement = medication_statement(
        person_pseudonym="p-1",
        patient_ref="Patient/1",
        medication="Amlodipine 5 mg tablet",
        answer=answer,
        scheduled=scheduled,
        answered=answered,
        dosage="1 tablet by mouth",
        reason="felt dizzy" if answer == "skipped" else None,
    )
    validate(statement)
    assert statement["status"] == status
    assert statement["status"] in MEDICATION_STATEMENT_STATUS
    assert statement["medicationCodeableConcept"] == {"text": "Amlodipine 5 mg tablet"}
    expected_effective = (
        "2024-03-15T08:12:00+08:00" if answer == "taken" else "2024-03-15T08:00:00+08:00"
    )
    assert statement["effectiveDateTime"] == expected_effective
    if answered is None:
        assert "dateAsserted" not in statement
    else:
        assert statement["dateAsserted"] == "2024-03-15T08:12:00+08:00"
    assert ("statusReason" in statement) == (answer == "skipped")


def test_a_snoozed_dose_later_taken_is_the_same_statement() -> None:
    common: dict[str, Any] = {
        "person_pseudonym": "p-1",
        "patient_ref": "Patient/1",
        "medication": "Metformin 500 mg",
        "scheduled": datetime(2024, 3, 15, 8, 0, tzinfo=SHANGHAI),
    }
    snoozed = medication_statement(
        answer="snoozed", answered=datetime(2024, 3, 15, 8, 1, tzinfo=SHANGHAI), **common
    )
    taken = medication_statement(
        answer="taken", answered=datetime(2024, 3, 15, 8, 31, tzinfo=SHANGHAI), **common
    )
    assert snoozed["identifier"] == taken["identifier"]
    assert (
        conditional_update_entry(snoozed)["request"] == conditional_update_entry(taken)["request"]
    )
    next_dose = medication_statement(
        answer="taken",
        answered=datetime(2024, 3, 15, 20, 5, tzinfo=SHANGHAI),
        **(common | {"scheduled": datetime(2024, 3, 15, 20, 0, tzinfo=SHANGHAI)}),
    )
    assert next_dose["identifier"] != taken["identifier"]


def test_medication_statement_guards() -> None:
    scheduled = datetime(2024, 3, 15, 8, 0, tzinfo=SHANGHAI)
    with pytest.raises(ValueError, match="answer must be"):
        medication_statement(
            person_pseudonym="p",
            patient_ref="Patient/1",
            medication="x",
            answer="maybe",
            scheduled=scheduled,
            answered=scheduled,
        )
    with pytest.raises(ValueError, match="answered"):
        medication_statement(
            person_pseudonym="p",
            patient_ref="Patient/1",
            medication="x",
            answer="taken",
            scheduled=scheduled,
        )


# --------------------------------------------------------------------------- erasure


def test_erasure_deletes_everything_about_the_person() -> None:
    entries = erasure_requests("p-1")
    assert [e["request"]["method"] for e in entries] == ["DELETE"] * 5
    assert [e["request"]["url"] for e in entries] == [
        "DetectedIssue?patient.identifier=urn:smartcare:pseudonym|p-1",
        "MedicationStatement?patient.identifier=urn:smartcare:pseudonym|p-1",
        "Observation?patient.identifier=urn:smartcare:pseudonym|p-1",
        "Bundle?_tag=urn:smartcare:pseudonym|p-1",
        "Patient?identifier=urn:smartcare:pseudonym|p-1",
    ]
    bundle = erasure_bundle("p-1")
    validate(bundle)
    assert bundle == erasure_bundle("p-1")
    assert bundle["type"] == "transaction"
    assert all("resource" not in e and "fullUrl" not in e for e in bundle["entry"])
    assert erasure_bundle("p-2")["identifier"] != bundle["identifier"]


# --------------------------------------------------------------------------- summary bundle


def test_summary_bundle_is_a_collection() -> None:
    patient, gateway, device = household()
    obs = observations_for_samples(
        [VitalSample(Vital.PULSE, 70), VitalSample(Vital.TEMPERATURE, 37.2)],
        patient_ref=full_url(patient),
        device_ref=full_url(device),
        person_pseudonym="p-1",
        device_key="dev-1",
        effective=T0,
    )
    issue = alert_resource(
        alert(), patient_ref=full_url(patient), observation_refs=[full_url(obs[0])]
    )
    made_at = datetime(2024, 3, 15, 18, 0, tzinfo=SHANGHAI)
    bundle = summary_bundle(patient, [device, *obs, issue, obs[0]], timestamp=made_at)
    validate(bundle)
    assert bundle["type"] == "collection"
    assert bundle["timestamp"] == "2024-03-15T18:00:00+08:00"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
    assert len(bundle["entry"]) == 5  # the repeated Observation appears once
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    for entry in bundle["entry"][1:]:
        resource = entry["resource"]
        for key in ("subject", "patient"):
            if key in resource:
                assert resource[key]["reference"] in urls
        assert "request" not in entry
    assert bundle == summary_bundle(patient, [device, *obs, issue, obs[0]], timestamp=made_at)
    with pytest.raises(ValueError, match="Patient first"):
        summary_bundle(device, obs, timestamp=made_at)


# --------------------------------------------------------------------------- properties

sample_strategy = st.builds(
    VitalSample,
    vital=st.sampled_from(list(Vital)),
    value=st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False),
    time=st.none() | instants,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    samples=st.lists(sample_strategy, max_size=8),
    effective=instants,
    flags=st.lists(st.sampled_from(["irregular_pulse", "body_movement", "clock_not_set"])),
)
def test_any_reading_builds_a_valid_deterministic_bundle(
    samples: list[VitalSample], effective: datetime, flags: list[str]
) -> None:
    # One device reading never has two different values of a BP component at one instant
    # (that is refused, see test_conflicting_bp_component_is_refused).
    bp = [
        (s.vital, (s.time or effective).astimezone(UTC).replace(microsecond=0))
        for s in samples
        if s.vital in (Vital.SYSTOLIC_BP, Vital.DIASTOLIC_BP, Vital.MEAN_ARTERIAL_PRESSURE)
    ]
    assume(len(set(bp)) == len(bp))
    patient = patient_resource("p-1")
    obs = observations_for_samples(
        samples,
        patient_ref=full_url(patient),
        device_ref=None,
        person_pseudonym="p-1",
        device_key="dev-1",
        effective=effective,
        status_flags=flags,
    )
    resources = [patient, *obs]
    bundle = transaction_bundle([(full_url(r), r) for r in resources])
    validate(bundle)
    assert bundle == transaction_bundle([(full_url(r), r) for r in resources])
    for resource in obs:
        assert resource["effectiveDateTime"][-6] in "+-"  # always an explicit offset
        assert resource["status"] == "final"
