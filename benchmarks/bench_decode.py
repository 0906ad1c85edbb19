"""Decode speed and correctness: Smart Care's BLE decoder vs bluetooth-sig 0.6.0.

Run from the repository root (after ``bash benchmarks/setup_bench.sh``):

    .venv-bench/bin/python benchmarks/bench_decode.py [--repeat 7] [--min-time 0.2]

Both decoders get the same payloads (benchmarks/decode_vectors.py) addressed by the full
128-bit UUID, as bleak reports it. Timings are the median of ``--repeat`` timeit runs.
The correctness table compares every hand-checked value each library exposes.

The pure core package is loaded by path as ``smart_care_core`` so that the Home Assistant
code in custom_components/smart_care/__init__.py is never imported: this venv has no HA.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
import enum
import importlib.util
import logging
import math
from pathlib import Path
import statistics
import sys
import timeit
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from decode_vectors import VECTORS, Vector  # noqa: E402

BASE = "-0000-1000-8000-00805f9b34fb"


def load_medical() -> ModuleType:
    """Import custom_components/smart_care/core/gatt without the Home Assistant package."""
    package_dir = ROOT / "custom_components" / "smart_care" / "core"
    spec = importlib.util.spec_from_file_location(
        "smart_care_core",
        package_dir / "__init__.py",
        submodule_search_locations=[str(package_dir)],
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return importlib.import_module("smart_care_core.gatt")


def load_bluetooth_sig() -> Callable[[str, bytes], Any] | None:
    """bluetooth-sig's UUID + bytes parser (BluetoothSIGTranslator.parse_characteristic)."""
    try:
        from bluetooth_sig import BluetoothSIGTranslator
    except ImportError:
        return None
    # It logs every rejected payload at WARNING; the table reports those instead.
    logging.getLogger("bluetooth_sig").setLevel(logging.CRITICAL)
    return BluetoothSIGTranslator().parse_characteristic


def _calibrated(func: Callable[[str, bytes], Any], items: list[tuple[str, bytes]], seconds: float):
    """A timeit.Timer over ``items`` and a loop count that takes about ``seconds``."""

    def loop() -> None:
        for uuid, payload in items:
            func(uuid, payload)

    timer = timeit.Timer(loop)
    number = 1
    while (elapsed := timer.timeit(number)) < seconds / 10:
        number *= 10
    return timer, max(1, round(number * seconds / elapsed))


def time_pair(
    ours: Callable[[str, bytes], Any],
    theirs: Callable[[str, bytes], Any] | None,
    items: list[tuple[str, bytes]],
    args: Any,
) -> tuple[float, float | None, float | None]:
    """Seconds per decode (ours, theirs) and their ratio: medians over interleaved runs.

    Running the two decoders alternately keeps a busy machine from favouring one of them.
    """
    ours_timer, ours_number = _calibrated(ours, items, args.min_time)
    pair = _calibrated(theirs, items, args.min_time) if theirs else None
    ours_runs: list[float] = []
    theirs_runs: list[float] = []
    for _ in range(args.repeat):
        ours_runs.append(ours_timer.timeit(ours_number) / (ours_number * len(items)))
        if pair is not None:
            theirs_timer, theirs_number = pair
            theirs_runs.append(theirs_timer.timeit(theirs_number) / (theirs_number * len(items)))
    ours_time = statistics.median(ours_runs)
    if not theirs_runs:
        return ours_time, None, None
    ratio = statistics.median(t / o for t, o in zip(theirs_runs, ours_runs, strict=True))
    return ours_time, statistics.median(theirs_runs), ratio


# --- bluetooth-sig result -> our as_dict() keys ------------------------------------------


def _name(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name.lower()
    return value


def _unit(value: Any) -> Any:
    raw = value.value if isinstance(value, enum.Enum) else value
    return {"meters": "m", "inches": "in"}.get(raw, raw)


def _time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _opt(result: Any, name: str) -> Any:
    return getattr(result.optional_fields, name)


def _concentration(result: Any) -> Any:
    """bluetooth-sig labels the field mg/dL or mmol/L; compare in kg/L or mol/L."""
    value = result.glucose_concentration
    if value is None or result.unit is None:
        return value
    scale = 100000 if result.unit == "mg/dL" else 1000
    return value / scale


EXTRACT: dict[str, dict[str, Callable[[Any], Any]]] = {
    "2a35": {
        "systolic": lambda r: r.systolic,
        "diastolic": lambda r: r.diastolic,
        "mean_arterial_pressure": lambda r: r.mean_arterial_pressure,
        "unit": lambda r: _unit(r.unit),
        "timestamp": lambda r: _time(_opt(r, "timestamp")),
        "pulse_rate": lambda r: _opt(r, "pulse_rate"),
        "user_id": lambda r: _opt(r, "user_id"),
    },
    "2a36": {
        "cuff_pressure": lambda r: r.current_cuff_pressure,
        "unit": lambda r: _unit(r.unit),
        "pulse_rate": lambda r: _opt(r, "pulse_rate"),
    },
    "2a1c": {
        "temperature": lambda r: r.temperature,
        "unit": lambda r: _unit(r.unit),
        "timestamp": lambda r: _time(r.timestamp),
        "temperature_type": lambda r: _name(r.temperature_type),
    },
    "2a37": {
        "heart_rate": lambda r: r.heart_rate,
        "sensor_contact": lambda r: _name(r.sensor_contact),
        "energy_expended": lambda r: r.energy_expended,
        "rr_intervals": lambda r: list(r.rr_intervals) or None,
    },
    "2a9d": {
        "weight": lambda r: r.weight,
        "weight_unit": lambda r: _unit(r.weight_unit),
        "timestamp": lambda r: _time(r.timestamp),
        "user_id": lambda r: r.user_id,
        "bmi": lambda r: r.bmi,
        "height": lambda r: r.height,
        "height_unit": lambda r: _unit(r.height_unit),
    },
    "2a9c": {
        "body_fat_percent": lambda r: r.body_fat_percentage,
        "timestamp": lambda r: _time(r.timestamp),
        "user_id": lambda r: r.user_id,
        "basal_metabolism": lambda r: r.basal_metabolism,
        "muscle_percent": lambda r: r.muscle_percentage,
        "muscle_mass": lambda r: r.muscle_mass,
        "fat_free_mass": lambda r: r.fat_free_mass,
        "soft_lean_mass": lambda r: r.soft_lean_mass,
        "body_water_mass": lambda r: r.body_water_mass,
        "impedance": lambda r: r.impedance,
        "weight": lambda r: r.weight,
        "height": lambda r: r.height,
    },
    "2a18": {
        "sequence_number": lambda r: r.sequence_number,
        "base_time": lambda r: _time(r.base_time),
        "time_offset": lambda r: r.time_offset_minutes,
        "concentration": _concentration,
        "type": lambda r: _name(r.glucose_type),
        "sample_location": lambda r: _name(r.sample_location),
    },
    "2a34": {
        "sequence_number": lambda r: r.sequence_number,
        "extended_flags": lambda r: r.extended_flags,
        "carbohydrate_id": lambda r: _name(r.carbohydrate_id),
        "carbohydrate": lambda r: r.carbohydrate_kg,
        "meal": lambda r: _name(r.meal),
        "tester": lambda r: _name(r.tester),
        "health": lambda r: _name(r.health),
        "exercise_duration": lambda r: r.exercise_duration_seconds,
        "exercise_intensity": lambda r: r.exercise_intensity_percent,
        "medication_id": lambda r: _name(r.medication_id),
        "medication": lambda r: r.medication_value,
        "hba1c": lambda r: r.hba1c_percent,
    },
    "2a5e": {
        "spo2": lambda r: r.spo2,
        "pulse_rate": lambda r: r.pulse_rate,
        "timestamp": lambda r: _time(r.timestamp),
        "pulse_amplitude_index": lambda r: r.pulse_amplitude_index,
    },
    "2a5f": {
        "spo2": lambda r: r.spo2,
        "pulse_rate": lambda r: r.pulse_rate,
        "spo2_fast": lambda r: r.spo2_fast,
        "pulse_rate_fast": lambda r: r.pulse_rate_fast,
        "spo2_slow": lambda r: r.spo2_slow,
        "pulse_rate_slow": lambda r: r.pulse_rate_slow,
        "pulse_amplitude_index": lambda r: r.pulse_amplitude_index,
    },
    "2a52": {
        "op_code": lambda r: _name(r.opcode),
        "operator": lambda r: _name(r.operator),
    },
    "2a2b": {
        "timestamp": lambda r: _time(r.date_time),
        "day_of_week": lambda r: _name(r.day_of_week),
        "fractions256": lambda r: r.fractions256,
    },
    "2a08": {"timestamp": _time},
    "2a19": {"level": lambda r: r},
}
EXTRACT["2a1e"] = EXTRACT["2a1c"]


def _same(got: Any, want: Any) -> str:
    """'exact', 'noise' (float within 1e-9 relative) or 'wrong'."""
    if isinstance(got, float) and math.isnan(got):
        got = None  # NaN for an IEEE-11073 special is the same message as our None
    if got == want:
        return "exact"
    if isinstance(got, float) and isinstance(want, float) and math.isclose(got, want, rel_tol=1e-9):
        return "noise"
    return "wrong"


def judge_ours(medical: ModuleType, vector: Vector) -> tuple[str, str]:
    try:
        as_dict = medical.decode(vector.uuid, vector.payload).as_dict()
    except Exception as err:  # reported in the table
        return "wrong", f"raised {type(err).__name__}"
    for key, want in vector.expected.items():
        if as_dict.get(key) != want:
            return "wrong", f"{key}={as_dict.get(key)!r} (want {want!r})"
    return "exact", ""


def judge_bluetooth_sig(parse: Callable[[str, bytes], Any], vector: Vector) -> tuple[str, str]:
    try:
        result = parse(vector.uuid.upper(), vector.payload)
    except Exception as err:  # reported in the table
        return "raised", f"{type(err).__name__}: {str(err)[-70:]}"
    verdict = "exact"
    note = ""
    compared = 0
    for key, want in vector.expected.items():
        getter = EXTRACT[vector.uuid].get(key)
        if getter is None:
            continue
        try:
            got = getter(result)
        except AttributeError:
            continue
        compared += 1
        same = _same(got, want)
        if same == "wrong":
            return "wrong", f"{key}={got!r} (want {want!r})"
        if same == "noise" and verdict == "exact":
            verdict, note = "noise", f"{key}={got!r} (want {want!r})"
    if not compared:
        return "n/a", "no comparable field"
    return verdict, note


MARK = {
    "exact": "ok",
    "noise": "~ float noise",
    "wrong": "WRONG",
    "raised": "REJECTED",
    "n/a": "n/a",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timeit repeats (median)")
    parser.add_argument("--min-time", type=float, default=0.1, help="seconds per timeit run")
    args = parser.parse_args()

    medical = load_medical()
    parse = load_bluetooth_sig()
    if parse is None:
        print("bluetooth-sig not importable: run `bash benchmarks/setup_bench.sh` and use")
        print(".venv-bench/bin/python; timing our decoder only.\n")

    kinds = medical.SUPPORTED_CHARACTERISTICS
    print(f"Python {sys.version.split()[0]}; median of {args.repeat} runs; full 128-bit UUIDs\n")
    header = f"{'char':<6} {'kind':<27} {'n':>2} {'ours/s':>11} {'bt-sig/s':>10} {'ratio':>7}"
    # n = payloads timed: those bluetooth-sig accepts (all of ours otherwise)
    print(header)
    print("-" * len(header))
    ratios: list[float] = []
    for short, kind in kinds.items():
        payloads = [v.payload for v in VECTORS if v.uuid == short]
        items = [(f"0000{short}{BASE}", p) for p in payloads]
        accepted = []
        if parse is not None:
            for uuid, payload in items:
                try:
                    parse(uuid, payload)
                except Exception:  # a payload bluetooth-sig rejects is not timed
                    continue
                accepted.append((uuid, payload))
        timed = accepted or items
        ours, theirs, ratio = time_pair(medical.decode, parse if accepted else None, timed, args)
        theirs_text = ratio_text = "-"
        if theirs is not None and ratio is not None:
            ratios.append(ratio)
            theirs_text = f"{1 / theirs:,.0f}"
            ratio_text = f"{ratio:.1f}x"
        print(
            f"{short:<6} {kind:<27} {len(timed):>2} {1 / ours:>11,.0f} {theirs_text:>10} "
            f"{ratio_text:>7}"
        )
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"\nratio: min {min(ratios):.1f}x, geometric mean {geo:.1f}x, max {max(ratios):.1f}x")
        print("(ratio timed on the payloads bluetooth-sig accepts, both decoders on the same set)")

    print("\nCorrectness on hand-checked vectors (values each library exposes):\n")
    header = f"{'vector':<40} {'ours':<6} {'bluetooth-sig':<14} detail"
    print(header)
    print("-" * 110)
    totals = {"ours": 0, "theirs": 0}
    for vector in VECTORS:
        ours_verdict, ours_note = judge_ours(medical, vector)
        totals["ours"] += ours_verdict == "exact"
        theirs_verdict, note = ("n/a", "not installed")
        if parse is not None:
            theirs_verdict, note = judge_bluetooth_sig(parse, vector)
            totals["theirs"] += theirs_verdict == "exact"
        detail = ours_note or note
        print(f"{vector.name:<40} {MARK[ours_verdict]:<6} {MARK[theirs_verdict]:<14} {detail}")
    print(
        f"\nexact: ours {totals['ours']}/{len(VECTORS)}, "
        f"bluetooth-sig {totals['theirs']}/{len(VECTORS)}"
    )


if __name__ == "__main__":
    main()
