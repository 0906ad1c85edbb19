"""Current Time (0x2A2B), Date Time (0x2A08) and Battery Level (0x2A19) readings, pure.

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .base import DATE_TIME_FMT, Decoder, Layout, Reading, fast_new, read_date_time
from .const import BATTERY_LEVEL, CURRENT_TIME, DATE_TIME
from .values import bit_names, iso

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
            **Reading.as_dict(self),
            "timestamp": iso(self.timestamp),
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
            **Reading.as_dict(self),
            "timestamp": iso(self.timestamp),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryReading(Reading):
    """Battery Level (0x2A19), 0..100 %."""

    level: int

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            **Reading.as_dict(self),
            "level": self.level,
            "unit": "%",
        }


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_CURRENT_TIME: Final = fast_new(CurrentTimeReading)
_NEW_DATE_TIME: Final = fast_new(DateTimeReading)
_NEW_BATTERY: Final = fast_new(BatteryReading)


_CURRENT_TIME = Layout(
    CURRENT_TIME,
    "current_time",
    "",
    (
        ("date_time", DATE_TIME_FMT, 0),
        ("day_of_week", "B", 0),
        ("fractions256", "B", 0),
        ("adjust_reason", "B", 0),
    ),
)


def _decode_current_time(data: bytes) -> Reading:
    _, v = _CURRENT_TIME.unpack(data)
    return _NEW_CURRENT_TIME(
        characteristic=CURRENT_TIME,
        kind="current_time",
        timestamp=read_date_time(_CURRENT_TIME, "date_time", v, 0),
        day_of_week=_DAYS_OF_WEEK[v[6]] if v[6] < 8 else "reserved",
        fractions256=v[7],
        adjust_reason=_ADJUST_REASON_NAMES[v[8] & 0x0F],
    )


# Bits 0-3 of Adjust Reason; bits 4-7 are reserved.
_ADJUST_REASON_NAMES: Final = tuple(bit_names(raw, _ADJUST_REASONS) for raw in range(16))

_DATE_TIME = Layout(DATE_TIME, "date_time", "", (("date_time", DATE_TIME_FMT, 0),))


def _decode_date_time(data: bytes) -> Reading:
    _, v = _DATE_TIME.unpack(data)
    return _NEW_DATE_TIME(
        characteristic=DATE_TIME,
        kind="date_time",
        timestamp=read_date_time(_DATE_TIME, "date_time", v, 0),
    )


_BATTERY = Layout(BATTERY_LEVEL, "battery", "", (("level", "B", 0),))


def _decode_battery(data: bytes) -> Reading:
    _, v = _BATTERY.unpack(data)
    level = v[0]
    if level > 100:
        raise _BATTERY.error("level", f"{level} is outside 0..100 %")
    return _NEW_BATTERY(characteristic=BATTERY_LEVEL, kind="battery", level=level)


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    CURRENT_TIME: ("current_time", _decode_current_time),
    DATE_TIME: ("date_time", _decode_date_time),
    BATTERY_LEVEL: ("battery", _decode_battery),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset(())
