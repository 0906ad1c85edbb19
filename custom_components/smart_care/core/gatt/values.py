"""Raw field values into what readings expose: bit and enum names, ISO text, clean floats (pure).

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of a timestamp, or ``None``."""
    return None if value is None else value.isoformat()


def as_list(value: tuple[str, ...] | None) -> list[str] | None:
    """A JSON-able list of names, or ``None``."""
    return None if value is None else list(value)


def clean(value: float) -> float:
    """A converted value without float noise."""
    # Drop float noise left by a unit conversion; 1e-9 is far below any device resolution.
    return round(value, 9)


def bit_names(raw: int, names: tuple[str, ...], first_bit: int = 0) -> tuple[str, ...]:
    """Names of the bits set in ``raw``; ``names[0]`` is bit ``first_bit``."""
    return tuple(name for i, name in enumerate(names) if raw >> (first_bit + i) & 1)


def enum_name(names: tuple[str, ...], value: int) -> str:
    """Name of an enumerated value; "reserved" past the end of ``names``."""
    return names[value] if value < len(names) else "reserved"
