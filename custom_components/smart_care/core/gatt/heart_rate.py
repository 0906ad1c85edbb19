"""Heart Rate Measurement (0x2A37), pure.

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from dataclasses import dataclass
import struct
from typing import Any, Final

from ..clinical.vitals import Vital, VitalSample
from .base import DecodeError, Decoder, Reading, fast_new
from .const import HEART_RATE_MEASUREMENT


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
            **Reading.as_dict(self),
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


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_HEART_RATE: Final = fast_new(HeartRateReading)


_HR_LABEL: Final = "heart_rate (0x2A37)"
_SENSOR_CONTACT: Final = ("not_supported", "not_supported", "not_detected", "detected")
_RR_STRUCTS: dict[int, struct.Struct] = {}


def _hr_error(field: str, detail: str) -> DecodeError:
    return DecodeError(
        f"{_HR_LABEL}: {field}: {detail}", characteristic=HEART_RATE_MEASUREMENT, field=field
    )


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
        characteristic=HEART_RATE_MEASUREMENT,
        kind="heart_rate",
        heart_rate=heart_rate,
        sensor_contact=_SENSOR_CONTACT[(flags >> 1) & 0x3],
        energy_expended=energy,
        rr_intervals=rr,
    )


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    HEART_RATE_MEASUREMENT: ("heart_rate", _decode_heart_rate),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset({"no_sensor_contact"})
