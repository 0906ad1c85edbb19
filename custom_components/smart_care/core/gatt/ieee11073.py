"""IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) medical number decoding (docs/modules.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "FLOAT_SPECIALS",
    "SFLOAT_SPECIALS",
    "Special",
    "decode_float",
    "decode_sfloat",
    "float_special",
    "sfloat_special",
]


class Special(StrEnum):
    """IEEE 11073-20601 special values."""

    NAN = "nan"
    NRES = "nres"  # not at this resolution
    POSITIVE_INFINITY = "+inf"
    NEGATIVE_INFINITY = "-inf"
    RESERVED = "reserved"


# Keyed by the whole raw value: the specials carry exponent 0.
SFLOAT_SPECIALS: Final[dict[int, Special]] = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}
FLOAT_SPECIALS: Final[dict[int, Special]] = {
    0x7FFFFF: Special.NAN,
    0x800000: Special.NRES,
    0x7FFFFE: Special.POSITIVE_INFINITY,
    0x800002: Special.NEGATIVE_INFINITY,
    0x800001: Special.RESERVED,
}

_POW10: Final[tuple[int, ...]] = tuple(10**k for k in range(23))


def decode_sfloat(raw: int) -> float | None:
    """Decode a 16-bit SFLOAT (0..0xFFFF); ``None`` for special values."""
    if 0x07FE <= raw <= 0x0802:
        return None
    mantissa = raw & 0x0FFF
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    exponent = raw >> 12
    if exponent < 8:
        return float(mantissa * _POW10[exponent])
    return mantissa / _POW10[16 - exponent]


def decode_float(raw: int) -> float | None:
    """Decode a 32-bit FLOAT (0..0xFFFFFFFF); ``None`` for special values."""
    if 0x7FFFFE <= raw <= 0x800002:
        return None
    mantissa = raw & 0xFFFFFF
    if mantissa >= 0x800000:
        mantissa -= 0x1000000
    exponent = raw >> 24
    if exponent < 128:
        # Exact integer product; int -> float conversion rounds correctly.
        return float(mantissa * 10**exponent)
    scale = 256 - exponent
    if scale <= 22:
        return mantissa / _POW10[scale]
    return float(f"{mantissa}e-{scale}")


def sfloat_special(raw: int) -> Special | None:
    """Which special value a raw SFLOAT is, or ``None`` for an ordinary number."""
    return SFLOAT_SPECIALS.get(raw)


def float_special(raw: int) -> Special | None:
    """Which special value a raw FLOAT is, or ``None`` for an ordinary number."""
    return FLOAT_SPECIALS.get(raw)
