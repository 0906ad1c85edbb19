"""Pulse oximeter: PLX spot-check (0x2A5E) and continuous (0x2A5F), pure.

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from ..clinical.vitals import Vital, VitalSample
from .base import DATE_TIME_FMT, Decoder, Layout, Reading, fast_new, read_date_time
from .const import PLX_CONTINUOUS_MEASUREMENT, PLX_SPOT_CHECK_MEASUREMENT
from .ieee11073 import decode_sfloat
from .values import as_list, bit_names, iso

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
    return bit_names(raw, _PLX_MEASUREMENT_STATUS, 5)


@lru_cache(maxsize=256)
def _plx_device_status(raw: int) -> tuple[str, ...]:
    # Callers pass the 16 defined bits only (bits 16..23 are reserved).
    return bit_names(raw, _PLX_DEVICE_STATUS)


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
            **Reading.as_dict(self),
            "spo2": self.spo2,
            "spo2_unit": "%",
            "pulse_rate": self.pulse_rate,
            "pulse_rate_unit": "bpm",
            "timestamp": iso(self.timestamp),
            "measurement_status": as_list(self.measurement_status),
            "device_and_sensor_status": as_list(self.device_and_sensor_status),
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
            **Reading.as_dict(self),
            "spo2": self.spo2,
            "pulse_rate": self.pulse_rate,
            "spo2_fast": self.spo2_fast,
            "pulse_rate_fast": self.pulse_rate_fast,
            "spo2_slow": self.spo2_slow,
            "pulse_rate_slow": self.pulse_rate_slow,
            "spo2_unit": "%",
            "pulse_rate_unit": "bpm",
            "measurement_status": as_list(self.measurement_status),
            "device_and_sensor_status": as_list(self.device_and_sensor_status),
            "pulse_amplitude_index": self.pulse_amplitude_index,
            "pulse_amplitude_index_unit": "%",
        }

    def vitals(self) -> list[VitalSample]:
        """SpO2 and pulse (normal averaging), unless flagged invalid, demo or test data."""
        return _plx_vitals(self.spo2, self.pulse_rate, self.measurement_status)

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return _plx_problems(self.measurement_status, self.device_and_sensor_status)


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_PLX_SPOT: Final = fast_new(PlxSpotCheckReading)
_NEW_PLX_CONT: Final = fast_new(PlxContinuousReading)


_PLX_SPOT = Layout(
    PLX_SPOT_CHECK_MEASUREMENT,
    "plx_spot_check",
    "B",
    (
        ("spo2", "H", 0),
        ("pulse_rate", "H", 0),
        ("timestamp", DATE_TIME_FMT, 0x01),
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
        sent = read_date_time(_PLX_SPOT, "timestamp", v, i)
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
        characteristic=PLX_SPOT_CHECK_MEASUREMENT,
        kind="plx_spot_check",
        spo2=decode_sfloat(v[1]),
        pulse_rate=decode_sfloat(v[2]),
        timestamp=timestamp,
        measurement_status=measurement,
        device_and_sensor_status=device,
        pulse_amplitude_index=pai,
        device_clock_set=clock_set,
    )


_PLX_CONT = Layout(
    PLX_CONTINUOUS_MEASUREMENT,
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
        characteristic=PLX_CONTINUOUS_MEASUREMENT,
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


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    PLX_SPOT_CHECK_MEASUREMENT: ("plx_spot_check", _decode_plx_spot_check),
    PLX_CONTINUOUS_MEASUREMENT: ("plx_continuous", _decode_plx_continuous),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset(
    {
        "clock_not_set",
        *_PLX_MEASUREMENT_PROBLEMS,
        *(name for name in _PLX_DEVICE_STATUS if name not in _PLX_DEVICE_INFORMATIONAL),
    }
)
