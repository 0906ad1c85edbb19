"""IEEE 11073-20601 SFLOAT/FLOAT: hand-checked values, every special, exhaustive SFLOAT.

Reference: IEEE 11073-20601 Annex F.8 (FLOAT-Type / SFLOAT-Type), as used by every Bluetooth
health profile (GSS §2.x "medfloat16"/"medfloat32"). value = mantissa * 10**exponent with
two's-complement exponent and mantissa and NO bias; bluetooth-sig 0.6.0 biases the exponent
and reads 0x008A (138 mmHg) as 1.38e-06.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.smart_care.core.gatt.ieee11073 import (
    FLOAT_SPECIALS,
    SFLOAT_SPECIALS,
    Special,
    decode_float,
    decode_sfloat,
    float_special,
    sfloat_special,
)


def reference(mantissa: int, exponent: int) -> float:
    """Exact decimal mantissa x 10**exponent, rounded once to the nearest float."""
    return float(Decimal(mantissa).scaleb(exponent))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0x0000, 0.0),
        (0x0078, 120.0),  # exp 0, mantissa 120
        (0x008A, 138.0),  # exp 0, mantissa 138 (bluetooth-sig 0.6.0: 1.38e-06)
        (0xF0BD, 18.9),  # exp 0xF = -1, mantissa 0x0BD = 189
        (0xF16D, 36.5),  # exp -1, mantissa 0x16D = 365 -> 36.5 exactly, not 36.499999
        (0xEE4A, -4.38),  # exp 0xE = -2, mantissa 0xE4A = 3658 - 4096 = -438
        (0x0FFF, -1.0),  # exp 0, mantissa 0xFFF = -1
        (0xFF9C, -10.0),  # exp -1, mantissa 0xF9C = 3996 - 4096 = -100 -> -10.0
        (0x07FD, 2045.0),  # largest ordinary mantissa
        (0x0803, -2045.0),  # 0x803 = 2051 - 4096
        (0x7001, 10_000_000.0),  # exp 7, mantissa 1
        (0x8001, 1e-08),  # exp 8 - 16 = -8, mantissa 1
        (0xB05F, 0.00095),  # exp 0xB = -5, mantissa 95: 95 mg/dL as kg/L
        (0xC037, 0.0055),  # exp -4, mantissa 55: 5.5 mmol/L as mol/L
        (0xA005, 5e-06),  # exp -6, mantissa 5
        (0x1001, 10.0),  # exp 1, mantissa 1
    ],
)
def test_sfloat_hand_checked(raw: int, expected: float) -> None:
    assert decode_sfloat(raw) == expected


@pytest.mark.parametrize(
    ("raw", "special"),
    [
        (0x07FF, Special.NAN),
        (0x0800, Special.NRES),
        (0x07FE, Special.POSITIVE_INFINITY),
        (0x0802, Special.NEGATIVE_INFINITY),
        (0x0801, Special.RESERVED),
    ],
)
def test_sfloat_specials_are_none(raw: int, special: Special) -> None:
    assert decode_sfloat(raw) is None
    assert sfloat_special(raw) is special
    assert SFLOAT_SPECIALS[raw] is special
    # Special only with exponent 0: with another exponent the pattern is a number.
    for exponent in range(1, 16):
        assert decode_sfloat(exponent << 12 | raw) is not None
        assert sfloat_special(exponent << 12 | raw) is None


def test_sfloat_mantissa_0x7ff_with_exponent_is_a_number() -> None:
    """0xF7FF = 2047 x 10^-1 (Nordic's and sputnikdev's parsers agree), not NaN."""
    assert decode_sfloat(0xF7FF) == 204.7
    assert decode_sfloat(0x17FF) == 20470.0
    assert decode_sfloat(0xF800) == -204.8  # mantissa -2048, exponent -1
    assert decode_sfloat(0xF7FE) == 204.6


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0xFF00016D, 36.5),  # bytes 6D 01 00 FF: mantissa 365, exp -1
        (0xFE000EB0, 37.6),  # bytes B0 0E 00 FE: mantissa 3760, exp -2 (Nordic HT capture)
        (0xFF0003DA, 98.6),  # mantissa 986, exp -1 (°F)
        (0x00000000, 0.0),
        (0x00FFFFFF, -1.0),  # mantissa 0xFFFFFF = -1
        (0x007FFFFD, 8388605.0),  # largest ordinary mantissa
        (0x00800003, -8388605.0),  # 0x800003 - 2**24
        (0x7F000001, 1e127),  # exp 127
        (0x80000001, 1e-128),  # exp 0x80 = -128
        (0xE900007B, 1.23e-21),  # exp 0xE9 = -23, mantissa 123 (string-parsed branch)
        (0xEA00007B, 1.23e-20),  # exp -22: the last exact power-of-ten division
        (0x02000005, 500.0),  # exp 2, mantissa 5
    ],
)
def test_float_hand_checked(raw: int, expected: float) -> None:
    assert decode_float(raw) == expected


@pytest.mark.parametrize(
    ("mantissa", "special"),
    [
        (0x7FFFFF, Special.NAN),
        (0x800000, Special.NRES),
        (0x7FFFFE, Special.POSITIVE_INFINITY),
        (0x800002, Special.NEGATIVE_INFINITY),
        (0x800001, Special.RESERVED),
    ],
)
def test_float_specials_are_none(mantissa: int, special: Special) -> None:
    assert decode_float(mantissa) is None
    assert float_special(mantissa) is special
    assert FLOAT_SPECIALS[mantissa] is special
    for exponent in (0x01, 0x7F, 0x80, 0xFF):
        assert decode_float(exponent << 24 | mantissa) is not None
        assert float_special(exponent << 24 | mantissa) is None


def test_ordinary_values_are_not_special() -> None:
    assert sfloat_special(0x0078) is None
    assert float_special(0xFF00016D) is None


def test_sfloat_exhaustive_against_decimal_reference() -> None:
    """All 65536 SFLOAT bit patterns: None for specials, else the rounded exact decimal."""
    for raw in range(0x10000):
        mantissa = raw & 0x0FFF
        value = decode_sfloat(raw)
        if raw in SFLOAT_SPECIALS:
            assert value is None, hex(raw)
            continue
        if mantissa >= 0x0800:
            mantissa -= 0x1000
        exponent = raw >> 12
        if exponent >= 8:
            exponent -= 16
        assert value == reference(mantissa, exponent), hex(raw)


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_float_matches_decimal_reference(raw: int) -> None:
    mantissa = raw & 0xFFFFFF
    value = decode_float(raw)
    if raw in FLOAT_SPECIALS:
        assert value is None
        return
    if mantissa >= 0x800000:
        mantissa -= 0x1000000
    exponent = raw >> 24
    if exponent >= 128:
        exponent -= 256
    assert value == reference(mantissa, exponent)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(min_value=-2045, max_value=2045),
    st.integers(min_value=-8, max_value=7),
)
def test_sfloat_prints_as_its_decimal(mantissa: int, exponent: int) -> None:
    """Precision implied by the exponent: repr gives back the sent decimal digits."""
    raw = (exponent & 0xF) << 12 | (mantissa & 0x0FFF)
    value = decode_sfloat(raw)
    assert value is not None
    assert Decimal(repr(value)) == Decimal(mantissa).scaleb(exponent)
