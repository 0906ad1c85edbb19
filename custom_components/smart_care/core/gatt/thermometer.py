"""Health thermometer: temperature (0x2A1C) and intermediate temperature (0x2A1E), pure.

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..clinical.vitals import Vital, VitalSample, fahrenheit_to_celsius
from .base import DATE_TIME_FMT, Decoder, Layout, Reading, fast_new, read_date_time
from .const import INTERMEDIATE_TEMPERATURE, TEMPERATURE_MEASUREMENT
from .ieee11073 import decode_float
from .values import clean, enum_name, iso

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
            **Reading.as_dict(self),
            "temperature": self.temperature,
            "unit": self.unit,
            "timestamp": iso(self.timestamp),
            "temperature_type": self.temperature_type,
        }

    def vitals(self) -> list[VitalSample]:
        """Body temperature in °C (final measurements only)."""
        if self.kind != "temperature" or self.temperature is None:
            return []
        value = self.temperature
        if self.unit == "°F":
            value = clean(fahrenheit_to_celsius(value))
        return [VitalSample(Vital.TEMPERATURE, value)]


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_TEMPERATURE: Final = fast_new(TemperatureReading)


_TEMP_FIELDS: Final = (
    ("temperature", "I", 0),
    ("timestamp", DATE_TIME_FMT, 0x02),
    ("temperature_type", "B", 0x04),
)
_TEMP = Layout(TEMPERATURE_MEASUREMENT, "temperature", "B", _TEMP_FIELDS)
_ITEMP = Layout(INTERMEDIATE_TEMPERATURE, "intermediate_temperature", "B", _TEMP_FIELDS)


def _temperature(lay: Layout, data: bytes) -> Reading:
    flags, v = lay.unpack(data)
    timestamp = None
    temperature_type = None
    i = 2
    if flags & 0x02:
        timestamp = read_date_time(lay, "timestamp", v, i)
        i += 6
    if flags & 0x04:
        temperature_type = enum_name(_TEMPERATURE_TYPES, v[i])
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


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    TEMPERATURE_MEASUREMENT: ("temperature", _decode_temperature),
    INTERMEDIATE_TEMPERATURE: ("intermediate_temperature", _decode_intermediate_temperature),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset(())
