"""Hostile webhook bodies for the fuzz test and ``benchmarks/bench_fuzz.py``.

Property-based (hypothesis, derandomized): plausible requests with wrong types and
values, JSON nested thousands deep, numbers with hundreds of digits, negative, NaN and
Infinity, Unicode edge cases (lone surrogate escapes, UTF-8-encoded surrogates, overlong
sequences, invalid bytes, BOM, NUL and other controls), duplicate keys, and non-objects.
Every body is raw bytes, signed by the caller.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.smart_care.clinic.webhook import REQUEST_TYPES

LIMIT_LEVELS = (
    "warning_low",
    "urgent_low",
    "critical_low",
    "warning_high",
    "urgent_high",
    "critical_high",
)

FIELDS = ["title", "text", "advice_id", "author", "thresholds", "alert_id", "days", "identified"]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Raw number tokens json.dumps never writes.
NUMBER_TOKENS = st.one_of(
    st.integers(1, 600).map(lambda n: "9" * n),
    st.integers(1, 600).map(lambda n: "-" + "9" * n),
    st.integers(-400, 400).map(lambda e: f"1e{e}"),
    st.sampled_from(
        ["NaN", "Infinity", "-Infinity", "1e999", "-0", "0.0000001", "1E+2", "1.5e308"]
    ),
)
# Raw string contents: escapes and bytes json.dumps never writes.
STRING_PIECES = st.one_of(
    st.sampled_from(
        [
            b"\\ud800",
            b"\\udfff",
            b"\\udbff\\udbff",
            b"\\ud83d\\ude00",
            b"\\u0000",
            b"\\u0007",
            b"\xed\xa0\x80",  # UTF-8-encoded surrogate
            b"\xc0\xaf",  # overlong "/"
            b"\xe0\x80\xaf",  # overlong, three bytes
            b"\xf0\x80\x80\xaf",  # overlong, four bytes
            b"\xf4\x90\x80\x80",  # beyond U+10FFFF
            b"\xff",
            b"\xfe\xff",
            b"\xef\xbb\xbf",  # BOM
            b"\x00",
            b"\x1b[31m",
            "\u202e".encode(),
            "🩺".encode(),
            "糖尿病".encode(),
        ]
    ),
    st.text(max_size=12).map(lambda t: json.dumps(t)[1:-1].encode()),
)


def _raw_string(pieces: list[bytes]) -> bytes:
    return b'"' + b"".join(pieces) + b'"'


def strategies(pseudonym: str, alert_id: str) -> st.SearchStrategy[bytes]:
    """All body kinds, as raw bytes."""
    person = st.sampled_from([pseudonym, "sc-" + "a" * 26, "", "Grandma"]) | st.text(max_size=30)
    limits = st.dictionaries(
        st.sampled_from(["systolic_bp", "spo2", "pulse", "nope"]),
        st.dictionaries(
            st.sampled_from([*LIMIT_LEVELS, "bogus"]),
            st.none() | st.floats() | st.integers() | st.booleans() | st.text(max_size=5),
            max_size=3,
        ),
        max_size=3,
    )
    value = JSON_VALUES | st.sampled_from([alert_id, "x" * 9000, 0, 90, 91, -1, True]) | limits
    structured = st.fixed_dictionaries(
        {"type": st.sampled_from([*REQUEST_TYPES, "nope"]) | JSON_VALUES, "person": person},
        optional=dict.fromkeys(FIELDS, value),
    )
    words = st.text(min_size=1, max_size=60)
    plausible = st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("advice"), "person": person, "title": words, "text": words},
            optional={"advice_id": st.from_regex(r"\A[A-Za-z0-9._:-]{1,64}\Z"), "author": words},
        ),
        st.fixed_dictionaries(
            {"type": st.just("acknowledge"), "person": person},
            optional={"alert_id": st.sampled_from([alert_id, "nope"]) | words},
        ),
        st.fixed_dictionaries(
            {"type": st.just("summary"), "person": person},
            optional={"days": st.integers(-5, 100) | SCALARS, "identified": SCALARS},
        ),
        st.fixed_dictionaries(
            {"type": st.just("thresholds"), "person": person, "thresholds": value}
        ),
    )
    dumped = st.tuples(plausible | structured | JSON_VALUES, st.booleans()).map(
        lambda doc_ascii: json.dumps(doc_ascii[0], ensure_ascii=doc_ascii[1]).encode()
    )
    p = pseudonym.encode()
    deep = st.tuples(
        st.integers(1, 4000),
        st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"title":[', b"]}")]),
    ).map(
        lambda d: b'{"type":"advice","person":"'
        + p
        + b'","text":'
        + d[1][0] * d[0]
        + b"1"
        + d[1][1] * d[0]
        + b"}"
    )
    numbers = st.tuples(
        st.sampled_from(LIMIT_LEVELS), NUMBER_TOKENS, st.sampled_from(["thresholds", "summary"])
    ).map(
        lambda n: (
            f'{{"type":"thresholds","person":"{pseudonym}","thresholds":{{"systolic_bp":{{"{n[0]}":{n[1]}}}}}}}'
            if n[2] == "thresholds"
            else f'{{"type":"summary","person":"{pseudonym}","days":{n[1]}}}'
        ).encode()
    )
    unicode_ = st.tuples(
        st.lists(STRING_PIECES, min_size=1, max_size=4),
        st.sampled_from(["title", "person", "key", "type", "text"]),
    ).map(
        lambda u: (
            b'{"type":"advice","person":"'
            + p
            + b'",'
            + _raw_string(u[0])
            + b':"x","title":"t","text":"x"}'
            if u[1] == "key"
            else b'{"type":"advice","person":"'
            + p
            + b'","title":"t","text":"x",'
            + b'"'
            + u[1].encode()
            + b'":'
            + _raw_string(u[0])
            + b"}"
        )
    )
    duplicates = st.tuples(st.sampled_from(["type", "person", "title", "text"]), SCALARS).map(
        lambda d: (
            b'{"type":"advice","person":"'
            + p
            + b'","title":"t","text":"x",'
            + json.dumps(d[0]).encode()
            + b":"
            + json.dumps(d[1]).encode()
            + b"}"
        )
    )
    broken = st.binary(max_size=64) | st.sampled_from(
        [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b'{"type": "advice"' * 3, b"{}" * 2]
    )
    return st.one_of(dumped, dumped, deep, numbers, numbers, unicode_, unicode_, duplicates, broken)


def hostile_bodies(pseudonym: str, alert_id: str, count: int) -> list[bytes]:
    """``count`` distinct bodies (derandomized: the same list every run)."""
    drawn: dict[bytes, None] = {}

    @settings(
        max_examples=count + count // 10,  # duplicates are dropped
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategies(pseudonym, alert_id))
    def collect(body: bytes) -> None:
        if len(drawn) < count:
            drawn[body] = None

    collect()
    return list(drawn)


def kinds(bodies: list[bytes]) -> dict[str, Any]:
    """Rough census of what was generated (printed by the test and the benchmark)."""
    census = {"deep": 0, "odd_number": 0, "surrogate_or_bad_utf8": 0}
    for body in bodies:
        census["deep"] += body.count(b"[") + body.count(b"{") > 100
        census["odd_number"] += bool(_ODD_NUMBER.search(body))
        census["surrogate_or_bad_utf8"] += b"\\ud" in body or _bad_utf8(body)
    return census


_ODD_NUMBER = re.compile(rb"9{25}|NaN|Infinity|e-?[0-9]{3}")


def _bad_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
