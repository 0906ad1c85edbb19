"""Decoder for Bluetooth LE health-profile characteristics (pure: no Home Assistant).

Notes: docs/modules.md (core/gatt/parser.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields as dataclass_fields
from datetime import datetime, timedelta
from functools import lru_cache
import struct
from types import MappingProxyType
from typing import Any, Final, TypeVar

from ..clinical.vitals import (
    GLUCOSE_MGDL_PER_MMOLL,
    INCH_TO_CM,
    KPA_TO_MMHG,
    LB_TO_KG,
    Vital,
    VitalSample,
    fahrenheit_to_celsius,
)
from .ieee11073 import decode_float, decode_sfloat

__all__ = [
    "STATUS_FLAG_NAMES",
    "SUPPORTED_CHARACTERISTICS",
    "BatteryReading",
    "BloodPressureReading",
    "BodyCompositionReading",
    "CurrentTimeReading",
    "DateTimeReading",
    "DecodeError",
    "GlucoseContextReading",
    "GlucoseReading",
    "HeartRateReading",
    "IntermediateCuffPressureReading",
    "PlxContinuousReading",
    "PlxSpotCheckReading",
    "RacpReading",
    "Reading",
    "TemperatureReading",
    "UnknownCharacteristicError",
    "WeightReading",
    "decode",
    "full_uuid",
    "short_uuid",
]

BASE_UUID_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"


# --------------------------------------------------------------------------- errors


class DecodeError(ValueError):
    """A characteristic value that does not follow its specification.

    ``characteristic`` is the short UUID (e.g. ``"2a35"``) when known and ``field`` the
    offending field name when one is to blame.
    """

    def __init__(
        self, message: str, *, characteristic: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.characteristic = characteristic
        self.field = field


class UnknownCharacteristicError(DecodeError):
    """The UUID is not one of the supported characteristics (or not a UUID at all)."""


# --------------------------------------------------------------------------- readings


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _list(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)


def _clean(value: float) -> float:
    # Drop float noise left by a unit conversion; 1e-9 is far below any device resolution.
    return round(value, 9)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One decoded characteristic value.

    ``characteristic`` is the short UUID ("2a35"), ``kind`` the reading type
    ("blood_pressure", ...). ``user_id``, ``timestamp`` and ``sequence_number`` are ``None``
    where the characteristic has no such field or the device sent none.
    """

    characteristic: str
    kind: str
    user_id: int | None = None
    timestamp: datetime | None = None
    sequence_number: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able values as the device sent them, under snake_case spec field names."""
        return {"characteristic": self.characteristic, "kind": self.kind}

    def vitals(self) -> list[VitalSample]:
        """Clinically meaningful values in canonical units (``time`` left ``None``)."""
        return []

    def status_flags(self) -> list[str]:
        """Device-reported problems with this reading (names from ``STATUS_FLAG_NAMES``)."""
        return []


# Blood pressure measurement status (BLS 1.0 §3.1.1.6 / GSS "Blood Pressure Measurement").
_BP_STATUS_BITS: Final = (
    (0x0001, "body_movement"),
    (0x0002, "cuff_too_loose"),
    (0x0004, "irregular_pulse"),
    (0x0020, "improper_position"),
)
_BP_PULSE_RANGE: Final = (
    None,
    "pulse_rate_exceeds_upper_limit",
    "pulse_rate_below_lower_limit",
    "pulse_rate_range_reserved",
)


def _bp_status_names(raw: int) -> tuple[str, ...]:
    names = [name for bit, name in _BP_STATUS_BITS if raw & bit]
    pulse_range = _BP_PULSE_RANGE[(raw >> 3) & 0x3]
    if pulse_range is not None:
        names.append(pulse_range)
    return tuple(names)


# Indexed by the six defined status bits; bits 6..15 are reserved and ignored.
_BP_STATUS: Final = tuple(_bp_status_names(raw) for raw in range(64))


def _bp_problems(status: tuple[str, ...] | None) -> list[str]:
    if not status:
        return []
    out: list[str] = []
    for name in status:
        if name.startswith("pulse_rate_"):
            if name != "pulse_rate_range_reserved" and "pulse_rate_out_of_range" not in out:
                out.append("pulse_rate_out_of_range")
        else:
            out.append(name)
    return out


def _to_mmhg(value: float, unit: str) -> float:
    return value if unit == "mmHg" else _clean(value * KPA_TO_MMHG)


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressureReading(Reading):
    """Blood Pressure Measurement (0x2A35). ``unit`` is "mmHg" or "kPa" as sent."""

    unit: str
    systolic: float | None
    diastolic: float | None
    mean_arterial_pressure: float | None
    pulse_rate: float | None = None
    measurement_status: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "mean_arterial_pressure": self.mean_arterial_pressure,
            "unit": self.unit,
            "timestamp": _iso(self.timestamp),
            "pulse_rate": self.pulse_rate,
            "pulse_rate_unit": "bpm",
            "user_id": self.user_id,
            "measurement_status": _list(self.measurement_status),
        }

    def vitals(self) -> list[VitalSample]:
        """Systolic, diastolic, MAP (mmHg) and pulse."""
        out: list[VitalSample] = []
        for vital, value in (
            (Vital.SYSTOLIC_BP, self.systolic),
            (Vital.DIASTOLIC_BP, self.diastolic),
            (Vital.MEAN_ARTERIAL_PRESSURE, self.mean_arterial_pressure),
        ):
            if value is not None:
                out.append(VitalSample(vital, _to_mmhg(value, self.unit)))
        if self.pulse_rate is not None:
            out.append(VitalSample(Vital.PULSE, self.pulse_rate))
        return out

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return _bp_problems(self.measurement_status)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateCuffPressureReading(Reading):
    """Intermediate Cuff Pressure (0x2A36): cuff pressure while the cuff deflates.

    In-progress values, not a measurement: ``vitals()`` is empty.
    """

    unit: str
    cuff_pressure: float | None
    pulse_rate: float | None = None
    measurement_status: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "cuff_pressure": self.cuff_pressure,
            "unit": self.unit,
            "timestamp": _iso(self.timestamp),
            "pulse_rate": self.pulse_rate,
            "pulse_rate_unit": "bpm",
            "user_id": self.user_id,
            "measurement_status": _list(self.measurement_status),
        }

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return _bp_problems(self.measurement_status)


_TEMPERATURE_TYPES: Final = (
    "reserved",
    "armpit",
    "body",
    "ear",
    "finger",
    "gastrointestinal_tract",
    "mouth",
    "rectum",
    "toe",
    "tympanum",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemperatureReading(Reading):
    """Temperature Measurement (0x2A1C) or Intermediate Temperature (0x2A1E).

    ``unit`` is "°C" or "°F" as sent. Intermediate values give no vitals.
    """

    unit: str
    temperature: float | None
    temperature_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "temperature": self.temperature,
            "unit": self.unit,
            "timestamp": _iso(self.timestamp),
            "temperature_type": self.temperature_type,
        }

    def vitals(self) -> list[VitalSample]:
        """Body temperature in °C (final measurements only)."""
        if self.kind != "temperature" or self.temperature is None:
            return []
        value = self.temperature
        if self.unit == "°F":
            value = _clean(fahrenheit_to_celsius(value))
        return [VitalSample(Vital.TEMPERATURE, value)]


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartRateReading(Reading):
    """Heart Rate Measurement (0x2A37).

    ``sensor_contact``: "not_supported", "not_detected" or "detected". RR intervals are in
    seconds (sent in 1/1024 s). Without skin contact the heart rate is not a vital.
    """

    heart_rate: int
    sensor_contact: str
    energy_expended: int | None = None
    rr_intervals: tuple[float, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "heart_rate": self.heart_rate,
            "unit": "bpm",
            "sensor_contact": self.sensor_contact,
            "energy_expended": self.energy_expended,
            "energy_expended_unit": "kJ",
            "rr_intervals": None if self.rr_intervals is None else list(self.rr_intervals),
            "rr_intervals_unit": "s",
        }

    def vitals(self) -> list[VitalSample]:
        """Heart rate, unless the sensor reports no skin contact."""
        if self.sensor_contact == "not_detected":
            return []
        return [VitalSample(Vital.HEART_RATE, float(self.heart_rate))]

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return ["no_sensor_contact"] if self.sensor_contact == "not_detected" else []


def _mass_to_kg(value: float, unit: str) -> float:
    return value if unit == "kg" else _clean(value * LB_TO_KG)


def _length_to_cm(value: float, unit: str) -> float:
    return _clean(value * 100.0) if unit == "m" else _clean(value * INCH_TO_CM)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightReading(Reading):
    """Weight Measurement (0x2A9D).

    Weight in "kg" (0.005) or "lb" (0.01); height in "m" (0.001) or "in" (0.1); BMI
    0.1 kg/m². ``weight`` is ``None`` when the scale reports "measurement unsuccessful"
    (0xFFFF).
    """

    weight_unit: str
    height_unit: str
    weight: float | None
    bmi: float | None = None
    height: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "weight": self.weight,
            "weight_unit": self.weight_unit,
            "timestamp": _iso(self.timestamp),
            "user_id": self.user_id,
            "bmi": self.bmi,
            "bmi_unit": "kg/m²",
            "height": self.height,
            "height_unit": self.height_unit,
        }

    def vitals(self) -> list[VitalSample]:
        """Weight (kg), BMI and height (cm)."""
        out: list[VitalSample] = []
        if self.weight is not None:
            out.append(VitalSample(Vital.WEIGHT, _mass_to_kg(self.weight, self.weight_unit)))
        if self.bmi is not None:
            out.append(VitalSample(Vital.BMI, self.bmi))
        if self.height is not None:
            out.append(VitalSample(Vital.HEIGHT, _length_to_cm(self.height, self.height_unit)))
        return out

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return ["measurement_unsuccessful"] if self.weight is None else []


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyCompositionReading(Reading):
    """Body Composition Measurement (0x2A9C).

    Masses in ``mass_unit`` ("kg" 0.005 / "lb" 0.01), height in ``height_unit``
    ("m" 0.001 / "in" 0.1), percentages 0.1 %, basal metabolism kJ, impedance 0.1 Ω.
    ``body_fat_percent`` is ``None`` for "measurement unsuccessful" (0xFFFF).
    ``multiple_packets`` means this packet is one part of a split measurement.
    """

    mass_unit: str
    height_unit: str
    body_fat_percent: float | None
    basal_metabolism: int | None = None
    muscle_percent: float | None = None
    muscle_mass: float | None = None
    fat_free_mass: float | None = None
    soft_lean_mass: float | None = None
    body_water_mass: float | None = None
    impedance: float | None = None
    weight: float | None = None
    height: float | None = None
    multiple_packets: bool = False

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        mass = self.mass_unit
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "body_fat_percent": self.body_fat_percent,
            "body_fat_percent_unit": "%",
            "timestamp": _iso(self.timestamp),
            "user_id": self.user_id,
            "basal_metabolism": self.basal_metabolism,
            "basal_metabolism_unit": "kJ",
            "muscle_percent": self.muscle_percent,
            "muscle_percent_unit": "%",
            "muscle_mass": self.muscle_mass,
            "muscle_mass_unit": mass,
            "fat_free_mass": self.fat_free_mass,
            "fat_free_mass_unit": mass,
            "soft_lean_mass": self.soft_lean_mass,
            "soft_lean_mass_unit": mass,
            "body_water_mass": self.body_water_mass,
            "body_water_mass_unit": mass,
            "impedance": self.impedance,
            "impedance_unit": "Ω",
            "weight": self.weight,
            "weight_unit": mass,
            "height": self.height,
            "height_unit": self.height_unit,
            "multiple_packets": self.multiple_packets,
        }

    def vitals(self) -> list[VitalSample]:
        """Body fat (%), weight (kg) and height (cm)."""
        out: list[VitalSample] = []
        if self.body_fat_percent is not None:
            out.append(VitalSample(Vital.BODY_FAT, self.body_fat_percent))
        if self.weight is not None:
            out.append(VitalSample(Vital.WEIGHT, _mass_to_kg(self.weight, self.mass_unit)))
        if self.height is not None:
            out.append(VitalSample(Vital.HEIGHT, _length_to_cm(self.height, self.height_unit)))
        return out

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return ["measurement_unsuccessful"] if self.body_fat_percent is None else []


_GLUCOSE_TYPES: Final = (
    "reserved",
    "capillary_whole_blood",
    "capillary_plasma",
    "venous_whole_blood",
    "venous_plasma",
    "arterial_whole_blood",
    "arterial_plasma",
    "undetermined_whole_blood",
    "undetermined_plasma",
    "interstitial_fluid",
    "control_solution",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
)
_GLUCOSE_LOCATIONS: Final = (
    ("reserved", "finger", "alternate_site_test", "earlobe", "control_solution")
    + ("reserved",) * 10
    + ("not_available",)
)
# Glucose sensor status annunciation, bits 0..11 (GLS 1.0 §3.106 / GSS).
_GLUCOSE_STATUS: Final = (
    "battery_low",
    "sensor_malfunction",
    "sample_size_insufficient",
    "strip_insertion_error",
    "strip_type_incorrect",
    "result_too_high",
    "result_too_low",
    "temperature_too_high",
    "temperature_too_low",
    "read_interrupted",
    "general_device_fault",
    "time_fault",
)
# 1 kg/L = 1e6 mg / 10 dL = 100000 mg/dL.
_KGL_TO_MGDL: Final = 100000.0


def _bit_names(raw: int, names: tuple[str, ...], first_bit: int = 0) -> tuple[str, ...]:
    return tuple(name for i, name in enumerate(names) if raw >> (first_bit + i) & 1)


@lru_cache(maxsize=256)
def _glucose_status(raw: int) -> tuple[str, ...]:
    # Memoised: devices repeat the same few status words; bits 12..15 are reserved.
    return _bit_names(raw, _GLUCOSE_STATUS)


@dataclass(frozen=True, slots=True, kw_only=True)
class GlucoseReading(Reading):
    """Glucose Measurement (0x2A18).

    ``timestamp`` = ``base_time`` + ``time_offset`` minutes. ``unit`` is "kg/L" or "mol/L"
    (``None`` with no concentration field). Control-solution tests give no vitals.
    """

    base_time: datetime | None
    time_offset: int | None = None
    concentration: float | None = None
    unit: str | None = None
    type: str | None = None
    sample_location: str | None = None
    sensor_status_annunciation: tuple[str, ...] | None = None
    context_information_follows: bool = False

    @property
    def is_control_solution(self) -> bool:
        """True when the device says the sample was control solution, not the patient."""
        return self.type == "control_solution" or self.sample_location == "control_solution"

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "sequence_number": self.sequence_number,
            "base_time": _iso(self.base_time),
            "time_offset": self.time_offset,
            "time_offset_unit": "min",
            "timestamp": _iso(self.timestamp),
            "concentration": self.concentration,
            "unit": self.unit,
            "type": self.type,
            "sample_location": self.sample_location,
            "sensor_status_annunciation": _list(self.sensor_status_annunciation),
            "context_information_follows": self.context_information_follows,
        }

    def vitals(self) -> list[VitalSample]:
        """Glucose in mmol/L (kg/L via mg/dL; mol/L x 1000)."""
        if self.concentration is None or self.is_control_solution:
            return []
        if self.unit == "kg/L":
            mmol = self.concentration * _KGL_TO_MGDL / GLUCOSE_MGDL_PER_MMOLL
        else:
            mmol = self.concentration * 1000.0
        return [VitalSample(Vital.GLUCOSE, _clean(mmol))]

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        out = list(self.sensor_status_annunciation or ())
        if self.is_control_solution:
            out.append("control_solution")
        return out


_CARBOHYDRATE_IDS: Final = (
    "reserved",
    "breakfast",
    "lunch",
    "dinner",
    "snack",
    "drink",
    "supper",
    "brunch",
)
_MEALS: Final = ("reserved", "preprandial", "postprandial", "fasting", "casual", "bedtime")
_TESTERS: Final = (
    ("reserved", "self", "health_care_professional", "lab_test")
    + ("reserved",) * 11
    + ("not_available",)
)
_HEALTH: Final = (
    (
        "reserved",
        "minor_health_issues",
        "major_health_issues",
        "during_menses",
        "under_stress",
        "no_health_issues",
    )
    + ("reserved",) * 9
    + ("not_available",)
)
_MEDICATION_IDS: Final = (
    "reserved",
    "rapid_acting_insulin",
    "short_acting_insulin",
    "intermediate_acting_insulin",
    "long_acting_insulin",
    "pre_mixed_insulin",
)


def _enum_name(names: tuple[str, ...], value: int) -> str:
    return names[value] if value < len(names) else "reserved"


@dataclass(frozen=True, slots=True, kw_only=True)
class GlucoseContextReading(Reading):
    """Glucose Measurement Context (0x2A34), linked to a measurement by sequence number.

    Carbohydrate in kg, medication in kg or L (``medication_unit``), both IEEE-11073 SFLOAT
    carrying their own scale; exercise duration in s (65535 = overrun), intensity and
    HbA1c in %.
    """

    extended_flags: int | None = None
    carbohydrate_id: str | None = None
    carbohydrate: float | None = None
    meal: str | None = None
    tester: str | None = None
    health: str | None = None
    exercise_duration: int | None = None
    exercise_intensity: int | None = None
    medication_id: str | None = None
    medication: float | None = None
    medication_unit: str | None = None
    hba1c: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "sequence_number": self.sequence_number,
            "extended_flags": self.extended_flags,
            "carbohydrate_id": self.carbohydrate_id,
            "carbohydrate": self.carbohydrate,
            "carbohydrate_unit": "kg",
            "meal": self.meal,
            "tester": self.tester,
            "health": self.health,
            "exercise_duration": self.exercise_duration,
            "exercise_duration_unit": "s",
            "exercise_duration_overrun": self.exercise_duration == 0xFFFF,
            "exercise_intensity": self.exercise_intensity,
            "exercise_intensity_unit": "%",
            "medication_id": self.medication_id,
            "medication": self.medication,
            "medication_unit": self.medication_unit,
            "hba1c": self.hba1c,
            "hba1c_unit": "%",
        }


# PLX Measurement Status bits 5..15 (PLXS 1.0 §3.1.1.3 / GSS).
_PLX_MEASUREMENT_STATUS: Final = (
    "measurement_ongoing",
    "early_estimated_data",
    "validated_data",
    "fully_qualified_data",
    "data_from_measurement_storage",
    "data_for_demonstration",
    "data_for_testing",
    "calibration_ongoing",
    "measurement_unavailable",
    "questionable_measurement",
    "invalid_measurement",
)
# PLX Device and Sensor Status bits 0..15 (PLXS 1.0 §3.1.1.4 / GSS).
_PLX_DEVICE_STATUS: Final = (
    "extended_display_update_ongoing",
    "equipment_malfunction",
    "signal_processing_irregularity",
    "inadequate_signal",
    "poor_signal",
    "low_perfusion",
    "erratic_signal",
    "nonpulsatile_signal",
    "questionable_pulse",
    "signal_analysis_ongoing",
    "sensor_interference",
    "sensor_unconnected",
    "unknown_sensor",
    "sensor_displaced",
    "sensor_malfunction",
    "sensor_disconnected",
)
_PLX_MEASUREMENT_PROBLEMS: Final = frozenset(
    {
        "data_for_demonstration",
        "data_for_testing",
        "calibration_ongoing",
        "measurement_unavailable",
        "questionable_measurement",
        "invalid_measurement",
    }
)
# Values flagged like this are not the patient's: keep them out of vitals().
_PLX_NOT_A_READING: Final = frozenset(
    {"data_for_demonstration", "data_for_testing", "measurement_unavailable", "invalid_measurement"}
)
_PLX_DEVICE_INFORMATIONAL: Final = frozenset(
    {"extended_display_update_ongoing", "signal_analysis_ongoing"}
)


@lru_cache(maxsize=256)
def _plx_measurement_status(raw: int) -> tuple[str, ...]:
    return _bit_names(raw, _PLX_MEASUREMENT_STATUS, 5)


@lru_cache(maxsize=256)
def _plx_device_status(raw: int) -> tuple[str, ...]:
    # Callers pass the 16 defined bits only (bits 16..23 are reserved).
    return _bit_names(raw, _PLX_DEVICE_STATUS)


def _plx_problems(measurement: tuple[str, ...] | None, device: tuple[str, ...] | None) -> list[str]:
    out = [name for name in measurement or () if name in _PLX_MEASUREMENT_PROBLEMS]
    out.extend(name for name in device or () if name not in _PLX_DEVICE_INFORMATIONAL)
    return out


def _plx_vitals(
    spo2: float | None, pulse_rate: float | None, measurement: tuple[str, ...] | None
) -> list[VitalSample]:
    if measurement and not _PLX_NOT_A_READING.isdisjoint(measurement):
        return []
    out: list[VitalSample] = []
    if spo2 is not None:
        out.append(VitalSample(Vital.SPO2, spo2))
    if pulse_rate is not None:
        out.append(VitalSample(Vital.PULSE, pulse_rate))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxSpotCheckReading(Reading):
    """PLX Spot-Check Measurement (0x2A5E). SpO2 and PAI in %, pulse rate in bpm.

    When the device says its clock is not set, ``timestamp`` is ``None`` and
    ``status_flags()`` reports "clock_not_set".
    """

    spo2: float | None
    pulse_rate: float | None
    measurement_status: tuple[str, ...] | None = None
    device_and_sensor_status: tuple[str, ...] | None = None
    pulse_amplitude_index: float | None = None
    device_clock_set: bool = True

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "spo2": self.spo2,
            "spo2_unit": "%",
            "pulse_rate": self.pulse_rate,
            "pulse_rate_unit": "bpm",
            "timestamp": _iso(self.timestamp),
            "measurement_status": _list(self.measurement_status),
            "device_and_sensor_status": _list(self.device_and_sensor_status),
            "pulse_amplitude_index": self.pulse_amplitude_index,
            "pulse_amplitude_index_unit": "%",
            "device_clock_set": self.device_clock_set,
        }

    def vitals(self) -> list[VitalSample]:
        """SpO2 and pulse, unless flagged invalid, unavailable, demo or test data."""
        return _plx_vitals(self.spo2, self.pulse_rate, self.measurement_status)

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        out = _plx_problems(self.measurement_status, self.device_and_sensor_status)
        if not self.device_clock_set:
            out.append("clock_not_set")
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxContinuousReading(Reading):
    """PLX Continuous Measurement (0x2A5F): normal, fast and slow averaged SpO2/PR pairs.

    Only the normal pair is a vital.
    """

    spo2: float | None
    pulse_rate: float | None
    spo2_fast: float | None = None
    pulse_rate_fast: float | None = None
    spo2_slow: float | None = None
    pulse_rate_slow: float | None = None
    measurement_status: tuple[str, ...] | None = None
    device_and_sensor_status: tuple[str, ...] | None = None
    pulse_amplitude_index: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "spo2": self.spo2,
            "pulse_rate": self.pulse_rate,
            "spo2_fast": self.spo2_fast,
            "pulse_rate_fast": self.pulse_rate_fast,
            "spo2_slow": self.spo2_slow,
            "pulse_rate_slow": self.pulse_rate_slow,
            "spo2_unit": "%",
            "pulse_rate_unit": "bpm",
            "measurement_status": _list(self.measurement_status),
            "device_and_sensor_status": _list(self.device_and_sensor_status),
            "pulse_amplitude_index": self.pulse_amplitude_index,
            "pulse_amplitude_index_unit": "%",
        }

    def vitals(self) -> list[VitalSample]:
        """SpO2 and pulse (normal averaging), unless flagged invalid, demo or test data."""
        return _plx_vitals(self.spo2, self.pulse_rate, self.measurement_status)

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return _plx_problems(self.measurement_status, self.device_and_sensor_status)


_RACP_OP_CODES: Final = (
    "reserved",
    "report_stored_records",
    "delete_stored_records",
    "abort_operation",
    "report_number_of_stored_records",
    "number_of_stored_records_response",
    "response_code",
)
_RACP_OPERATORS: Final = (
    "null",
    "all_records",
    "less_than_or_equal_to",
    "greater_than_or_equal_to",
    "within_range_of",
    "first_record",
    "last_record",
)
_RACP_RESPONSE_CODES: Final = (
    "reserved",
    "success",
    "op_code_not_supported",
    "invalid_operator",
    "operator_not_supported",
    "invalid_operand",
    "no_records_found",
    "abort_unsuccessful",
    "procedure_not_completed",
    "operand_not_supported",
)
# GLS 1.0 §4.12.2 filter types; other services reuse 0x01 for their own key.
_RACP_FILTER_TYPES: Final = ("reserved", "sequence_number", "user_facing_time")


@dataclass(frozen=True, slots=True, kw_only=True)
class RacpReading(Reading):
    """Record Access Control Point (0x2A52) request or response.

    Responses: "number_of_stored_records_response" sets ``number_of_records``;
    "response_code" sets ``request_op_code`` and ``response_code``. Requests with
    operators 2..4 set ``filter_type`` and ``filter_values`` (ints for sequence numbers,
    datetimes for user facing time); an operand that cannot be interpreted (reserved op
    code or filter type) is kept as hex in ``operand``.
    """

    op_code: str
    operator: str
    number_of_records: int | None = None
    request_op_code: str | None = None
    response_code: str | None = None
    filter_type: str | None = None
    filter_values: tuple[int | datetime | None, ...] | None = None
    operand: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        values = None
        if self.filter_values is not None:
            values = [v.isoformat() if isinstance(v, datetime) else v for v in self.filter_values]
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "op_code": self.op_code,
            "operator": self.operator,
            "number_of_records": self.number_of_records,
            "request_op_code": self.request_op_code,
            "response_code": self.response_code,
            "filter_type": self.filter_type,
            "filter_values": values,
            "operand": self.operand,
        }


_DAYS_OF_WEEK: Final = (
    None,
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_ADJUST_REASONS: Final = (
    "manual_time_update",
    "external_reference_time_update",
    "change_of_time_zone",
    "change_of_dst",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentTimeReading(Reading):
    """Current Time (0x2A2B): Exact Time 256 plus adjust reason.

    ``day_of_week`` is ``None`` when unknown; ``fractions256`` counts 1/256 s.
    """

    day_of_week: str | None
    fractions256: int
    adjust_reason: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "timestamp": _iso(self.timestamp),
            "day_of_week": self.day_of_week,
            "fractions256": self.fractions256,
            "adjust_reason": list(self.adjust_reason),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DateTimeReading(Reading):
    """Date Time (0x2A08)."""

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "timestamp": _iso(self.timestamp),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryReading(Reading):
    """Battery Level (0x2A19), 0..100 %."""

    level: int

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            "characteristic": self.characteristic,
            "kind": self.kind,
            "level": self.level,
            "unit": "%",
        }


_R = TypeVar("_R", bound=Reading)


def _fast_new(cls: type[_R]) -> Callable[..., _R]:
    """Keyword constructor equivalent to ``cls(...)``, about 3x faster.

    A frozen dataclass ``__init__`` stores every field through ``object.__setattr__``;
    calling the slot descriptors directly skips that indirection, which is most of the cost
    of a decode. The function is generated with ``exec`` the way ``dataclasses`` builds
    ``__init__``; only field names from our own classes reach the source text.
    """
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params: list[str] = []
    body: list[str] = []
    for item in dataclass_fields(cls):
        name = item.name
        namespace[f"_set_{name}"] = getattr(cls, name).__set__
        if item.default is MISSING:
            params.append(name)
        else:
            namespace[f"_default_{name}"] = item.default
            params.append(f"{name}=_default_{name}")
        body.append(f"    _set_{name}(self, {name})\n")
    source = f"def _make(*, {', '.join(params)}):\n    self = _new(_cls)\n"
    source += "".join(body) + "    return self\n"
    exec(source, namespace)
    make: Callable[..., _R] = namespace["_make"]
    return make


_NEW_BP: Final = _fast_new(BloodPressureReading)
_NEW_ICP: Final = _fast_new(IntermediateCuffPressureReading)
_NEW_TEMPERATURE: Final = _fast_new(TemperatureReading)
_NEW_HEART_RATE: Final = _fast_new(HeartRateReading)
_NEW_WEIGHT: Final = _fast_new(WeightReading)
_NEW_BODY: Final = _fast_new(BodyCompositionReading)
_NEW_GLUCOSE: Final = _fast_new(GlucoseReading)
_NEW_GLUCOSE_CONTEXT: Final = _fast_new(GlucoseContextReading)
_NEW_PLX_SPOT: Final = _fast_new(PlxSpotCheckReading)
_NEW_PLX_CONT: Final = _fast_new(PlxContinuousReading)
_NEW_RACP: Final = _fast_new(RacpReading)
_NEW_CURRENT_TIME: Final = _fast_new(CurrentTimeReading)
_NEW_DATE_TIME: Final = _fast_new(DateTimeReading)
_NEW_BATTERY: Final = _fast_new(BatteryReading)


STATUS_FLAG_NAMES: Final[frozenset[str]] = frozenset(
    {
        "body_movement",
        "cuff_too_loose",
        "irregular_pulse",
        "pulse_rate_out_of_range",
        "improper_position",
        "no_sensor_contact",
        "measurement_unsuccessful",
        "control_solution",
        "clock_not_set",
        *_GLUCOSE_STATUS,
        *_PLX_MEASUREMENT_PROBLEMS,
        *(name for name in _PLX_DEVICE_STATUS if name not in _PLX_DEVICE_INFORMATIONAL),
    }
)


# --------------------------------------------------------------------------- layouts


class _Layout:
    """Field layout of one flags-driven characteristic.

    Each (flags & presence mask) gets one precompiled ``struct.Struct`` for the whole
    payload, built on first use, so a decode is one length check and one unpack.
    """

    __slots__ = ("_cache", "char", "fields", "flags_size", "kind", "label", "mask")

    def __init__(
        self,
        char: str,
        kind: str,
        flags_fmt: str,
        fields: tuple[tuple[str, str, int], ...],
    ) -> None:
        self.char = char
        self.kind = kind
        self.label = f"{kind} (0x{char.upper()})"
        self.flags_size = struct.calcsize("<" + flags_fmt)
        # (name, struct format, presence mask; 0 = mandatory)
        self.fields = (("flags", flags_fmt, 0), *fields) if flags_fmt else fields
        mask = 0
        for _, _, bit in fields:
            mask |= bit
        self.mask = mask
        self._cache: dict[int, struct.Struct] = {}

    def struct_for(self, flags: int) -> struct.Struct:
        key = flags & self.mask
        compiled = self._cache.get(key)
        if compiled is None:
            fmt = "".join(f for _, f, bit in self.fields if not bit or key & bit)
            compiled = self._cache[key] = struct.Struct("<" + fmt)
        return compiled

    def unpack(self, data: bytes) -> tuple[int, tuple[Any, ...]]:
        """Return (flags, all field values) or raise a precise length error."""
        size = len(data)
        if size < self.flags_size:
            raise self.length_error(0, data)
        if self.flags_size == 1:
            flags = data[0]
        elif self.flags_size == 2:
            flags = data[0] | data[1] << 8
        else:
            flags = 0
        compiled = self.struct_for(flags)
        if size != compiled.size:
            raise self.length_error(flags, data)
        return flags, compiled.unpack(data)

    def error(self, field: str, detail: str) -> DecodeError:
        message = f"{self.label}: {field}: {detail}"
        return DecodeError(message, characteristic=self.char, field=field)

    def length_error(self, flags: int, data: bytes) -> DecodeError:
        size = len(data)
        if size == 0:
            minimum = sum(struct.calcsize("<" + f) for _, f, bit in self.fields if not bit)
            return self.error(
                self.fields[0][0], f"empty payload, expected at least {minimum} bytes"
            )
        flags_note = f", flags 0x{flags:02X}" if self.flags_size and size >= self.flags_size else ""
        offset = 0
        last = self.fields[0][0]
        for name, fmt, bit in self.fields:
            if bit and not flags & bit:
                continue
            need = struct.calcsize("<" + fmt)
            if offset + need > size:
                return self.error(
                    name,
                    f"needs {need} bytes at offset {offset}, got {size - offset} "
                    f"(payload {size} bytes{flags_note})",
                )
            offset += need
            last = name
        return self.error(
            last,
            f"{size - offset} unexpected trailing bytes after the last field; expected "
            f"{offset} bytes, got {size}{flags_note}",
        )


def _date_time(lay: _Layout, field: str, values: tuple[Any, ...], i: int) -> datetime | None:
    """Date Time from six unpacked values at ``values[i:i+6]``; ``None`` when unknown."""
    year, month, day, hour, minute, second = values[i : i + 6]
    if year and month and day:
        if 1582 <= year <= 9999:
            try:
                return datetime(year, month, day, hour, minute, second)
            except ValueError:
                pass
    elif month <= 12 and day <= 31 and hour <= 23 and minute <= 59 and second <= 59:
        return None
    raise lay.error(
        field,
        f"invalid Date Time {year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:"
        f"{second:02d} (year 1582..9999, 0 for unknown year/month/day)",
    )


_DT: Final = "HBBBBB"  # Date Time: year, month, day, hours, minutes, seconds


# --------------------------------------------------------------------------- decoders

_BP_FIELDS: Final = (
    ("systolic", "H", 0),
    ("diastolic", "H", 0),
    ("mean_arterial_pressure", "H", 0),
    ("timestamp", _DT, 0x02),
    ("pulse_rate", "H", 0x04),
    ("user_id", "B", 0x08),
    ("measurement_status", "H", 0x10),
)
_BP = _Layout("2a35", "blood_pressure", "B", _BP_FIELDS)
_ICP = _Layout(
    "2a36",
    "intermediate_cuff_pressure",
    "B",
    (("cuff_pressure", "H", 0),) + _BP_FIELDS[1:],
)


def _bp_common(
    lay: _Layout, flags: int, v: tuple[Any, ...]
) -> tuple[datetime | None, float | None, int | None, tuple[str, ...] | None]:
    i = 4
    timestamp = pulse = user = status = None
    if flags & 0x02:
        timestamp = _date_time(lay, "timestamp", v, i)
        i += 6
    if flags & 0x04:
        pulse = decode_sfloat(v[i])
        i += 1
    if flags & 0x08:
        user = None if v[i] == 0xFF else v[i]
        i += 1
    if flags & 0x10:
        status = _BP_STATUS[v[i] & 0x3F]
    return timestamp, pulse, user, status


def _decode_blood_pressure(data: bytes) -> Reading:
    flags, v = _BP.unpack(data)
    timestamp, pulse, user, status = _bp_common(_BP, flags, v)
    return _NEW_BP(
        characteristic="2a35",
        kind="blood_pressure",
        unit="kPa" if flags & 0x01 else "mmHg",
        systolic=decode_sfloat(v[1]),
        diastolic=decode_sfloat(v[2]),
        mean_arterial_pressure=decode_sfloat(v[3]),
        timestamp=timestamp,
        pulse_rate=pulse,
        user_id=user,
        measurement_status=status,
    )


def _decode_intermediate_cuff_pressure(data: bytes) -> Reading:
    # Diastolic and MAP are unused here (the spec sets them to NaN); they are skipped.
    flags, v = _ICP.unpack(data)
    timestamp, pulse, user, status = _bp_common(_ICP, flags, v)
    return _NEW_ICP(
        characteristic="2a36",
        kind="intermediate_cuff_pressure",
        unit="kPa" if flags & 0x01 else "mmHg",
        cuff_pressure=decode_sfloat(v[1]),
        timestamp=timestamp,
        pulse_rate=pulse,
        user_id=user,
        measurement_status=status,
    )


_TEMP_FIELDS: Final = (
    ("temperature", "I", 0),
    ("timestamp", _DT, 0x02),
    ("temperature_type", "B", 0x04),
)
_TEMP = _Layout("2a1c", "temperature", "B", _TEMP_FIELDS)
_ITEMP = _Layout("2a1e", "intermediate_temperature", "B", _TEMP_FIELDS)


def _temperature(lay: _Layout, data: bytes) -> Reading:
    flags, v = lay.unpack(data)
    timestamp = None
    temperature_type = None
    i = 2
    if flags & 0x02:
        timestamp = _date_time(lay, "timestamp", v, i)
        i += 6
    if flags & 0x04:
        temperature_type = _enum_name(_TEMPERATURE_TYPES, v[i])
    return _NEW_TEMPERATURE(
        characteristic=lay.char,
        kind=lay.kind,
        unit="°F" if flags & 0x01 else "°C",
        temperature=decode_float(v[1]),
        timestamp=timestamp,
        temperature_type=temperature_type,
    )


def _decode_temperature(data: bytes) -> Reading:
    return _temperature(_TEMP, data)


def _decode_intermediate_temperature(data: bytes) -> Reading:
    return _temperature(_ITEMP, data)


_HR_LABEL: Final = "heart_rate (0x2A37)"
_SENSOR_CONTACT: Final = ("not_supported", "not_supported", "not_detected", "detected")
_U16 = struct.Struct("<H")
_RR_STRUCTS: dict[int, struct.Struct] = {}


def _hr_error(field: str, detail: str) -> DecodeError:
    return DecodeError(f"{_HR_LABEL}: {field}: {detail}", characteristic="2a37", field=field)


def _decode_heart_rate(data: bytes) -> Reading:
    size = len(data)
    if size < 2:
        if size == 0:
            raise _hr_error("flags", "empty payload, expected at least 2 bytes")
        raise _hr_error("heart_rate", f"needs 1 or 2 bytes at offset 1, got {size - 1}")
    flags = data[0]
    if flags & 0x01:
        if size < 3:
            raise _hr_error("heart_rate", "needs 2 bytes (uint16 format) at offset 1, got 1")
        heart_rate = data[1] | data[2] << 8
        offset = 3
    else:
        heart_rate = data[1]
        offset = 2
    energy = None
    if flags & 0x08:
        if size < offset + 2:
            raise _hr_error(
                "energy_expended",
                f"needs 2 bytes at offset {offset}, got {size - offset} (flags 0x{flags:02X})",
            )
        energy = data[offset] | data[offset + 1] << 8
        offset += 2
    rr: tuple[float, ...] | None = None
    rest = size - offset
    if flags & 0x10:
        if rest < 2 or rest & 1:
            raise _hr_error(
                "rr_intervals",
                f"needs a whole number (>= 1) of 2-byte intervals at offset {offset}, "
                f"got {rest} bytes (flags 0x{flags:02X})",
            )
        count = rest >> 1
        compiled = _RR_STRUCTS.get(count)
        if compiled is None:
            compiled = _RR_STRUCTS[count] = struct.Struct(f"<{count}H")
        # 1/1024 s units: dividing by a power of two is exact.
        rr = tuple(x / 1024 for x in compiled.unpack_from(data, offset))
    elif rest:
        raise _hr_error(
            "energy_expended" if flags & 0x08 else "heart_rate",
            f"{rest} unexpected trailing bytes after the last field; expected {offset} bytes "
            f"for flags 0x{flags:02X}, got {size}",
        )
    return _NEW_HEART_RATE(
        characteristic="2a37",
        kind="heart_rate",
        heart_rate=heart_rate,
        sensor_contact=_SENSOR_CONTACT[(flags >> 1) & 0x3],
        energy_expended=energy,
        rr_intervals=rr,
    )


_WEIGHT = _Layout(
    "2a9d",
    "weight",
    "B",
    (
        ("weight", "H", 0),
        ("timestamp", _DT, 0x02),
        ("user_id", "B", 0x04),
        ("bmi", "H", 0x08),
        ("height", "H", 0x08),
    ),
)


def _decode_weight(data: bytes) -> Reading:
    flags, v = _WEIGHT.unpack(data)
    imperial = flags & 0x01
    raw_weight = v[1]
    # SI 0.005 kg = raw/200; imperial 0.01 lb = raw/100 (division keeps the decimal exact).
    weight = None if raw_weight == 0xFFFF else raw_weight / (100 if imperial else 200)
    timestamp = user = bmi = height = None
    i = 2
    if flags & 0x02:
        timestamp = _date_time(_WEIGHT, "timestamp", v, i)
        i += 6
    if flags & 0x04:
        user = None if v[i] == 0xFF else v[i]
        i += 1
    if flags & 0x08:
        bmi = v[i] / 10
        height = v[i + 1] / (10 if imperial else 1000)
    return _NEW_WEIGHT(
        characteristic="2a9d",
        kind="weight",
        weight_unit="lb" if imperial else "kg",
        height_unit="in" if imperial else "m",
        weight=weight,
        timestamp=timestamp,
        user_id=user,
        bmi=bmi,
        height=height,
    )


_BODY = _Layout(
    "2a9c",
    "body_composition",
    "H",
    (
        ("body_fat_percent", "H", 0),
        ("timestamp", _DT, 0x0002),
        ("user_id", "B", 0x0004),
        ("basal_metabolism", "H", 0x0008),
        ("muscle_percent", "H", 0x0010),
        ("muscle_mass", "H", 0x0020),
        ("fat_free_mass", "H", 0x0040),
        ("soft_lean_mass", "H", 0x0080),
        ("body_water_mass", "H", 0x0100),
        ("impedance", "H", 0x0200),
        ("weight", "H", 0x0400),
        ("height", "H", 0x0800),
    ),
)


def _decode_body_composition(data: bytes) -> Reading:
    flags, v = _BODY.unpack(data)
    imperial = flags & 0x0001
    # SI masses 0.005 kg = raw/200, imperial 0.01 lb = raw/100.
    mass_div = 100 if imperial else 200
    timestamp = user = basal = muscle_pct = muscle = fat_free = soft_lean = water = None
    impedance = weight = height = None
    i = 2
    if flags & 0x0002:
        timestamp = _date_time(_BODY, "timestamp", v, i)
        i += 6
    if flags & 0x0004:
        user = None if v[i] == 0xFF else v[i]
        i += 1
    if flags & 0x0008:
        basal = v[i]
        i += 1
    if flags & 0x0010:
        muscle_pct = v[i] / 10
        i += 1
    if flags & 0x0020:
        muscle = v[i] / mass_div
        i += 1
    if flags & 0x0040:
        fat_free = v[i] / mass_div
        i += 1
    if flags & 0x0080:
        soft_lean = v[i] / mass_div
        i += 1
    if flags & 0x0100:
        water = v[i] / mass_div
        i += 1
    if flags & 0x0200:
        impedance = v[i] / 10
        i += 1
    if flags & 0x0400:
        weight = v[i] / mass_div
        i += 1
    if flags & 0x0800:
        height = v[i] / (10 if imperial else 1000)
    return _NEW_BODY(
        characteristic="2a9c",
        kind="body_composition",
        mass_unit="lb" if imperial else "kg",
        height_unit="in" if imperial else "m",
        body_fat_percent=None if v[1] == 0xFFFF else v[1] / 10,
        timestamp=timestamp,
        user_id=user,
        basal_metabolism=basal,
        muscle_percent=muscle_pct,
        muscle_mass=muscle,
        fat_free_mass=fat_free,
        soft_lean_mass=soft_lean,
        body_water_mass=water,
        impedance=impedance,
        weight=weight,
        height=height,
        multiple_packets=bool(flags & 0x1000),
    )


_GLUCOSE = _Layout(
    "2a18",
    "glucose",
    "B",
    (
        ("sequence_number", "H", 0),
        ("base_time", _DT, 0),
        ("time_offset", "h", 0x01),
        ("concentration", "H", 0x02),
        ("type_sample_location", "B", 0x02),
        ("sensor_status_annunciation", "H", 0x08),
    ),
)


def _decode_glucose(data: bytes) -> Reading:
    flags, v = _GLUCOSE.unpack(data)
    base_time = _date_time(_GLUCOSE, "base_time", v, 2)
    timestamp = base_time
    offset = concentration = unit = glucose_type = location = status = None
    i = 8
    if flags & 0x01:
        offset = v[i]
        i += 1
        if base_time is not None:
            try:
                timestamp = base_time + timedelta(minutes=offset)
            except OverflowError as err:
                raise _GLUCOSE.error(
                    "time_offset", f"base time + {offset} min is outside years 1..9999"
                ) from err
    if flags & 0x02:
        concentration = decode_sfloat(v[i])
        unit = "mol/L" if flags & 0x04 else "kg/L"
        glucose_type = _GLUCOSE_TYPES[v[i + 1] & 0x0F]
        location = _GLUCOSE_LOCATIONS[v[i + 1] >> 4]
        i += 2
    if flags & 0x08:
        status = _glucose_status(v[i] & 0x0FFF)
    return _NEW_GLUCOSE(
        characteristic="2a18",
        kind="glucose",
        sequence_number=v[1],
        base_time=base_time,
        time_offset=offset,
        timestamp=timestamp,
        concentration=concentration,
        unit=unit,
        type=glucose_type,
        sample_location=location,
        sensor_status_annunciation=status,
        context_information_follows=bool(flags & 0x10),
    )


_GLUCOSE_CONTEXT = _Layout(
    "2a34",
    "glucose_context",
    "B",
    (
        ("sequence_number", "H", 0),
        ("extended_flags", "B", 0x80),
        ("carbohydrate_id", "B", 0x01),
        ("carbohydrate", "H", 0x01),
        ("meal", "B", 0x02),
        ("tester_health", "B", 0x04),
        ("exercise_duration", "H", 0x08),
        ("exercise_intensity", "B", 0x08),
        ("medication_id", "B", 0x10),
        ("medication", "H", 0x10),
        ("hba1c", "H", 0x40),
    ),
)


def _decode_glucose_context(data: bytes) -> Reading:
    flags, v = _GLUCOSE_CONTEXT.unpack(data)
    fields: dict[str, Any] = {}
    i = 2
    if flags & 0x80:
        fields["extended_flags"] = v[i]
        i += 1
    if flags & 0x01:
        fields["carbohydrate_id"] = _enum_name(_CARBOHYDRATE_IDS, v[i])
        fields["carbohydrate"] = decode_sfloat(v[i + 1])
        i += 2
    if flags & 0x02:
        fields["meal"] = _enum_name(_MEALS, v[i])
        i += 1
    if flags & 0x04:
        fields["tester"] = _TESTERS[v[i] & 0x0F]
        fields["health"] = _HEALTH[v[i] >> 4]
        i += 1
    if flags & 0x08:
        fields["exercise_duration"] = v[i]
        fields["exercise_intensity"] = v[i + 1]
        i += 2
    if flags & 0x10:
        fields["medication_id"] = _enum_name(_MEDICATION_IDS, v[i])
        fields["medication"] = decode_sfloat(v[i + 1])
        fields["medication_unit"] = "L" if flags & 0x20 else "kg"
        i += 2
    if flags & 0x40:
        fields["hba1c"] = decode_sfloat(v[i])
    return _NEW_GLUCOSE_CONTEXT(
        characteristic="2a34", kind="glucose_context", sequence_number=v[1], **fields
    )


_PLX_SPOT = _Layout(
    "2a5e",
    "plx_spot_check",
    "B",
    (
        ("spo2", "H", 0),
        ("pulse_rate", "H", 0),
        ("timestamp", _DT, 0x01),
        ("measurement_status", "H", 0x02),
        ("device_and_sensor_status", "HB", 0x04),
        ("pulse_amplitude_index", "H", 0x08),
    ),
)


def _decode_plx_spot_check(data: bytes) -> Reading:
    flags, v = _PLX_SPOT.unpack(data)
    clock_set = not flags & 0x10
    timestamp = measurement = device = pai = None
    i = 3
    if flags & 0x01:
        # Validated even when the clock is not set; the value is then withheld.
        sent = _date_time(_PLX_SPOT, "timestamp", v, i)
        timestamp = sent if clock_set else None
        i += 6
    if flags & 0x02:
        measurement = _plx_measurement_status(v[i] & 0xFFE0)
        i += 1
    if flags & 0x04:
        device = _plx_device_status(v[i])  # v[i + 1] holds reserved bits 16..23
        i += 2
    if flags & 0x08:
        pai = decode_sfloat(v[i])
    return _NEW_PLX_SPOT(
        characteristic="2a5e",
        kind="plx_spot_check",
        spo2=decode_sfloat(v[1]),
        pulse_rate=decode_sfloat(v[2]),
        timestamp=timestamp,
        measurement_status=measurement,
        device_and_sensor_status=device,
        pulse_amplitude_index=pai,
        device_clock_set=clock_set,
    )


_PLX_CONT = _Layout(
    "2a5f",
    "plx_continuous",
    "B",
    (
        ("spo2", "H", 0),
        ("pulse_rate", "H", 0),
        ("spo2_fast", "H", 0x01),
        ("pulse_rate_fast", "H", 0x01),
        ("spo2_slow", "H", 0x02),
        ("pulse_rate_slow", "H", 0x02),
        ("measurement_status", "H", 0x04),
        ("device_and_sensor_status", "HB", 0x08),
        ("pulse_amplitude_index", "H", 0x10),
    ),
)


def _decode_plx_continuous(data: bytes) -> Reading:
    flags, v = _PLX_CONT.unpack(data)
    spo2_fast = pr_fast = spo2_slow = pr_slow = measurement = device = pai = None
    i = 3
    if flags & 0x01:
        spo2_fast = decode_sfloat(v[i])
        pr_fast = decode_sfloat(v[i + 1])
        i += 2
    if flags & 0x02:
        spo2_slow = decode_sfloat(v[i])
        pr_slow = decode_sfloat(v[i + 1])
        i += 2
    if flags & 0x04:
        measurement = _plx_measurement_status(v[i] & 0xFFE0)
        i += 1
    if flags & 0x08:
        device = _plx_device_status(v[i])
        i += 2
    if flags & 0x10:
        pai = decode_sfloat(v[i])
    return _NEW_PLX_CONT(
        characteristic="2a5f",
        kind="plx_continuous",
        spo2=decode_sfloat(v[1]),
        pulse_rate=decode_sfloat(v[2]),
        spo2_fast=spo2_fast,
        pulse_rate_fast=pr_fast,
        spo2_slow=spo2_slow,
        pulse_rate_slow=pr_slow,
        measurement_status=measurement,
        device_and_sensor_status=device,
        pulse_amplitude_index=pai,
    )


_RACP_LABEL: Final = "racp (0x2A52)"
# Name of every possible byte value, reserved ones included: one index, no branch.
_RACP_OP_NAMES: Final = tuple(_enum_name(_RACP_OP_CODES, code) for code in range(256))
_RACP_OPERATOR_NAMES: Final = tuple(_enum_name(_RACP_OPERATORS, code) for code in range(256))
_RACP_RESPONSE_NAMES: Final = tuple(_enum_name(_RACP_RESPONSE_CODES, code) for code in range(256))
_DT_STRUCT = struct.Struct("<" + _DT)
_RACP_LAYOUT = _Layout("2a52", "racp", "", ())  # only for Date Time error messages


def _racp_error(field: str, detail: str) -> DecodeError:
    return DecodeError(f"{_RACP_LABEL}: {field}: {detail}", characteristic="2a52", field=field)


def _decode_racp(data: bytes) -> Reading:
    size = len(data)
    if size < 2:
        if size == 0:
            raise _racp_error("op_code", "empty payload, expected at least 2 bytes")
        raise _racp_error("operator", "needs 1 byte at offset 1, got 0")
    op, operator = data[0], data[1]
    op_name = _RACP_OP_NAMES[op]
    operator_name = _RACP_OPERATOR_NAMES[operator]
    if op in (5, 6) and operator != 0:
        raise _racp_error("operator", f"must be null (0) in a {op_name}, got {operator}")
    if op == 6 and size == 4:  # the common answer, built without the generic path
        return _NEW_RACP(
            characteristic="2a52",
            kind="racp",
            op_code="response_code",
            operator="null",
            request_op_code=_RACP_OP_NAMES[data[2]],
            response_code=_RACP_RESPONSE_NAMES[data[3]],
        )
    operand = data[2:]
    fields: dict[str, Any] = {}
    if op == 5:
        # Field size is per service: uint16 in GLS/CGMS/PLXS; 1 and 4 bytes are accepted
        # as Nordic's RACP parser does.
        if len(operand) not in (1, 2, 4):
            raise _racp_error(
                "number_of_records", f"needs 1, 2 or 4 bytes at offset 2, got {len(operand)}"
            )
        fields["number_of_records"] = int.from_bytes(operand, "little")
    elif op == 6:
        if len(operand) != 2:
            raise _racp_error(
                "response_code",
                f"needs 2 bytes (request op code, response code) at offset 2, got {len(operand)}",
            )
        fields["request_op_code"] = _RACP_OP_NAMES[operand[0]]
        fields["response_code"] = _RACP_RESPONSE_NAMES[operand[1]]
    elif op in (1, 2, 3, 4) and operator in (0, 1, 5, 6):
        if operand:
            raise _racp_error(
                "operand",
                f"operator {operator_name} takes no operand, got {len(operand)} bytes",
            )
    elif op in (1, 2, 4) and operator in (2, 3, 4):
        _racp_filter(operator, bytes(operand), fields)
    elif operand:
        # Reserved op code or operator: nothing more can be known about the operand.
        fields["operand"] = bytes(operand).hex()
    return _NEW_RACP(
        characteristic="2a52", kind="racp", op_code=op_name, operator=operator_name, **fields
    )


def _racp_filter(operator: int, operand: bytes, fields: dict[str, Any]) -> None:
    count = 2 if operator == 4 else 1
    if not operand:
        raise _racp_error("filter_type", "needs 1 byte at offset 2, got 0")
    filter_type = operand[0]
    fields["filter_type"] = _enum_name(_RACP_FILTER_TYPES, filter_type)
    if filter_type == 1:
        size = 2
    elif filter_type == 2:
        size = 7
    else:
        fields["operand"] = operand[1:].hex()
        return
    if len(operand) != 1 + size * count:
        raise _racp_error(
            "filter_values",
            f"needs {size * count} bytes at offset 3, got {len(operand) - 1}",
        )
    values: list[int | datetime | None] = []
    for k in range(count):
        start = 1 + k * size
        if size == 2:
            values.append(_U16.unpack_from(operand, start)[0])
        else:
            raw = _DT_STRUCT.unpack_from(operand, start)
            values.append(_date_time(_RACP_LAYOUT, "filter_values", raw, 0))
    fields["filter_values"] = tuple(values)


_CURRENT_TIME = _Layout(
    "2a2b",
    "current_time",
    "",
    (
        ("date_time", _DT, 0),
        ("day_of_week", "B", 0),
        ("fractions256", "B", 0),
        ("adjust_reason", "B", 0),
    ),
)


def _decode_current_time(data: bytes) -> Reading:
    _, v = _CURRENT_TIME.unpack(data)
    return _NEW_CURRENT_TIME(
        characteristic="2a2b",
        kind="current_time",
        timestamp=_date_time(_CURRENT_TIME, "date_time", v, 0),
        day_of_week=_DAYS_OF_WEEK[v[6]] if v[6] < 8 else "reserved",
        fractions256=v[7],
        adjust_reason=_ADJUST_REASON_NAMES[v[8] & 0x0F],
    )


# Bits 0-3 of Adjust Reason; bits 4-7 are reserved.
_ADJUST_REASON_NAMES: Final = tuple(_bit_names(raw, _ADJUST_REASONS) for raw in range(16))

_DATE_TIME = _Layout("2a08", "date_time", "", (("date_time", _DT, 0),))


def _decode_date_time(data: bytes) -> Reading:
    _, v = _DATE_TIME.unpack(data)
    return _NEW_DATE_TIME(
        characteristic="2a08",
        kind="date_time",
        timestamp=_date_time(_DATE_TIME, "date_time", v, 0),
    )


_BATTERY = _Layout("2a19", "battery", "", (("level", "B", 0),))


def _decode_battery(data: bytes) -> Reading:
    _, v = _BATTERY.unpack(data)
    level = v[0]
    if level > 100:
        raise _BATTERY.error("level", f"{level} is outside 0..100 %")
    return _NEW_BATTERY(characteristic="2a19", kind="battery", level=level)


# --------------------------------------------------------------------------- dispatch

_DECODERS: Final[dict[str, tuple[str, Callable[[bytes], Reading]]]] = {
    "2a35": ("blood_pressure", _decode_blood_pressure),
    "2a36": ("intermediate_cuff_pressure", _decode_intermediate_cuff_pressure),
    "2a1c": ("temperature", _decode_temperature),
    "2a1e": ("intermediate_temperature", _decode_intermediate_temperature),
    "2a37": ("heart_rate", _decode_heart_rate),
    "2a9d": ("weight", _decode_weight),
    "2a9c": ("body_composition", _decode_body_composition),
    "2a18": ("glucose", _decode_glucose),
    "2a34": ("glucose_context", _decode_glucose_context),
    "2a5e": ("plx_spot_check", _decode_plx_spot_check),
    "2a5f": ("plx_continuous", _decode_plx_continuous),
    "2a52": ("racp", _decode_racp),
    "2a2b": ("current_time", _decode_current_time),
    "2a08": ("date_time", _decode_date_time),
    "2a19": ("battery", _decode_battery),
}

#: Short UUID -> reading kind, for every characteristic ``decode`` accepts.
SUPPORTED_CHARACTERISTICS: Final[Mapping[str, str]] = MappingProxyType(
    {short: kind for short, (kind, _) in _DECODERS.items()}
)

# Every common spelling maps straight to its decoder: no normalisation on the hot path.
_DISPATCH: Final[dict[str, Callable[[bytes], Reading]]] = {}
for _short, (_, _func) in _DECODERS.items():
    for _spelling in (_short, f"0x{_short}", f"0000{_short}{BASE_UUID_SUFFIX}"):
        _DISPATCH[_spelling] = _func
        _DISPATCH[_spelling.upper()] = _func
    _DISPATCH[f"0x{_short.upper()}"] = _func
_HEX_DIGITS: Final = frozenset("0123456789abcdef")


def short_uuid(uuid: str) -> str:
    """Normalise a Bluetooth SIG UUID to its 4-digit lower-case short form.

    Accepts "2A35", "0x2a35", "00002a35" and the full 128-bit form in any case.
    Raises ``UnknownCharacteristicError`` for anything that is not a SIG-base UUID.
    """
    text = str(uuid).strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if len(text) == 36 and text.startswith("0000") and text.endswith(BASE_UUID_SUFFIX):
        text = text[4:8]
    elif len(text) == 8 and text.startswith("0000"):
        text = text[4:]
    if len(text) != 4 or not _HEX_DIGITS.issuperset(text):
        raise UnknownCharacteristicError(f"{uuid!r} is not a 16-bit or Bluetooth-base 128-bit UUID")
    return text


def full_uuid(uuid: str) -> str:
    """The full lower-case 128-bit form of a SIG UUID ("2a35" -> "00002a35-0000-...")."""
    return f"0000{short_uuid(uuid)}{BASE_UUID_SUFFIX}"


def decode(uuid: str, data: bytes) -> Reading:
    """Decode one characteristic value.

    ``uuid``: short ("2a35", "0x2A35") or full 128-bit form, any case. ``data``: bytes,
    bytearray or memoryview. Raises ``DecodeError`` for malformed data and
    ``UnknownCharacteristicError`` (a ``DecodeError``) for unsupported UUIDs; ``TypeError``
    when ``data`` is not bytes-like.
    """
    func = _DISPATCH.get(uuid)
    if func is None:
        short = short_uuid(uuid)
        entry = _DECODERS.get(short)
        if entry is None:
            raise UnknownCharacteristicError(
                f"characteristic 0x{short.upper()} is not supported; supported: "
                + ", ".join(f"0x{s.upper()} {k}" for s, k in SUPPORTED_CHARACTERISTICS.items()),
                characteristic=short,
            )
        func = entry[1]
    if type(data) is not bytes:
        if isinstance(data, memoryview):
            data = data.tobytes()
        elif not isinstance(data, bytes | bytearray):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
    return func(data)
