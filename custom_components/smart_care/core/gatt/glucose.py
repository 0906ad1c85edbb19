"""Glucose: measurement (0x2A18) and measurement context (0x2A34), pure.

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final

from ..clinical.vitals import GLUCOSE_MGDL_PER_MMOLL, Vital, VitalSample
from .base import DATE_TIME_FMT, Decoder, Layout, Reading, fast_new, read_date_time
from .const import GLUCOSE_MEASUREMENT, GLUCOSE_MEASUREMENT_CONTEXT
from .ieee11073 import decode_sfloat
from .values import as_list, bit_names, clean, enum_name, iso

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


@lru_cache(maxsize=256)
def _glucose_status(raw: int) -> tuple[str, ...]:
    # Memoised: devices repeat the same few status words; bits 12..15 are reserved.
    return bit_names(raw, _GLUCOSE_STATUS)


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
            **Reading.as_dict(self),
            "sequence_number": self.sequence_number,
            "base_time": iso(self.base_time),
            "time_offset": self.time_offset,
            "time_offset_unit": "min",
            "timestamp": iso(self.timestamp),
            "concentration": self.concentration,
            "unit": self.unit,
            "type": self.type,
            "sample_location": self.sample_location,
            "sensor_status_annunciation": as_list(self.sensor_status_annunciation),
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
        return [VitalSample(Vital.GLUCOSE, clean(mmol))]

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
            **Reading.as_dict(self),
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


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_GLUCOSE_CONTEXT: Final = fast_new(GlucoseContextReading)
_NEW_GLUCOSE: Final = fast_new(GlucoseReading)


_GLUCOSE = Layout(
    GLUCOSE_MEASUREMENT,
    "glucose",
    "B",
    (
        ("sequence_number", "H", 0),
        ("base_time", DATE_TIME_FMT, 0),
        ("time_offset", "h", 0x01),
        ("concentration", "H", 0x02),
        ("type_sample_location", "B", 0x02),
        ("sensor_status_annunciation", "H", 0x08),
    ),
)


def _decode_glucose(data: bytes) -> Reading:
    flags, v = _GLUCOSE.unpack(data)
    base_time = read_date_time(_GLUCOSE, "base_time", v, 2)
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
        characteristic=GLUCOSE_MEASUREMENT,
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


_GLUCOSE_CONTEXT = Layout(
    GLUCOSE_MEASUREMENT_CONTEXT,
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
        fields["carbohydrate_id"] = enum_name(_CARBOHYDRATE_IDS, v[i])
        fields["carbohydrate"] = decode_sfloat(v[i + 1])
        i += 2
    if flags & 0x02:
        fields["meal"] = enum_name(_MEALS, v[i])
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
        fields["medication_id"] = enum_name(_MEDICATION_IDS, v[i])
        fields["medication"] = decode_sfloat(v[i + 1])
        fields["medication_unit"] = "L" if flags & 0x20 else "kg"
        i += 2
    if flags & 0x40:
        fields["hba1c"] = decode_sfloat(v[i])
    return _NEW_GLUCOSE_CONTEXT(
        characteristic=GLUCOSE_MEASUREMENT_CONTEXT,
        kind="glucose_context",
        sequence_number=v[1],
        **fields,
    )


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    GLUCOSE_MEASUREMENT: ("glucose", _decode_glucose),
    GLUCOSE_MEASUREMENT_CONTEXT: ("glucose_context", _decode_glucose_context),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset({"control_solution", *_GLUCOSE_STATUS})
