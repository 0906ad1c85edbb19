"""One dispatch table from characteristic UUID to its profile's decoder (pure).

Notes: docs/modules.md (core/gatt/parser.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .base import Decoder, Reading, UnknownCharacteristicError
from .blood_pressure import DECODERS as BLOOD_PRESSURE, STATUS_FLAGS as BLOOD_PRESSURE_FLAGS
from .common import DECODERS as COMMON, STATUS_FLAGS as COMMON_FLAGS
from .const import BASE_UUID_SUFFIX
from .glucose import DECODERS as GLUCOSE, STATUS_FLAGS as GLUCOSE_FLAGS
from .heart_rate import DECODERS as HEART_RATE, STATUS_FLAGS as HEART_RATE_FLAGS
from .pulse_oximeter import DECODERS as PULSE_OXIMETER, STATUS_FLAGS as PULSE_OXIMETER_FLAGS
from .racp import DECODERS as RACP, STATUS_FLAGS as RACP_FLAGS
from .thermometer import DECODERS as THERMOMETER, STATUS_FLAGS as THERMOMETER_FLAGS
from .weight import DECODERS as WEIGHT, STATUS_FLAGS as WEIGHT_FLAGS

# Every profile module brings its own table; the order is the one error messages list.
_PROFILES: Final = (
    (BLOOD_PRESSURE, BLOOD_PRESSURE_FLAGS),
    (THERMOMETER, THERMOMETER_FLAGS),
    (HEART_RATE, HEART_RATE_FLAGS),
    (WEIGHT, WEIGHT_FLAGS),
    (GLUCOSE, GLUCOSE_FLAGS),
    (PULSE_OXIMETER, PULSE_OXIMETER_FLAGS),
    (RACP, RACP_FLAGS),
    (COMMON, COMMON_FLAGS),
)
_DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    short: entry for decoders, _ in _PROFILES for short, entry in decoders.items()
}

#: Short UUID -> reading kind, for every characteristic ``decode`` accepts.
SUPPORTED_CHARACTERISTICS: Final[Mapping[str, str]] = MappingProxyType(
    {short: kind for short, (kind, _) in _DECODERS.items()}
)

#: Every name ``Reading.status_flags()`` can return.
STATUS_FLAG_NAMES: Final[frozenset[str]] = frozenset().union(*(flags for _, flags in _PROFILES))

# Every common spelling maps straight to its decoder: no normalisation on the hot path.
_DISPATCH: Final[dict[str, Decoder]] = {}
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
