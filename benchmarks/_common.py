"""Shared helpers of the Smart Care benchmarks: timing, medians, RESULT lines, the table.

Every benchmark reports machine-readable lines on stdout, each on a line of its own
(``benchmarks/run`` collects them from the output of every part):

    RESULT <name> <value> <unit> [baseline=<v>] [ratio=<r>] [target=<t>] [note=<text, last>]

``ratio`` is always "ours / baseline" in the figure's own unit, so for a rate higher is
better and for a time lower is better; ``target`` says which way (``>=20``, ``<=1.5``).

As a script:

    python benchmarks/_common.py parse-decode FILE   # bench_decode.py's table -> RESULT lines
    python benchmarks/_common.py parse-bridge FILE   # bench_bridge.py's table -> RESULT lines
    python benchmarks/_common.py table FILE          # RESULT/NOTE lines -> the final table

No Home Assistant import here: the decode benchmark's venv has no HA (nor pytest: the
HA benchmarks' autouse fixtures below are defined only where pytest imports).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
import logging
import math
import os
from pathlib import Path
import re
import statistics
import sys
import time

ROOT = Path(__file__).resolve().parents[1]

# Smaller counts for a smoke run (`benchmarks/run --quick`): figures are then indicative only.
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def scaled(full: int, quick: int) -> int:
    """``full`` normally, ``quick`` under ``--quick``."""
    return quick if QUICK else full


# --- statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (pos - low))


def median(values: Iterable[float]) -> float:
    """Median of ``values`` (NaN when empty)."""
    data = list(values)
    return float(statistics.median(data)) if data else math.nan


def geomean(values: Iterable[float]) -> float:
    """Geometric mean of positive values."""
    data = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in data) / len(data)) if data else math.nan


def ns_to_ms(values: Iterable[int]) -> list[float]:
    """Nanoseconds (perf_counter_ns differences) to milliseconds."""
    return [v / 1e6 for v in values]


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``; perf_counter based."""

    def __init__(self) -> None:
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


# --- RESULT lines -----------------------------------------------------------------------------


def _fmt(value: float) -> str:
    if isinstance(value, int) or (
        math.isfinite(value) and value == int(value) and abs(value) >= 1e3
    ):
        return str(int(value))
    return f"{value:.6g}"


def emit(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    ratio: float | None = None,
    target: str | None = None,
    note: str | None = None,
) -> str:
    """Print one RESULT line; return it."""
    line = emit_line(name, value, unit, baseline=baseline, ratio=ratio, target=target, note=note)
    # A leading newline: pytest may have printed a progress marker on the current line.
    print("\n" + line, flush=True)
    return line


def note(text: str) -> None:
    """A NOTE line: shown under the table (e.g. "bridge: not available yet")."""
    print(f"\nNOTE {text}", flush=True)


# --- bench_decode.py output -> RESULT lines ------------------------------------------------

_DECODE_ROW = re.compile(
    r"^(?P<char>[0-9a-f]{4})\s+(?P<kind>\w+)\s+(?P<n>\d+)\s+(?P<ours>[\d,]+)\s+"
    r"(?P<theirs>[\d,]+|-)\s+(?P<ratio>[\d.]+x|-)\s*$"
)
_EXACT = re.compile(r"^exact: ours (\d+)/(\d+), bluetooth-sig (\d+)/(\d+)")


def parse_decode(text: str) -> list[str]:
    """RESULT lines from bench_decode.py's printed table (it prints no RESULT lines itself)."""
    lines: list[str] = []
    ratios: list[float] = []
    for raw in text.splitlines():
        if match := _DECODE_ROW.match(raw.strip()):
            ours = float(match["ours"].replace(",", ""))
            if match["theirs"] == "-":
                lines.append(
                    emit_line(f"decode.{match['char']}_{match['kind']}", ours, "decodes/s")
                )
                continue
            theirs = float(match["theirs"].replace(",", ""))
            ratio = float(match["ratio"].rstrip("x"))
            ratios.append(ratio)
            lines.append(
                emit_line(
                    f"decode.{match['char']}_{match['kind']}",
                    ours,
                    "decodes/s",
                    baseline=theirs,
                    ratio=ratio,
                    target=">=20",
                )
            )
        elif match := _EXACT.match(raw.strip()):
            lines.append(
                emit_line(
                    "decode.correct_vectors",
                    float(match[1]),
                    f"of_{match[2]}",
                    baseline=float(match[3]),
                    note="baseline = bluetooth-sig exact on the same hand-checked vectors",
                )
            )
    if ratios:
        lines.append(
            emit_line(
                "decode.ratio_min", min(ratios), "x", target=">=20", note="worst characteristic"
            )
        )
        lines.append(emit_line("decode.ratio_geomean", geomean(ratios), "x", target=">=20"))
    return lines


def emit_line(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    ratio: float | None = None,
    target: str | None = None,
    note: str | None = None,
) -> str:
    """A RESULT line as text (not printed)."""
    parts = ["RESULT", name, _fmt(value), unit]
    if baseline is not None:
        parts.append(f"baseline={_fmt(baseline)}")
    if ratio is None and baseline:
        ratio = value / baseline
    if ratio is not None:
        parts.append(f"ratio={ratio:.3g}")
    if target is not None:
        parts.append(f"target={target}")
    if note:
        parts.append("note=" + " ".join(note.split()))  # always last: it may hold spaces
    return " ".join(parts)


# --- bench_bridge.py output -> RESULT lines (until it prints its own) --------------------

_BRIDGE_ROW = re.compile(
    r"^(?P<label>\S.*?)\s+(?P<requests>\d+)\s+(?P<seconds>[\d.]+)\s+(?P<rate>[\d,.]+)$"
)


def parse_bridge(text: str) -> list[str]:
    """RESULT lines from bench_bridge.py's table: batched vs one request per reading."""
    rows: dict[str, tuple[int, float, float]] = {}
    lines: list[str] = []
    for raw in text.splitlines():
        if (match := _BRIDGE_ROW.match(raw.strip())) and not raw.startswith("mode"):
            rows[match["label"]] = (
                int(match["requests"]),
                float(match["seconds"]),
                float(match["rate"].replace(",", "")),
            )
        elif raw.startswith("MISMATCH"):
            lines.append(f"NOTE bridge: {raw.strip()}")
    batched = next((v for k, v in rows.items() if k.startswith("batched")), None)
    single = next((v for k, v in rows.items() if k.startswith("one request")), None)
    if batched is not None:
        lines.insert(
            0,
            emit_line(
                "bridge.drain_batched",
                batched[2],
                "readings/s",
                baseline=single[2] if single else None,
                note=f"{batched[0]} FHIR transaction bundles to a local FHIR server; "
                "baseline = the same code, one request per reading",
            ),
        )
    return lines


# --- synthetic history (8 readings a day, 13 values) -----------------------------------------

READINGS_PER_DAY = 8
# (hour, minute, kind, device) of each daily reading; values come from daily_values().
DAILY_SLOTS = (
    (7, 0, "blood_pressure", "cuff"),
    (7, 10, "weight", "scale"),
    (7, 20, "glucose", "meter"),
    (8, 0, "plx_spot_check", "oximeter"),
    (12, 30, "temperature", "thermometer"),
    (14, 0, "heart_rate", "band"),
    (19, 0, "glucose", "meter"),
    (21, 0, "blood_pressure", "cuff"),
)


DEVICES = ("cuff", "scale", "meter", "oximeter", "thermometer", "band")


def daily_values(day: int) -> list[list[tuple[str, float, str]]]:
    """The values (vital, value, unit) of each of the 8 daily readings, in DAILY_SLOTS order."""
    w = day % 5
    return [
        [("systolic_bp", 120 + w, "mmHg"), ("diastolic_bp", 78 + w, "mmHg"), ("pulse", 70, "bpm")],
        [("weight", 70.0 + w / 10, "kg")],
        [("glucose", 5.4 + w / 10, "mmol/L")],
        [("spo2", 97, "%"), ("pulse", 71, "bpm")],
        [("temperature", 36.6, "°C")],
        [("heart_rate", 68 + w, "bpm")],
        [("glucose", 7.1 + w / 10, "mmol/L")],
        [("systolic_bp", 124 + w, "mmHg"), ("diastolic_bp", 80, "mmHg"), ("pulse", 72, "bpm")],
    ]


def write_history(
    store: object, people: Sequence[str], days: int, end: object, series: int = 0
) -> int:
    """``days`` days of 8 readings per person, oldest first, ending the day before ``end``.

    Written as the device path writes them: one ``RecordStore.append_many`` (one
    transaction) per reading, with a device dedupe key, reading id and details. Each person
    has their own devices (Bluetooth-address-like keys); another ``series`` stands for other
    devices, so the same days can be written again. Returns the number of readings.
    """
    from datetime import timedelta
    import uuid

    append_many = store.append_many  # type: ignore[attr-defined]
    start = end.replace(hour=0, minute=0, second=0, microsecond=0)  # type: ignore[attr-defined]
    count = 0
    for day in range(days, 0, -1):
        midnight = start - timedelta(days=day)
        values_of_day = daily_values(day)
        for slot, (hour, minute, kind, device) in enumerate(DAILY_SLOTS):
            when = midnight + timedelta(hours=hour, minutes=minute)
            number = DEVICES.index(device)
            for index, person in enumerate(people):
                key = f"A4:C1:38:{series:02X}:{index:02X}:{number:02X}"
                prefix = f"{key}|{kind}|{when.isoformat()}"
                append_many(
                    person,
                    [(v, x, u, when, f"{prefix}|{v}") for v, x, u in values_of_day[slot]],
                    f"device:{key}",
                    {
                        "device": key,
                        "kind": kind,
                        "status_flags": [],
                        "attribution": "device_owner",
                    },
                    uuid.uuid5(uuid.NAMESPACE_URL, prefix).hex,
                )
                count += 1
    return count


# --- Home Assistant helpers (imported lazily: the decode venv has no HA) ------------------


def person_subentries(count: int, prefix: str = "bench") -> list[dict[str, object]]:
    """``count`` person subentries (ConfigSubentryData) with fixed ids and aliases."""
    from custom_components.smart_care.const import (
        CONF_ALIAS,
        CONF_EMERGENCY_CONTACTS,
        CONF_EXPECTED,
        CONF_OVERDUE_HOURS,
        CONF_PERSON_ID,
        CONF_SOURCES,
        DEFAULT_OVERDUE_HOURS,
        SUBENTRY_PERSON,
    )

    people = []
    for index in range(count):
        person_id = f"{prefix}{index:02d}".ljust(32, "0")
        alias = f"Person {index + 1}"
        people.append(
            {
                "data": {
                    CONF_PERSON_ID: person_id,
                    CONF_ALIAS: alias,
                    CONF_EMERGENCY_CONTACTS: [],
                    CONF_EXPECTED: [],
                    CONF_OVERDUE_HOURS: DEFAULT_OVERDUE_HOURS,
                    CONF_SOURCES: {},
                },
                "subentry_type": SUBENTRY_PERSON,
                "title": alias,
                "unique_id": person_id,
            }
        )
    return people


def household_entry(people: int, entry_id: str | None = None, prefix: str = "bench") -> object:
    """A household MockConfigEntry with ``people`` person subentries (not yet added)."""
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.smart_care.const import (
        CONF_ENTRY_TYPE,
        CONF_GLUCOSE_UNIT,
        CONF_SHARE_LOCATION,
        DOMAIN,
        ENTRY_TYPE_HOUSEHOLD,
    )

    return MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        entry_id=entry_id,
        data={CONF_ENTRY_TYPE: ENTRY_TYPE_HOUSEHOLD},
        options={CONF_GLUCOSE_UNIT: "mmol/L", CONF_SHARE_LOCATION: False},
        subentries_data=person_subentries(people, prefix),
    )


# --- pytest fixtures of the HA benchmarks (import them into the module: both autouse) ----------

try:
    import pytest
except ImportError:  # the decode venv: no pytest, and no benchmark there uses these
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(autouse=True)
    async def enable_event_loop_debug() -> None:
        """The plugin turns asyncio debug mode on for tests; a benchmark runs without it.

        Async and without arguments, like the plugin's own on the newest HA (which has no
        ``event_loop`` fixture): it runs on the test's loop on both sides.
        """
        asyncio.get_running_loop().set_debug(False)

    @pytest.fixture(autouse=True)
    def production_log_level() -> Iterator[None]:
        """A real HA logs at WARNING unless started with --verbose; the test plugin sets INFO."""
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.WARNING)
        yield
        root.setLevel(level)


# --- the final table -------------------------------------------------------------------------


def _parse_result(line: str) -> dict[str, str] | None:
    fields = line.split()
    if len(fields) < 4 or fields[0] != "RESULT":
        return None
    row = {"name": fields[1], "value": fields[2], "unit": fields[3]}
    for index, extra in enumerate(fields[4:], start=4):
        key, sep, value = extra.partition("=")
        if key == "note" and sep:
            row["note"] = " ".join([value, *fields[index + 1 :]]).strip()
            break
        if sep:
            row[key] = value
    return row


def _target_met(row: dict[str, str]) -> str:
    target = row.get("target")
    if not target:
        return ""
    check = row.get("ratio", row["value"])
    try:
        measured = float(check)
        if target.startswith(">="):
            return "yes" if measured >= float(target[2:]) else "NO"
        if target.startswith("<="):
            return "yes" if measured <= float(target[2:]) else "NO"
    except ValueError:
        return "?"
    return "?"


def _pretty(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    if not math.isfinite(number):
        return value
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    if abs(number) >= 100:
        return f"{number:.0f}"
    if abs(number) >= 10:
        return f"{number:.1f}"
    return f"{number:.3g}"


def table(lines: Iterable[str]) -> str:
    """Render RESULT lines as a text table, NOTE lines below it."""
    rows: list[dict[str, str]] = []
    notes: list[str] = []
    for line in lines:
        line = line.strip()
        if line.startswith("NOTE "):
            notes.append(line[5:])
        elif (row := _parse_result(line)) is not None:
            rows.append(row)
    headers = ["figure", "value", "unit", "baseline", "ratio", "target", "met", "note"]
    body = [
        [
            row["name"],
            _pretty(row["value"]),
            row["unit"],
            _pretty(row.get("baseline", "")),
            row.get("ratio", ""),
            row.get("target", ""),
            _target_met(row),
            row.get("note", ""),
        ]
        for row in rows
    ]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    right = {1, 3, 4}

    def fmt(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    text = [fmt(headers), fmt(["-" * w for w in widths])]
    text += [fmt(r) for r in body]
    if notes:
        text.append("")
        text += [f"* {n}" for n in notes]
    return "\n".join(text)


def main(argv: list[str]) -> int:
    """CLI: parse-decode FILE | parse-bridge FILE | table FILE."""
    if len(argv) != 3 or argv[1] not in ("parse-decode", "parse-bridge", "table"):
        print(__doc__)
        return 2
    text = Path(argv[2]).read_text(encoding="utf-8")
    if argv[1] in ("parse-decode", "parse-bridge"):
        parse = parse_decode if argv[1] == "parse-decode" else parse_bridge
        for line in parse(text):
            print(line)
        return 0
    print(table(text.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
