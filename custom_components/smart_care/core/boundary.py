"""The one boundary for untrusted input: parse with limits, then name what is wrong.

Notes: docs/modules.md (core/boundary.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
import json
import math
import re
from typing import Any, Final

__all__ = [
    "DEFAULT_LIMITS",
    "BoundaryError",
    "Limits",
    "check_text",
    "field_path",
    "parse_json",
    "safe_text",
]


class BoundaryError(ValueError):
    """Input refused at the boundary; ``code``, ``field`` and ``message`` are safe to show."""

    def __init__(self, code: str, field: str | None = None, message: str = "") -> None:
        """Carry only our own words: never a byte of the refused input."""
        super().__init__(code if field is None else f"{code} ({field})")
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    """What a document may hold."""

    max_bytes: int = 64 * 1024
    max_depth: int = 12
    max_string: int = 8000
    max_number_chars: int = 24
    max_abs: float = 1e9
    max_keys: int = 200


DEFAULT_LIMITS: Final = Limits()

# Lone surrogates only come from \\u escapes (the UTF-8 decoder already refuses encoded
# ones); C0 controls other than tab, LF and CR have no business in clinic text.
_BAD_CHARS: Final = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS: Final = re.compile(r"[\[\]{}]")


def safe_text(value: object, max_len: int = 64) -> str:
    """A printable ASCII form of an untrusted value for an audit row (escaped, cut)."""
    text = value if isinstance(value, str) else repr(value)
    # ascii() escapes non-ASCII, controls and lone surrogates alike; never raises.
    return ascii(text)[1:-1][:max_len]


def field_path(path: Iterable[object], known: Collection[str] = ()) -> str | None:
    """A dotted field name built only from names in ``known`` (others become ``?``)."""
    parts = [
        str(p) if (isinstance(p, int) and not isinstance(p, bool)) or p in known else "?"
        for p in path
    ]
    return ".".join(parts) or None


def check_text(value: str, field: str, max_len: int) -> str:
    """Refuse a string that is too long or holds lone surrogates or control characters."""
    if len(value) > max_len:
        raise BoundaryError("string_too_long", field, f"at most {max_len} characters")
    if _BAD_CHARS.search(value):
        raise BoundaryError("invalid_text", field, "invalid or control characters")
    return value


def _depth(text: str, limit: int) -> None:
    # Linear pre-scan: json's C scanner recurses and would hit RecursionError first.
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                raise BoundaryError("too_deep", None, f"at most {limit} levels of nesting")
        else:
            depth -= 1


class _Parser:
    def __init__(self, limits: Limits, known: Collection[str]) -> None:
        self.limits = limits
        self.known = known
        self.keys = 0

    def number_int(self, text: str) -> int:
        if len(text) > self.limits.max_number_chars:
            raise BoundaryError("number_too_large", None, "a number has too many digits")
        value = int(text)
        if abs(value) > self.limits.max_abs:
            raise BoundaryError("number_too_large", None, "a number is out of range")
        return value

    def number_float(self, text: str) -> float:
        if len(text) > self.limits.max_number_chars:
            raise BoundaryError("number_too_large", None, "a number has too many digits")
        value = float(text)
        if not math.isfinite(value) or abs(value) > self.limits.max_abs:
            raise BoundaryError("number_too_large", None, "a number is out of range")
        return value

    @staticmethod
    def constant(_: str) -> Any:
        raise BoundaryError("invalid_number", None, "NaN and Infinity are not JSON")

    def pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        self.keys += len(items)
        if self.keys > self.limits.max_keys:
            raise BoundaryError("too_many_keys", None, f"at most {self.limits.max_keys} keys")
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                name = key if key in self.known else None
                raise BoundaryError("duplicate_key", name, "a key appears more than once")
            out[key] = value
        return out

    def strings(self, value: Any, path: tuple[object, ...]) -> None:
        if isinstance(value, str):
            try:
                check_text(value, "", self.limits.max_string)
            except BoundaryError as err:
                raise BoundaryError(err.code, field_path(path, self.known), err.message) from None
        elif isinstance(value, dict):
            for key, item in value.items():
                if len(key) > 64 or _BAD_CHARS.search(key):
                    raise BoundaryError(
                        "invalid_key", field_path(path, self.known), "a key is not a valid name"
                    )
                self.strings(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.strings(item, (*path, index))


def parse_json(raw: bytes, limits: Limits = DEFAULT_LIMITS, known: Collection[str] = ()) -> Any:
    """Decode and parse ``raw`` within ``limits``; raise ``BoundaryError`` otherwise.

    ``known`` lists the field names a refusal may name (the caller's schema keys).
    """
    if len(raw) > limits.max_bytes:
        raise BoundaryError("too_large", None, f"at most {limits.max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BoundaryError("invalid_encoding", None, f"not UTF-8 at byte {err.start}") from None
    _depth(text, limits.max_depth)
    parser = _Parser(limits, known)
    try:
        doc = json.loads(
            text,
            object_pairs_hook=parser.pairs,
            parse_int=parser.number_int,
            parse_float=parser.number_float,
            parse_constant=parser.constant,
        )
    except BoundaryError:
        raise
    except json.JSONDecodeError as err:
        raise BoundaryError("malformed_json", None, f"at character {err.pos}") from None
    except (ValueError, RecursionError, OverflowError):
        raise BoundaryError("malformed_json", None, "not a JSON document") from None
    parser.strings(doc, ())
    return doc
