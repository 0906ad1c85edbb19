"""HL7 FHIR R4 (4.0.1) mapping for Smart Care (pure: no Home Assistant, no FHIR library).

Notes: docs/modules.md (core/fhir.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
import hashlib
import json
import math
import re
from statistics import fmean
from types import MappingProxyType
from typing import Any, Final, NotRequired, TypedDict, Unpack
from urllib.parse import quote
import uuid

from .clinical.vitals import Vital, VitalSample

__all__ = [
    "ALERT_CODE_SYSTEM",
    "ALERT_LIFECYCLE_SYSTEM",
    "ALERT_SYSTEM",
    "BP_PANEL_LOINC",
    "DAILY_STATISTIC_SYSTEM",
    "DAILY_SUMMARY_SYSTEM",
    "DEVICE_KINDS",
    "DEVICE_STATUS_SYSTEM",
    "DEVICE_SYSTEM",
    "GATEWAY_SYSTEM",
    "LOINC_SYSTEM",
    "MDC_SYSTEM",
    "MEDICATION_ANSWERS",
    "MEDICATION_STATEMENT_SYSTEM",
    "NATIONAL_ID_SYSTEM",
    "OBSERVATION_CATEGORY_SYSTEM",
    "OBSERVATION_SYSTEM",
    "PSEUDONYM_SYSTEM",
    "SUMMARY_CODE_SYSTEM",
    "UCUM_SYSTEM",
    "VITALSIGNS_PROFILE",
    "VITAL_CODINGS",
    "FhirResource",
    "VitalCoding",
    "alert_request",
    "alert_resource",
    "conditional_update_entry",
    "daily_summary",
    "erasure_bundle",
    "erasure_requests",
    "fhir_datetime",
    "full_url",
    "full_url_for",
    "gateway_device_resource",
    "identifier_query",
    "medical_device_resource",
    "medication_statement",
    "observation_identifier",
    "observations_for_samples",
    "patient_resource",
    "summary_bundle",
    "transaction_bundle",
]

type FhirResource = dict[str, Any]

# --------------------------------------------------------------------------- systems
# Business-identifier systems. URNs, not URLs: they name Smart Care's own namespaces and
# must never be dereferenced. A deployment may swap NATIONAL_ID_SYSTEM for its national
# OID (e.g. the resident identity card system of the clinic's jurisdiction).
PSEUDONYM_SYSTEM: Final = "urn:smartcare:pseudonym"
NATIONAL_ID_SYSTEM: Final = "urn:smartcare:national-id"
GATEWAY_SYSTEM: Final = "urn:smartcare:gateway"
DEVICE_SYSTEM: Final = "urn:smartcare:device"
OBSERVATION_SYSTEM: Final = "urn:smartcare:observation"
DAILY_SUMMARY_SYSTEM: Final = "urn:smartcare:daily-summary"
ALERT_SYSTEM: Final = "urn:smartcare:alert"
MEDICATION_STATEMENT_SYSTEM: Final = "urn:smartcare:medication-statement"
# Local code systems, for concepts no standard vocabulary covers (documented in docs/fhir.md).
DEVICE_STATUS_SYSTEM: Final = "urn:smartcare:device-status"
ALERT_CODE_SYSTEM: Final = "urn:smartcare:alert-code"
ALERT_LIFECYCLE_SYSTEM: Final = "urn:smartcare:alert-lifecycle"
SUMMARY_CODE_SYSTEM: Final = "urn:smartcare:summary"
DAILY_STATISTIC_SYSTEM: Final = "urn:smartcare:daily-statistic"

# Standard systems.
LOINC_SYSTEM: Final = "http://loinc.org"
UCUM_SYSTEM: Final = "http://unitsofmeasure.org"
MDC_SYSTEM: Final = "urn:iso:std:iso:11073:10101"
OBSERVATION_CATEGORY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
_V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
_V3_OBSERVATION_VALUE: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
_DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_MEDICATION_STATEMENT_CATEGORY: Final = (
    "http://terminology.hl7.org/CodeSystem/medication-statement-category"
)
# Core R4 extension the PHD IG uses to name the gateway that forwarded a reading.
_GATEWAY_EXTENSION: Final = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
# RFC 3986 identifier system for a urn:uuid value (Bundle.identifier).
_URI_SYSTEM: Final = "urn:ietf:rfc:3986"

# Namespace of every deterministic fullUrl: uuid5(NAMESPACE_URL, "urn:smartcare"). Pinned as a
# literal (and checked in the tests) because changing it would change every fullUrl.
_UUID_NAMESPACE: Final = uuid.UUID("b9e0b681-c8ee-506a-a360-b49b81aabdf8")

# --------------------------------------------------------------------------- vital signs
_SD: Final = "http://hl7.org/fhir/StructureDefinition/"
VITALSIGNS_PROFILE: Final = _SD + "vitalsigns"
_BP_PROFILE: Final = _SD + "bp"
BP_PANEL_LOINC: Final = "85354-9"
_BP_PANEL_DISPLAY: Final = "Blood pressure panel with all children optional"
_BP_PANEL_KEY: Final = "blood_pressure"
_BP_COMPONENTS: Final = (Vital.SYSTOLIC_BP, Vital.DIASTOLIC_BP, Vital.MEAN_ARTERIAL_PRESSURE)
# US Core pulse-oximetry asks for this second coding; harmless elsewhere.
_SPO2_PULSE_OX_CODING: Final = MappingProxyType(
    {
        "system": LOINC_SYSTEM,
        "code": "59408-5",
        "display": "Oxygen saturation in Arterial blood by Pulse oximetry",
    }
)


@dataclass(frozen=True, slots=True)
class VitalCoding:
    """How one vital is coded in FHIR.

    ``decimals`` is the export resolution: finer than any device in scope, coarse enough to
    drop float noise from unit conversion (kPa -> mmHg, lb -> kg). ``profile`` is the
    specific R4 vital-signs profile, ``None`` when only the base profile (or none) applies.
    """

    loinc: str
    display: str
    ucum: str
    unit: str
    decimals: int
    category: str
    profile: str | None


VITAL_CODINGS: Final[Mapping[Vital, VitalCoding]] = MappingProxyType(
    {
        Vital.SYSTOLIC_BP: VitalCoding(
            "8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg", 1, "vital-signs", None
        ),
        Vital.DIASTOLIC_BP: VitalCoding(
            "8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg", 1, "vital-signs", None
        ),
        Vital.MEAN_ARTERIAL_PRESSURE: VitalCoding(
            "8478-0", "Mean blood pressure", "mm[Hg]", "mmHg", 1, "vital-signs", None
        ),
        Vital.PULSE: VitalCoding(
            "8867-4", "Heart rate", "/min", "beats/minute", 1, "vital-signs", _SD + "heartrate"
        ),
        Vital.HEART_RATE: VitalCoding(
            "8867-4", "Heart rate", "/min", "beats/minute", 1, "vital-signs", _SD + "heartrate"
        ),
        Vital.TEMPERATURE: VitalCoding(
            "8310-5", "Body temperature", "Cel", "°C", 2, "vital-signs", _SD + "bodytemp"
        ),
        Vital.SPO2: VitalCoding(
            "2708-6",
            "Oxygen saturation in Arterial blood",
            "%",
            "%",
            1,
            "vital-signs",
            _SD + "oxygensat",
        ),
        Vital.RESPIRATION_RATE: VitalCoding(
            "9279-1",
            "Respiratory rate",
            "/min",
            "breaths/minute",
            1,
            "vital-signs",
            _SD + "resprate",
        ),
        Vital.WEIGHT: VitalCoding(
            "29463-7", "Body weight", "kg", "kg", 3, "vital-signs", _SD + "bodyweight"
        ),
        Vital.BMI: VitalCoding(
            "39156-5",
            "Body mass index (BMI) [Ratio]",
            "kg/m2",
            "kg/m2",
            1,
            "vital-signs",
            _SD + "bmi",
        ),
        Vital.HEIGHT: VitalCoding(
            "8302-2", "Body height", "cm", "cm", 2, "vital-signs", _SD + "bodyheight"
        ),
        # Not an R4 vital sign: a body measurement from a simple instrument -> "exam".
        Vital.BODY_FAT: VitalCoding(
            "41982-0", "Percentage of body fat Measured", "%", "%", 1, "exam", None
        ),
        # Not an R4 vital sign (reference file): category laboratory, no vital-signs profile.
        Vital.GLUCOSE: VitalCoding(
            "15074-8",
            "Glucose [Moles/volume] in Blood",
            "mmol/L",
            "mmol/L",
            2,
            "laboratory",
            None,
        ),
    }
)

_CATEGORY_DISPLAY: Final = MappingProxyType(
    {"vital-signs": "Vital Signs", "laboratory": "Laboratory", "exam": "Exam"}
)

# --------------------------------------------------------------------------- devices
# IEEE 11073-10101 codes (partition INFRA = 8, so code = 8 * 65536 + term code), as the PHD IG
# uses them: Device.type is the MDS kind, Device.specialization.systemType the device profile.
_MDS_SIMPLE: Final = ("65573", "MDC_MOC_VMS_MDS_SIMP", "Personal health device")
_MDS_GATEWAY: Final = ("531981", "MDC_MOC_VMS_MDS_AHD", "Personal health gateway")
_PROD_SPEC_SW: Final = ("531975", "MDC_ID_PROD_SPEC_SW", "Software revision")
_BPM: Final = ("528391", "MDC_DEV_SPEC_PROFILE_BP", "Blood pressure monitor")
_THERMOMETER: Final = ("528392", "MDC_DEV_SPEC_PROFILE_TEMP", "Thermometer")
_PULSE_OXIMETER: Final = ("528388", "MDC_DEV_SPEC_PROFILE_PULS_OXIM", "Pulse oximeter")
_SCALE: Final = ("528399", "MDC_DEV_SPEC_PROFILE_SCALE", "Weighing scale")
_GLUCOSE_METER: Final = ("528401", "MDC_DEV_SPEC_PROFILE_GLUCOSE", "Glucose meter")
_BODY_COMPOSITION: Final = ("528404", "MDC_DEV_SPEC_PROFILE_BCA", "Body composition analyser")
_RESPIRATION: Final = ("528397", "MDC_DEV_SPEC_PROFILE_RESP_RATE", "Respiration rate monitor")

# Device kinds with a PHD specialization; reading kinds from gatt.py are accepted as aliases.
# Anything else (heart-rate straps, manual entry, other HA sensors) gets a text-only type.
DEVICE_KINDS: Final[Mapping[str, tuple[str, str, str]]] = MappingProxyType(
    {
        "blood_pressure": _BPM,
        "temperature": _THERMOMETER,
        "thermometer": _THERMOMETER,
        "pulse_oximeter": _PULSE_OXIMETER,
        "plx_spot_check": _PULSE_OXIMETER,
        "plx_continuous": _PULSE_OXIMETER,
        "weight": _SCALE,
        "weight_scale": _SCALE,
        "glucose": _GLUCOSE_METER,
        "glucose_meter": _GLUCOSE_METER,
        "body_composition": _BODY_COMPOSITION,
        "respiration_rate": _RESPIRATION,
    }
)

# --------------------------------------------------------------------------- workflow codes
_GENDERS: Final = frozenset({"male", "female", "other", "unknown"})
_IDENTIFIED_KEYS: Final = frozenset({"name", "birth_date", "sex", "id_number"})
_ALERT_SEVERITY: Final = MappingProxyType(
    {"info": "low", "warning": "moderate", "urgent": "high", "critical": "high"}
)
# DetectedIssue.status is bound (required) to ObservationStatus: "preliminary" until a person
# has seen the alert, "final" once acknowledged; resolution is recorded as a mitigation.
_ALERT_STATUS: Final = MappingProxyType(
    {"open": "preliminary", "acknowledged": "final", "resolved": "final"}
)
MEDICATION_ANSWERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "taken": "completed",
        "skipped": "not-taken",
        "snoozed": "intended",
        "unanswered": "unknown",
    }
)
_FLAG_RE: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_BIRTH_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_OFFSET: Final = timedelta(hours=14)


# =========================================================================== helpers


def _text(name: str, value: object) -> str:
    """A FHIR string: non-empty, no surrounding whitespace (else searches miss it)."""
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValueError(f"{name} must be a non-empty string without surrounding whitespace")
    return value


_WHITESPACE = re.compile(r"\s")


def _reference(name: str, value: object) -> dict[str, str]:
    """A Reference to a fullUrl (urn:uuid:...) or a server path (Type/id)."""
    if not isinstance(value, str) or not value or _WHITESPACE.search(value):
        raise ValueError(f"{name} must be a reference string without whitespace")
    return {"reference": value}


def _references(name: str, values: Sequence[str]) -> list[dict[str, str]]:
    # A bare string is a Sequence[str] too: refuse it rather than reference each character.
    if isinstance(values, str):
        raise ValueError(f"{name} must be a sequence of references, not one string")
    return [_reference(name, value) for value in values]


def _aware(name: str, moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (FHIR dateTime needs an offset)")
    return moment


def fhir_datetime(moment: datetime) -> str:
    """FHIR ``dateTime`` to the second, keeping the local offset.

    Offsets FHIR cannot express (seconds, or beyond +/-14:00) fall back to UTC, which names
    the same instant.
    """
    offset = _aware("datetime", moment).utcoffset()
    assert offset is not None  # checked by _aware; narrows the type
    if offset % timedelta(minutes=1) or abs(offset) > _MAX_OFFSET:
        moment = moment.astimezone(UTC)
    return moment.replace(microsecond=0).isoformat()


def _utc_second(moment: datetime) -> str:
    """Canonical instant for identifiers: UTC, truncated to the second like the export."""
    utc = _aware("datetime", moment).astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite (FHIR decimals have no NaN or infinity)")
    return float(value)


def _round(value: float, decimals: int) -> float:
    rounded = round(value, decimals)
    return 0.0 if rounded == 0 else rounded  # no "-0.0" on the wire


def _canonical_number(value: float) -> str:
    # Four decimals: finer than every export resolution in VITAL_CODINGS, so two readings that
    # differ on the wire always differ here too.
    return f"{_round(_finite('value', value), 4):.4f}"


def _digest(*parts: Any) -> str:
    """sha256 of a JSON array: unlike "a|b" joins, no two part lists encode alike."""
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _concept(system: str, code: str, display: str, *, text: str | None = None) -> dict[str, Any]:
    return {
        "coding": [{"system": system, "code": code, "display": display}],
        "text": display if text is None else text,
    }


def _mdc(code: tuple[str, str, str]) -> dict[str, Any]:
    return _concept(MDC_SYSTEM, code[0], code[1], text=code[2])


def _category(code: str) -> list[dict[str, Any]]:
    return [_concept(OBSERVATION_CATEGORY_SYSTEM, code, _CATEGORY_DISPLAY[code])]


def _quantity(vital: Vital, value: float) -> dict[str, Any]:
    coding = VITAL_CODINGS[vital]
    return {
        "value": _round(value, coding.decimals),
        "unit": coding.unit,
        "system": UCUM_SYSTEM,
        "code": coding.ucum,
    }


def _vital_code(vital: Vital) -> dict[str, Any]:
    coding = VITAL_CODINGS[vital]
    concept = _concept(LOINC_SYSTEM, coding.loinc, coding.display)
    if vital is Vital.SPO2:
        concept["coding"].append(dict(_SPO2_PULSE_OX_CODING))
    return concept


def _humanise(code: str) -> str:
    return code.replace("_", " ")


def _format_number(value: float) -> str:
    return f"{value:.6g}"


# =========================================================================== identities


def full_url_for(system: str, value: str) -> str:
    """Deterministic ``urn:uuid`` fullUrl for the resource with this business identifier.

    Retries of the same data therefore carry the same fullUrls, and references between
    entries of a bundle (Observation.subject -> Patient) can be written before the bundle.
    """
    name = json.dumps([system, value], ensure_ascii=False, separators=(",", ":"))
    return f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, name)}"


def _primary_identifier(resource: Mapping[str, Any]) -> tuple[str, str]:
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not identifiers:
        raise ValueError(f"{resource.get('resourceType')} has no identifier to key on")
    first = identifiers[0]
    return _text("identifier.system", first.get("system")), _text(
        "identifier.value", first.get("value")
    )


def full_url(resource: Mapping[str, Any]) -> str:
    """Deterministic fullUrl of a resource built here (from its first identifier)."""
    return full_url_for(*_primary_identifier(resource))


def _search_escape(text: str) -> str:
    # FHIR search: "\", "|", "," and "$" inside a token are escaped with a backslash; the
    # result is then percent-encoded (":" and "/" stay readable in URNs and URLs).
    for char in ("\\", "|", ",", "$"):
        text = text.replace(char, "\\" + char)
    return quote(text, safe=":/")


def identifier_query(system: str, value: str) -> str:
    """``identifier=<system>|<value>`` search string, escaped for a request URL."""
    return f"identifier={_search_escape(system)}|{_search_escape(value)}"


def _token(system: str, value: str) -> str:
    return f"{_search_escape(system)}|{_search_escape(value)}"


# =========================================================================== Patient


def patient_resource(
    pseudonym: str, *, identified: Mapping[str, str] | None = None
) -> FhirResource:
    """Patient, pseudonymous unless ``identified`` is given.

    ``identified`` keys (all optional): ``name``, ``birth_date`` (ISO date), ``sex`` (FHIR
    AdministrativeGender: male | female | other | unknown) and ``id_number`` (sent with
    ``NATIONAL_ID_SYSTEM``). The pseudonym stays the first identifier either way, so the
    fullUrl and the conditional create match the same Patient in both modes.
    """
    resource: FhirResource = {
        "resourceType": "Patient",
        "identifier": [{"system": PSEUDONYM_SYSTEM, "value": _text("pseudonym", pseudonym)}],
        "active": True,
    }
    identified = identified or {}
    unknown = set(identified) - _IDENTIFIED_KEYS
    if unknown:
        raise ValueError(f"unknown identity fields: {sorted(unknown)}")
    if "id_number" in identified:
        resource["identifier"].append(
            {
                "use": "official",
                "type": _concept(_V2_0203, "NI", "National unique individual identifier"),
                "system": NATIONAL_ID_SYSTEM,
                "value": _text("id_number", identified["id_number"]),
            }
        )
    if "name" in identified:
        resource["name"] = [{"text": _text("name", identified["name"])}]
    if "sex" in identified:
        if identified["sex"] not in _GENDERS:
            raise ValueError(f"sex must be one of {sorted(_GENDERS)}")
        resource["gender"] = identified["sex"]
    if "birth_date" in identified:
        birth = _text("birth_date", identified["birth_date"])
        if not _BIRTH_DATE_RE.match(birth):
            raise ValueError("birth_date must be an ISO date (YYYY-MM-DD)")
        try:
            date.fromisoformat(birth)
        except ValueError:  # e.g. 1941-02-30; Python's own wording varies by version
            raise ValueError("birth_date is not a calendar date") from None
        resource["birthDate"] = birth
    if not identified:
        # HL7 security label: tells the clinic this record is pseudonymised by design.
        resource["meta"] = {
            "security": [
                {"system": _V3_OBSERVATION_VALUE, "code": "PSEUDED", "display": "pseudonymized"}
            ]
        }
    return resource


# =========================================================================== Device


def gateway_device_resource(gateway_id: str, name: str, version: str) -> FhirResource:
    """The home gateway (this Home Assistant installation) as a PHD IG gateway Device."""
    return {
        "resourceType": "Device",
        "identifier": [{"system": GATEWAY_SYSTEM, "value": _text("gateway_id", gateway_id)}],
        "status": "active",
        "deviceName": [{"name": _text("name", name), "type": "user-friendly-name"}],
        "type": _mdc(_MDS_GATEWAY),
        "version": [{"type": _mdc(_PROD_SPEC_SW), "value": _text("version", version)}],
    }


def medical_device_resource(
    device_key: str,
    *,
    manufacturer: str | None,
    model: str | None,
    serial: str | None,
    kind: str,
    gateway_ref: str | None,
) -> FhirResource:
    """A measuring device; ``parent`` points at the gateway that forwards its readings.

    Known ``kind`` values (``DEVICE_KINDS``) get the PHD IG coding: type
    MDC_MOC_VMS_MDS_SIMP plus the IEEE 11073 specialization; other kinds a text-only type.
    """
    resource: FhirResource = {
        "resourceType": "Device",
        "identifier": [{"system": DEVICE_SYSTEM, "value": _text("device_key", device_key)}],
        "status": "active",
    }
    if manufacturer is not None:
        resource["manufacturer"] = _text("manufacturer", manufacturer)
    if serial is not None:
        resource["serialNumber"] = _text("serial", serial)
    if model is not None:
        resource["modelNumber"] = _text("model", model)
    specialization = DEVICE_KINDS.get(_text("kind", kind))
    if specialization is None:
        resource["type"] = {"text": _humanise(kind)}
    else:
        resource["type"] = _mdc(_MDS_SIMPLE)
        resource["specialization"] = [{"systemType": _mdc(specialization)}]
    if gateway_ref is not None:
        resource["parent"] = _reference("gateway_ref", gateway_ref)
    return resource


# =========================================================================== Observation


def observation_identifier(
    person_pseudonym: str,
    device_key: str,
    vital_or_panel: str,
    values: float | Mapping[str, float],
    effective: datetime,
) -> str:
    """Stable sha256 hex identifying one reading (system ``OBSERVATION_SYSTEM``).

    Canonical form: a JSON array of a version tag, the person, the device, the vital (or
    ``"blood_pressure"`` for the panel), the value(s) with four fixed decimals (a mapping is
    sorted by key) and the instant in UTC to the second. Same reading -> same identifier,
    whatever offset the time was given in; any change of these inputs -> another one.
    """
    value_part: str | list[list[str]]
    if isinstance(values, Mapping):
        value_part = sorted([str(key), _canonical_number(v)] for key, v in values.items())
    else:
        value_part = _canonical_number(values)
    return _digest(
        "smartcare-observation/1",
        str(person_pseudonym),
        str(device_key),
        str(vital_or_panel),
        value_part,
        _utc_second(effective),
    )


def _clean_flags(status_flags: Sequence[str]) -> list[str]:
    flags: list[str] = []
    for flag in status_flags:
        if not isinstance(flag, str) or not _FLAG_RE.match(flag):
            raise ValueError(f"invalid device status flag {flag!r}")
        if flag not in flags:
            flags.append(flag)
    return flags


def _flag_parts(flags: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Device status flags: a note for people, coded components for machines.

    Components make flagged readings searchable (``component-code=<system>|irregular_pulse``)
    without a second resource per reading; each carries ``valueBoolean`` (vs-3).
    """
    if not flags:
        return [], []
    note = [{"text": "Device reported: " + ", ".join(_humanise(f) for f in flags) + "."}]
    components = [
        {
            "code": _concept(DEVICE_STATUS_SYSTEM, flag, _humanise(flag)),
            "valueBoolean": True,
        }
        for flag in flags
    ]
    return note, components


def _observation(
    *,
    identifier: str,
    code: dict[str, Any],
    category: str,
    profiles: list[str],
    moment: datetime,
    patient_ref: str,
    device_ref: str | None,
    gateway_ref: str | None,
    value: dict[str, Any] | None,
    components: list[dict[str, Any]],
    flags: Sequence[str],
) -> FhirResource:
    resource: FhirResource = {"resourceType": "Observation"}
    if profiles:
        resource["meta"] = {"profile": profiles}
    if gateway_ref is not None:
        resource["extension"] = [
            {"url": _GATEWAY_EXTENSION, "valueReference": _reference("gateway_ref", gateway_ref)}
        ]
    resource["identifier"] = [{"system": OBSERVATION_SYSTEM, "value": identifier}]
    resource["status"] = "final"
    resource["category"] = _category(category)
    resource["code"] = code
    resource["subject"] = _reference("patient_ref", patient_ref)
    resource["effectiveDateTime"] = fhir_datetime(moment)
    if device_ref is not None:
        resource["device"] = _reference("device_ref", device_ref)
    if value is not None:
        resource["valueQuantity"] = value
    note, flag_components = _flag_parts(flags)
    if note:
        resource["note"] = note
    if components or flag_components:
        resource["component"] = components + flag_components
    return resource


def _profiles(vital: Vital) -> list[str]:
    coding = VITAL_CODINGS[vital]
    if coding.category != "vital-signs":
        return []
    return [VITALSIGNS_PROFILE] if coding.profile is None else [VITALSIGNS_PROFILE, coding.profile]


def observations_for_samples(
    samples: Sequence[VitalSample],
    *,
    patient_ref: str,
    device_ref: str | None,
    person_pseudonym: str,
    device_key: str,
    effective: datetime,
    status_flags: Sequence[str] = (),
    gateway_ref: str | None = None,
) -> list[FhirResource]:
    """One Observation per reading, per the R4 vital-signs profiles.

    A sample's own ``time`` wins; ``effective`` (device time with the local offset, or the
    time of receipt) is used for samples without one. Systolic and diastolic taken at the
    same second become one BP panel (85354-9, mean arterial pressure as a third component);
    a lone BP component is exported on its own. ``status_flags`` from the device apply to
    every Observation of the call. Exact duplicates are dropped (a bundle must not hold two
    conditional creates of the same identifier: the server would create both).
    """
    _aware("effective", effective)
    flags = _clean_flags(status_flags)
    common: dict[str, Any] = {
        "patient_ref": patient_ref,
        "device_ref": device_ref,
        "gateway_ref": gateway_ref,
        "flags": flags,
    }

    def moment_of(sample: VitalSample) -> datetime:
        return effective if sample.time is None else _aware("sample time", sample.time)

    # BP components group by instant: one device memory download can hold many readings.
    bp_groups: dict[str, tuple[datetime, dict[Vital, float]]] = {}
    for sample in samples:
        if sample.vital in _BP_COMPONENTS:
            moment = moment_of(sample)
            _, group = bp_groups.setdefault(_utc_second(moment), (moment, {}))
            value = _round(_finite(sample.vital, sample.value), 1)
            if group.get(sample.vital, value) != value:
                raise ValueError(f"two different {sample.vital} values at {moment.isoformat()}")
            group[sample.vital] = value

    out: list[FhirResource] = []
    seen: set[str] = set()

    def emit(resource: FhirResource) -> None:
        key = resource["identifier"][0]["value"]
        if key not in seen:
            seen.add(key)
            out.append(resource)

    for sample in samples:
        vital = Vital(sample.vital)
        moment = moment_of(sample)
        if vital in _BP_COMPONENTS:
            instant = _utc_second(moment)
            if instant not in bp_groups:
                continue  # group already emitted
            group_moment, group = bp_groups.pop(instant)
            if Vital.SYSTOLIC_BP in group and Vital.DIASTOLIC_BP in group:
                emit(_bp_panel(group, group_moment, person_pseudonym, device_key, common))
            else:
                for component in _BP_COMPONENTS:
                    if component in group:
                        emit(
                            _single(
                                component,
                                group[component],
                                group_moment,
                                person_pseudonym,
                                device_key,
                                common,
                            )
                        )
            continue
        value = _finite(vital, sample.value)
        emit(_single(vital, value, moment, person_pseudonym, device_key, common))
    return out


def _single(
    vital: Vital,
    value: float,
    moment: datetime,
    person_pseudonym: str,
    device_key: str,
    common: Mapping[str, Any],
) -> FhirResource:
    coding = VITAL_CODINGS[vital]
    quantity = _quantity(vital, value)
    identifier = observation_identifier(
        person_pseudonym, device_key, vital, quantity["value"], moment
    )
    return _observation(
        identifier=identifier,
        code=_vital_code(vital),
        category=coding.category,
        profiles=_profiles(vital),
        moment=moment,
        value=quantity,
        components=[],
        **common,
    )


def _bp_panel(
    group: Mapping[Vital, float],
    moment: datetime,
    person_pseudonym: str,
    device_key: str,
    common: Mapping[str, Any],
) -> FhirResource:
    present = [vital for vital in _BP_COMPONENTS if vital in group]
    identifier = observation_identifier(
        person_pseudonym,
        device_key,
        _BP_PANEL_KEY,
        {str(vital): group[vital] for vital in present},
        moment,
    )
    components = [
        {"code": _vital_code(vital), "valueQuantity": _quantity(vital, group[vital])}
        for vital in present
    ]
    return _observation(
        identifier=identifier,
        code=_concept(LOINC_SYSTEM, BP_PANEL_LOINC, _BP_PANEL_DISPLAY),
        category="vital-signs",
        profiles=[VITALSIGNS_PROFILE, _BP_PROFILE],
        moment=moment,
        value=None,
        components=components,
        **common,
    )


# =========================================================================== bundles


def _content_identifier(kind: str, entries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Bundle.identifier from the bundle's content: identical bundles, identical identifier."""
    # The same text as _digest(kind, <entries with sorted keys>), in one pass.
    canonical = json.dumps(
        [kind, entries], ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return {"system": _URI_SYSTEM, "value": f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, digest)}"}


def _add_entry(
    entries: list[dict[str, Any]], by_url: dict[str, dict[str, Any]], entry: Mapping[str, Any]
) -> None:
    url = entry.get("fullUrl")
    if url is not None:
        if url in by_url:
            if by_url[url] != entry:
                raise ValueError(f"two different entries share fullUrl {url}")
            return  # the same resource twice: send it once
        by_url[url] = dict(entry)
    # A deep copy of JSON data (several times faster than copy.deepcopy).
    entries.append(json.loads(json.dumps(entry)))


def transaction_bundle(
    resources_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    entries: Sequence[Mapping[str, Any]] = (),
) -> FhirResource:
    """A ``transaction`` Bundle of conditional creates, plus prebuilt ``entries``.

    Each ``(full_url, resource)`` becomes ``POST <type>`` with ``ifNoneExist:
    identifier=<system>|<value>``: the server answers 201 for new data and 200 for a
    re-send, never a duplicate. ``full_url`` must be ``full_url(resource)`` (the value the
    other resources' references were built with): a mismatch would leave dangling
    references, so it is an error. ``entries`` take conditional updates (``alert_request``,
    ``conditional_update_entry``) and deletes (``erasure_requests``).
    """
    out: list[dict[str, Any]] = []
    by_url: dict[str, dict[str, Any]] = {}
    for url, resource in resources_with_ids:
        expected = full_url(resource)
        if url != expected:
            raise ValueError(f"fullUrl {url} does not match the resource identifier ({expected})")
        system, value = _primary_identifier(resource)
        _add_entry(
            out,
            by_url,
            {
                "fullUrl": url,
                "resource": resource,
                "request": {
                    "method": "POST",
                    "url": _text("resourceType", resource.get("resourceType")),
                    "ifNoneExist": identifier_query(system, value),
                },
            },
        )
    for entry in entries:
        request = entry.get("request")
        if not isinstance(request, Mapping) or not request.get("method") or not request.get("url"):
            raise ValueError("transaction entries need request.method and request.url")
        _add_entry(out, by_url, entry)
    if not out:
        raise ValueError("a transaction bundle needs at least one entry")
    return {
        "resourceType": "Bundle",
        "identifier": _content_identifier("transaction", out),
        "type": "transaction",
        "entry": out,
    }


def conditional_update_entry(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Transaction entry ``PUT <type>?identifier=<system>|<value>`` (create or replace).

    For resources whose state changes over time under the same identifier: alerts,
    medication answers (snoozed, then taken) and daily summaries recomputed after late data.
    """
    system, value = _primary_identifier(resource)
    resource_type = _text("resourceType", resource.get("resourceType"))
    return {
        "fullUrl": full_url_for(system, value),
        "resource": copy.deepcopy(dict(resource)),
        "request": {"method": "PUT", "url": f"{resource_type}?{identifier_query(system, value)}"},
    }


def summary_bundle(
    patient: Mapping[str, Any],
    resources: Sequence[Mapping[str, Any]],
    *,
    timestamp: datetime,
) -> FhirResource:
    """A ``collection`` Bundle for the clinic's ``summary`` webhook.

    The Patient comes first, then ``resources`` (recent Observations, alerts, devices...).

    ``collection`` rather than ``searchset``: this is a package the gateway assembles, not
    the result of a search on a FHIR server (no ``search.mode``, no paging links).
    References resolve through the deterministic ``urn:uuid`` fullUrls.
    """
    if patient.get("resourceType") != "Patient":
        raise ValueError("summary_bundle needs a Patient first")
    out: list[dict[str, Any]] = []
    by_url: dict[str, dict[str, Any]] = {}
    for resource in (patient, *resources):
        _add_entry(out, by_url, {"fullUrl": full_url(resource), "resource": resource})
    return {
        "resourceType": "Bundle",
        "identifier": _content_identifier("collection", out),
        "type": "collection",
        "timestamp": fhir_datetime(timestamp),
        "entry": out,
    }


# =========================================================================== alerts


def alert_resource(
    alert: Mapping[str, Any],
    *,
    patient_ref: str,
    observation_refs: Sequence[str],
    author_ref: str | None = None,
) -> FhirResource:
    """A clinician-worklist alert as a ``DetectedIssue``.

    ``alert`` keys: ``alert_id``, ``severity`` (info | warning | urgent | critical),
    ``kind``, ``code``, ``message``, ``time`` (ISO with offset), ``status`` (open |
    acknowledged | resolved); optional ``vital``, ``value``, ``unit``, ``threshold``,
    ``acknowledged_at``, ``resolved_at``. Severity maps to R4's low | moderate | high (the
    four-level wording stays in ``detail``); the triggering readings are the evidence.
    Send with ``alert_request`` so each lifecycle change updates the same resource.
    """
    severity = _text("severity", alert.get("severity"))
    if severity not in _ALERT_SEVERITY:
        raise ValueError(f"alert severity must be one of {sorted(_ALERT_SEVERITY)}")
    status = _text("status", alert.get("status"))
    if status not in _ALERT_STATUS:
        raise ValueError(f"alert status must be one of {sorted(_ALERT_STATUS)}")
    kind = _text("kind", alert.get("kind"))
    code = _text("code", alert.get("code"))
    message = _text("message", alert.get("message"))
    identified = datetime.fromisoformat(_text("time", alert.get("time")))

    detail = f"{severity.upper()} {_humanise(kind)} alert: {message}"
    unit = alert.get("unit")
    unit_text = f" {unit}" if unit else ""
    if alert.get("value") is not None:
        detail += f" Value {_format_number(_finite('value', alert['value']))}{unit_text}."
    if alert.get("threshold") is not None:
        threshold = _finite("threshold", alert["threshold"])
        detail += f" Threshold {_format_number(threshold)}{unit_text}."

    resource: FhirResource = {
        "resourceType": "DetectedIssue",
        "identifier": [{"system": ALERT_SYSTEM, "value": _text("alert_id", alert.get("alert_id"))}],
        "status": _ALERT_STATUS[status],
        "code": {
            "coding": [{"system": ALERT_CODE_SYSTEM, "code": code, "display": message}],
            "text": message,
        },
        "severity": _ALERT_SEVERITY[severity],
        "patient": _reference("patient_ref", patient_ref),
        "identifiedDateTime": fhir_datetime(identified),
    }
    if author_ref is not None:
        resource["author"] = _reference("author_ref", author_ref)
    evidence: dict[str, Any] = {}
    if alert.get("vital") is not None:
        vital = Vital(alert["vital"])
        evidence["code"] = [_concept(LOINC_SYSTEM, VITAL_CODINGS[vital].loinc, _vital_name(vital))]
    if observation_refs:
        evidence["detail"] = _references("observation_refs", observation_refs)
    if evidence:
        resource["evidence"] = [evidence]
    resource["detail"] = detail
    mitigation = _alert_mitigation(alert, status)
    if mitigation:
        resource["mitigation"] = mitigation
    return resource


def _vital_name(vital: Vital) -> str:
    return VITAL_CODINGS[vital].display


def _alert_mitigation(alert: Mapping[str, Any], status: str) -> list[dict[str, Any]]:
    """Lifecycle steps reached so far, with their times when the alert carries them."""
    steps: list[dict[str, Any]] = []
    if status == "acknowledged" or (status == "resolved" and alert.get("acknowledged_at")):
        steps.append(_mitigation_step("acknowledged", alert.get("acknowledged_at")))
    if status == "resolved":
        steps.append(_mitigation_step("resolved", alert.get("resolved_at")))
    return steps


def _mitigation_step(step: str, at: object) -> dict[str, Any]:
    entry: dict[str, Any] = {"action": _concept(ALERT_LIFECYCLE_SYSTEM, step, step.capitalize())}
    if at is not None:
        entry["date"] = fhir_datetime(datetime.fromisoformat(_text(f"{step}_at", at)))
    return entry


def alert_request(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Conditional update ``PUT DetectedIssue?identifier=urn:smartcare:alert|<id>``."""
    if resource.get("resourceType") != "DetectedIssue":
        raise ValueError("alert_request takes a DetectedIssue from alert_resource")
    if _primary_identifier(resource)[0] != ALERT_SYSTEM:
        raise ValueError(f"alert identifier system must be {ALERT_SYSTEM}")
    return conditional_update_entry(resource)


# =========================================================================== daily summary


def daily_summary(
    samples: Sequence[VitalSample],
    *,
    day: date,
    tz: tzinfo,
    person_pseudonym: str,
    patient_ref: str,
    observation_refs: Sequence[str] = (),
    status: str = "final",
) -> FhirResource:
    """One Observation summarising a person's local day: count, min, max, mean per vital.

    ``effectivePeriod`` is the local day; components carry the statistics with local codes
    ``<vital>-<count|min|max|mean>`` (``DAILY_STATISTIC_SYSTEM``); ``derivedFrom`` lists the
    day's Observations. A day without readings says so with dataAbsentReason. Use
    ``status="preliminary"`` for a day still in progress and send with
    ``conditional_update_entry`` so a recomputation replaces the earlier summary.
    """
    if status not in ("final", "preliminary"):
        raise ValueError("status must be final or preliminary")
    start = datetime.combine(day, time.min, tzinfo=tz)
    next_start = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    by_vital: dict[Vital, list[float]] = {}
    for sample in samples:
        if sample.time is not None:
            moment = _aware("sample time", sample.time)
            if not start <= moment < next_start:
                raise ValueError(f"sample at {moment.isoformat()} is not on {day.isoformat()}")
        vital = Vital(sample.vital)
        by_vital.setdefault(vital, []).append(_finite(vital, sample.value))

    components: list[dict[str, Any]] = []
    for vital in Vital:  # enum order: deterministic whatever the sample order
        values = by_vital.get(vital)
        if not values:
            continue
        name = _vital_name(vital)
        stats: list[tuple[str, str, dict[str, Any]]] = [
            ("count", "count", {"valueInteger": len(values)}),
            ("min", "minimum", {"valueQuantity": _quantity(vital, min(values))}),
            ("max", "maximum", {"valueQuantity": _quantity(vital, max(values))}),
            ("mean", "mean", {"valueQuantity": _quantity(vital, fmean(values))}),
        ]
        for code, label, value in stats:
            components.append(
                {
                    "code": _concept(DAILY_STATISTIC_SYSTEM, f"{vital}-{code}", f"{name}, {label}"),
                    **value,
                }
            )

    resource: FhirResource = {
        "resourceType": "Observation",
        "identifier": [
            {
                "system": DAILY_SUMMARY_SYSTEM,
                "value": _digest(
                    "smartcare-daily-summary/1",
                    _text("person_pseudonym", person_pseudonym),
                    day.isoformat(),
                ),
            }
        ],
        "status": status,
        "code": _concept(SUMMARY_CODE_SYSTEM, "daily-vital-signs", "Daily vital-signs summary"),
        "subject": _reference("patient_ref", patient_ref),
        "effectivePeriod": {
            "start": fhir_datetime(start),
            # Period.end includes the whole last second: 23:59:59 covers the day.
            "end": fhir_datetime(next_start - timedelta(seconds=1)),
        },
    }
    if components:
        resource["component"] = components
    else:
        resource["dataAbsentReason"] = _concept(
            _DATA_ABSENT_REASON, "not-performed", "Not Performed"
        )
    if observation_refs:
        resource["derivedFrom"] = _references("observation_refs", observation_refs)
    return resource


# =========================================================================== medication


class MedicationDose(TypedDict):
    """One scheduled dose's reminder answer: what a MedicationStatement says."""

    medication: str
    answer: str
    scheduled: datetime
    answered: NotRequired[datetime | None]
    dosage: NotRequired[str | None]
    reason: NotRequired[str | None]


def medication_statement(
    *, person_pseudonym: str, patient_ref: str, **dose: Unpack[MedicationDose]
) -> FhirResource:
    """A MedicationStatement for one scheduled dose's reminder answer.

    ``answer``: taken -> completed, skipped -> not-taken, snoozed -> intended ("may be
    taken in the future"), unanswered -> unknown. The identifier is person + medication +
    scheduled time, not the answer, so a snoozed dose later taken updates the same resource
    (send with ``conditional_update_entry``). ``effectiveDateTime`` is when it was taken, or
    the scheduled time otherwise; ``dateAsserted`` is when the answer was given.
    """
    medication, answer, scheduled = dose["medication"], dose["answer"], dose["scheduled"]
    answered, dosage, reason = dose.get("answered"), dose.get("dosage"), dose.get("reason")
    status = MEDICATION_ANSWERS.get(answer)
    if status is None:
        raise ValueError(f"answer must be one of {sorted(MEDICATION_ANSWERS)}")
    if answered is None and answer != "unanswered":
        raise ValueError("answered (time of the answer) is required unless unanswered")
    effective = answered if answer == "taken" and answered is not None else scheduled
    resource: FhirResource = {
        "resourceType": "MedicationStatement",
        "identifier": [
            {
                "system": MEDICATION_STATEMENT_SYSTEM,
                "value": _digest(
                    "smartcare-medication/1",
                    _text("person_pseudonym", person_pseudonym),
                    _text("medication", medication),
                    _utc_second(scheduled),
                ),
            }
        ],
        "status": status,
        "category": _concept(
            _MEDICATION_STATEMENT_CATEGORY, "patientspecified", "Patient Specified"
        ),
        "medicationCodeableConcept": {"text": medication},
        "subject": _reference("patient_ref", patient_ref),
        "effectiveDateTime": fhir_datetime(effective),
    }
    if answered is not None:
        resource["dateAsserted"] = fhir_datetime(answered)
    if reason is not None:
        resource["statusReason"] = [{"text": _text("reason", reason)}]
    if dosage is not None:
        resource["dosage"] = [{"text": _text("dosage", dosage)}]
    resource["note"] = [{"text": f"Reminder answer: {answer}."}]
    return resource


# =========================================================================== erasure


def erasure_requests(person_pseudonym: str) -> list[dict[str, Any]]:
    """Transaction entries that erase everything Smart Care sent about a person.

    Conditional DELETEs by the pseudonym (chained ``patient.identifier`` search): alerts,
    medication statements, Observations (readings and daily summaries) and visit report
    documents (tagged with the pseudonym), then the Patient.
    The server applies all DELETEs of a transaction first and as one unit, so no dangling
    references remain. Devices stay: they belong to the household, not to the person.
    """
    token = _token(PSEUDONYM_SYSTEM, _text("person_pseudonym", person_pseudonym))
    return [
        {"request": {"method": "DELETE", "url": f"{resource_type}?patient.identifier={token}"}}
        for resource_type in ("DetectedIssue", "MedicationStatement", "Observation")
    ] + [
        # Visit report documents (core/fhir_report.py) carry the pseudonym as a tag.
        {"request": {"method": "DELETE", "url": f"Bundle?_tag={token}"}},
        {"request": {"method": "DELETE", "url": f"Patient?identifier={token}"}},
    ]


def erasure_bundle(person_pseudonym: str) -> FhirResource:
    """``transaction`` Bundle of ``erasure_requests`` (deterministic, safe to re-send)."""
    return transaction_bundle((), entries=erasure_requests(person_pseudonym))
