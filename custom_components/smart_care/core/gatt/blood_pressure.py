"""Blood pressure: measurement (0x2A35) and intermediate cuff pressure (0x2A36), pure.

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ..clinical.vitals import KPA_TO_MMHG, Vital, VitalSample
from .base import DATE_TIME_FMT, Decoder, Layout, Reading, fast_new, read_date_time
from .const import BLOOD_PRESSURE_MEASUREMENT, INTERMEDIATE_CUFF_PRESSURE
from .ieee11073 import decode_sfloat
from .values import as_list, clean, iso

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
    return value if unit == "mmHg" else clean(value * KPA_TO_MMHG)


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
        return _cuff_dict(
            self,
            {
                "systolic": self.systolic,
                "diastolic": self.diastolic,
                "mean_arterial_pressure": self.mean_arterial_pressure,
            },
        )

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
        return _cuff_dict(self, {"cuff_pressure": self.cuff_pressure})

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return _bp_problems(self.measurement_status)


def _cuff_dict(
    reading: BloodPressureReading | IntermediateCuffPressureReading,
    pressures: dict[str, float | None],
) -> dict[str, Any]:
    """``as_dict`` of both cuff readings: the same fields around their own pressures."""
    return {
        **Reading.as_dict(reading),
        **pressures,
        "unit": reading.unit,
        "timestamp": iso(reading.timestamp),
        "pulse_rate": reading.pulse_rate,
        "pulse_rate_unit": "bpm",
        "user_id": reading.user_id,
        "measurement_status": as_list(reading.measurement_status),
    }


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_BP: Final = fast_new(BloodPressureReading)
_NEW_ICP: Final = fast_new(IntermediateCuffPressureReading)


_BP_FIELDS: Final = (
    ("systolic", "H", 0),
    ("diastolic", "H", 0),
    ("mean_arterial_pressure", "H", 0),
    ("timestamp", DATE_TIME_FMT, 0x02),
    ("pulse_rate", "H", 0x04),
    ("user_id", "B", 0x08),
    ("measurement_status", "H", 0x10),
)
_BP = Layout(BLOOD_PRESSURE_MEASUREMENT, "blood_pressure", "B", _BP_FIELDS)
_ICP = Layout(
    INTERMEDIATE_CUFF_PRESSURE,
    "intermediate_cuff_pressure",
    "B",
    (("cuff_pressure", "H", 0),) + _BP_FIELDS[1:],
)


def _bp_common(
    lay: Layout, flags: int, v: tuple[Any, ...]
) -> tuple[datetime | None, float | None, int | None, tuple[str, ...] | None]:
    i = 4
    timestamp = pulse = user = status = None
    if flags & 0x02:
        timestamp = read_date_time(lay, "timestamp", v, i)
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
        characteristic=BLOOD_PRESSURE_MEASUREMENT,
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
        characteristic=INTERMEDIATE_CUFF_PRESSURE,
        kind="intermediate_cuff_pressure",
        unit="kPa" if flags & 0x01 else "mmHg",
        cuff_pressure=decode_sfloat(v[1]),
        timestamp=timestamp,
        pulse_rate=pulse,
        user_id=user,
        measurement_status=status,
    )


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    BLOOD_PRESSURE_MEASUREMENT: ("blood_pressure", _decode_blood_pressure),
    INTERMEDIATE_CUFF_PRESSURE: ("intermediate_cuff_pressure", _decode_intermediate_cuff_pressure),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset(
    {
        "body_movement",
        "cuff_too_loose",
        "irregular_pulse",
        "pulse_rate_out_of_range",
        "improper_position",
    }
)
