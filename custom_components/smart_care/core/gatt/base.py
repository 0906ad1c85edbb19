"""What every reading shares: the errors, ``Reading`` and the flags-driven field layout (pure).

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields as dataclass_fields
from datetime import datetime
import struct
from typing import Any, Final, TypeVar

from ..clinical.vitals import VitalSample

# --------------------------------------------------------------------------- errors


class DecodeError(ValueError):
    """A characteristic value that does not follow its specification.

    ``characteristic`` is the short UUID (e.g. ``"2a35"``) when known and ``field`` the
    offending field name when one is to blame.
    """

    def __init__(
        self, message: str, *, characteristic: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.characteristic = characteristic
        self.field = field


class UnknownCharacteristicError(DecodeError):
    """The UUID is not one of the supported characteristics (or not a UUID at all)."""


# --------------------------------------------------------------------------- readings


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One decoded characteristic value.

    ``characteristic`` is the short UUID ("2a35"), ``kind`` the reading type
    ("blood_pressure", ...). ``user_id``, ``timestamp`` and ``sequence_number`` are ``None``
    where the characteristic has no such field or the device sent none.
    """

    characteristic: str
    kind: str
    user_id: int | None = None
    timestamp: datetime | None = None
    sequence_number: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able values as the device sent them, under snake_case spec field names."""
        return {"characteristic": self.characteristic, "kind": self.kind}

    def vitals(self) -> list[VitalSample]:
        """Clinically meaningful values in canonical units (``time`` left ``None``)."""
        return []

    def status_flags(self) -> list[str]:
        """Device-reported problems with this reading (names from ``STATUS_FLAG_NAMES``)."""
        return []


# --------------------------------------------------------------------------- layouts


class Layout:
    """Field layout of one flags-driven characteristic.

    Each (flags & presence mask) gets one precompiled ``struct.Struct`` for the whole
    payload, built on first use, so a decode is one length check and one unpack.
    """

    __slots__ = ("_cache", "char", "fields", "flags_size", "kind", "label", "mask")

    def __init__(
        self,
        char: str,
        kind: str,
        flags_fmt: str,
        fields: tuple[tuple[str, str, int], ...],
    ) -> None:
        self.char = char
        self.kind = kind
        self.label = f"{kind} (0x{char.upper()})"
        self.flags_size = struct.calcsize("<" + flags_fmt)
        # (name, struct format, presence mask; 0 = mandatory)
        self.fields = (("flags", flags_fmt, 0), *fields) if flags_fmt else fields
        mask = 0
        for _, _, bit in fields:
            mask |= bit
        self.mask = mask
        self._cache: dict[int, struct.Struct] = {}

    def struct_for(self, flags: int) -> struct.Struct:
        """The compiled struct for the fields these flags make present."""
        key = flags & self.mask
        compiled = self._cache.get(key)
        if compiled is None:
            fmt = "".join(f for _, f, bit in self.fields if not bit or key & bit)
            compiled = self._cache[key] = struct.Struct("<" + fmt)
        return compiled

    def unpack(self, data: bytes) -> tuple[int, tuple[Any, ...]]:
        """Return (flags, all field values) or raise a precise length error."""
        size = len(data)
        if size < self.flags_size:
            raise self.length_error(0, data)
        if self.flags_size == 1:
            flags = data[0]
        elif self.flags_size == 2:
            flags = data[0] | data[1] << 8
        else:
            flags = 0
        compiled = self.struct_for(flags)
        if size != compiled.size:
            raise self.length_error(flags, data)
        return flags, compiled.unpack(data)

    def error(self, field: str, detail: str) -> DecodeError:
        """A ``DecodeError`` naming this characteristic and ``field``."""
        message = f"{self.label}: {field}: {detail}"
        return DecodeError(message, characteristic=self.char, field=field)

    def length_error(self, flags: int, data: bytes) -> DecodeError:
        """The error for a payload of the wrong length, naming the field at fault."""
        size = len(data)
        if size == 0:
            minimum = sum(struct.calcsize("<" + f) for _, f, bit in self.fields if not bit)
            return self.error(
                self.fields[0][0], f"empty payload, expected at least {minimum} bytes"
            )
        flags_note = f", flags 0x{flags:02X}" if self.flags_size and size >= self.flags_size else ""
        offset = 0
        last = self.fields[0][0]
        for name, fmt, bit in self.fields:
            if bit and not flags & bit:
                continue
            need = struct.calcsize("<" + fmt)
            if offset + need > size:
                return self.error(
                    name,
                    f"needs {need} bytes at offset {offset}, got {size - offset} "
                    f"(payload {size} bytes{flags_note})",
                )
            offset += need
            last = name
        return self.error(
            last,
            f"{size - offset} unexpected trailing bytes after the last field; expected "
            f"{offset} bytes, got {size}{flags_note}",
        )


def read_date_time(lay: Layout, field: str, values: tuple[Any, ...], i: int) -> datetime | None:
    """Date Time from six unpacked values at ``values[i:i+6]``; ``None`` when unknown."""
    year, month, day, hour, minute, second = values[i : i + 6]
    if year and month and day:
        if 1582 <= year <= 9999:
            try:
                return datetime(year, month, day, hour, minute, second)
            except ValueError:
                pass
    elif month <= 12 and day <= 31 and hour <= 23 and minute <= 59 and second <= 59:
        return None
    raise lay.error(
        field,
        f"invalid Date Time {year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:"
        f"{second:02d} (year 1582..9999, 0 for unknown year/month/day)",
    )


DATE_TIME_FMT: Final = "HBBBBB"  # Date Time: year, month, day, hours, minutes, seconds


Decoder = Callable[[bytes], Reading]


_R = TypeVar("_R", bound=Reading)


def fast_new(cls: type[_R]) -> Callable[..., _R]:
    """Keyword constructor equivalent to ``cls(...)``, about 3x faster.

    A frozen dataclass ``__init__`` stores every field through ``object.__setattr__``;
    calling the slot descriptors directly skips that indirection, which is most of the cost
    of a decode. The function is generated with ``exec`` the way ``dataclasses`` builds
    ``__init__``; only field names from our own classes reach the source text.
    """
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params: list[str] = []
    body: list[str] = []
    for item in dataclass_fields(cls):
        name = item.name
        namespace[f"_set_{name}"] = getattr(cls, name).__set__
        if item.default is MISSING:
            params.append(name)
        else:
            namespace[f"_default_{name}"] = item.default
            params.append(f"{name}=_default_{name}")
        body.append(f"    _set_{name}(self, {name})\n")
    source = f"def _make(*, {', '.join(params)}):\n    self = _new(_cls)\n"
    source += "".join(body) + "    return self\n"
    exec(source, namespace)
    make: Callable[..., _R] = namespace["_make"]
    return make
