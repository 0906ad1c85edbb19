"""Scale of the record: 10 people x 5 years x 8 readings a day, in a real HA.

Run (benchmarks/run does this):

    .venv/bin/python -m pytest benchmarks/bench_record.py -p no:cacheprovider -s -q

1. Generation: 146,000 readings (237,250 values) written through ``RecordStore.append_many``,
   one transaction (fsync'd, synchronous=FULL as shipped) per reading, oldest first, into the
   household's record path under a temporary HA config dir on the local disk. The store is
   opened as the integration opens it (``keys.open_record``: AES-256-GCM ``EncryptionCodec``
   and HMAC index key, key file ``.storage/smart_care/keys_<entry_id>.json``), so the
   household then loads that record and its keys.
2. Size on disk after the store is closed (WAL checkpointed): per person-year and per reading.
3. Start-up: ``hass.config_entries.async_setup`` of the household entry (10 people, all their
   entities) and, inside it, ``Household.async_load``, with the big record versus the same
   household shape on a record of only the last 15 days (the target's baseline: both have
   every person's newest values to decrypt) and on an empty record (other entries, other
   person ids). Warm-up set-up of each first, then rotating timed set-ups (each followed by
   an unload); medians.
   Memory: RSS growth over a set-up (SQLite's page cache is native memory and shows here
   only) and tracemalloc growth (Python objects kept), each entry once.
4. One append at that size versus on an empty log: a 3-value blood-pressure reading,
   ``append_many`` called directly, big and empty alternating, median of >= 200 each. Then
   the same on copies of both files with ``PRAGMA synchronous=NORMAL`` (no fsync at commit):
   a DIAGNOSTIC only, the product always runs FULL.
5. Queries the integration makes that could grow with the log: ``latest`` (set-up, entity
   values) and the 15-day ``history`` the trend rules read, big record versus a record
   holding only the last 15 days of the same people.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import gc
from pathlib import Path
import shutil
import sys
import time
import tracemalloc
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import (  # noqa: E402
    READINGS_PER_DAY,
    emit,
    enable_event_loop_debug,  # noqa: F401  (autouse fixture)
    household_entry,
    median,
    percentile,
    production_log_level,  # noqa: F401  (autouse fixture)
    rss_bytes,
    scaled,
    write_history,
)

from custom_components.smart_care.core.store.record_store import RecordStore  # noqa: E402
from custom_components.smart_care.household.keys import key_path, open_record  # noqa: E402
from custom_components.smart_care.household.runtime import Household, record_path  # noqa: E402

pytest_plugins = ["tests.conftest"]

PEOPLE = 10
YEARS = 5
DAYS = scaled(365 * YEARS, 60)
SETUP_ROUNDS = scaled(5, 2)
APPENDS = scaled(300, 60)
QUERY_ROUNDS = scaled(20, 5)
TREND_WINDOW = timedelta(days=15)


def open_store(path: Path, keys: Path) -> RecordStore:
    """The store as the integration opens it: encrypted, keys created on first use."""
    store, _keyring = open_record(path, keys)
    return store


def generate(path: Path, keys: Path, people: list[str], days: int) -> tuple[int, float, int]:
    """Write the history; (readings, seconds, values in the log)."""
    store = open_store(path, keys)
    try:
        start = time.perf_counter()
        readings = write_history(store, people, days, datetime.now(UTC))
        seconds = time.perf_counter() - start
        return readings, seconds, store.count()
    finally:
        store.close()


def disk_size(path: Path) -> int:
    """Database file plus any -wal / -shm beside it."""
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def size_breakdown(path: Path) -> list[tuple[str, int]]:
    """Bytes per table and index (SQLite's dbstat), largest first."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        rows = []
    finally:
        conn.close()
    return [(str(name), int(size)) for name, size in rows]


def bp_values(i: int) -> list[tuple[str, float, str, datetime, None]]:
    when = datetime.now(UTC) + timedelta(microseconds=i)
    return [
        ("systolic_bp", 121.0, "mmHg", when, None),
        ("diastolic_bp", 79.0, "mmHg", when, None),
        ("pulse", 70.0, "bpm", when, None),
    ]


def alternate_appends(
    big: RecordStore, small: RecordStore, person_big: str, person_small: str, count: int
) -> tuple[list[float], list[float]]:
    """ms per append_many on each store, alternating big/small so drift hits both."""
    details = {"device": "cuff", "kind": "blood_pressure", "status_flags": [], "attribution": "x"}
    out_big: list[float] = []
    out_small: list[float] = []
    for i in range(count):
        for store, person, out in ((big, person_big, out_big), (small, person_small, out_small)):
            values = bp_values(i)
            start = time.perf_counter_ns()
            store.append_many(person, values, "device:cuff", details)
            out.append((time.perf_counter_ns() - start) / 1e6)
    return out_big, out_small


def time_queries(
    stores: list[RecordStore], people: list[str], rounds: int
) -> list[tuple[float, float]]:
    """Per store: median ms of latest() for every person and of their 15-day history().

    The stores take turns inside every round, so a busy moment hits all of them.
    """
    latest: list[list[float]] = [[] for _ in stores]
    history: list[list[float]] = [[] for _ in stores]
    for _ in range(rounds):
        since = datetime.now(UTC) - TREND_WINDOW
        for index, store in enumerate(stores):
            start = time.perf_counter()
            for pid in people:
                store.latest(pid)
            latest[index].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            for pid in people:
                store.history(pid, since=since)
            history[index].append((time.perf_counter() - start) * 1000)
    return [(median(latest[i]), median(history[i])) for i in range(len(stores))]


async def test_record_scale(hass: HomeAssistant, tmp_path: Path) -> None:
    hass.config.config_dir = str(tmp_path)
    big = household_entry(PEOPLE, entry_id="bench_record_big", prefix="big")
    empty = household_entry(PEOPLE, entry_id="bench_record_empty", prefix="empty")
    recent = household_entry(PEOPLE, entry_id="bench_record_recent", prefix="recent")
    people_recent = [s.data["person_id"] for s in recent.subentries.values()]
    people_big = [s.data["person_id"] for s in big.subentries.values()]
    people_empty = [s.data["person_id"] for s in empty.subentries.values()]
    big_path = record_path(hass, big.entry_id)
    empty_path = record_path(hass, empty.entry_id)
    big_keys = key_path(hass, big.entry_id)
    empty_keys = key_path(hass, empty.entry_id)  # created by the empty entry's first set-up

    # 1. Generation --------------------------------------------------------------------------
    readings, seconds, values = await hass.async_add_executor_job(
        generate, big_path, big_keys, people_big, DAYS
    )
    assert readings == PEOPLE * DAYS * READINGS_PER_DAY
    emit(
        "record.generate_readings",
        readings / seconds,
        "readings/s",
        note=f"{readings} readings ({values} values) in {seconds:.1f} s, "
        "one fsync'd, AES-256-GCM encrypted append_many each",
    )

    # 2. Size --------------------------------------------------------------------------------
    size = await hass.async_add_executor_job(disk_size, big_path)
    person_years = PEOPLE * DAYS / 365
    parts = await hass.async_add_executor_job(size_breakdown, big_path)
    if parts:
        print(
            "\nrecord size by table/index: "
            + ", ".join(
                f"{name} {bytes_ / 1e6:.1f} MB ({100 * bytes_ / size:.0f} %)"
                for name, bytes_ in parts[:6]
            )
        )
    top = "; ".join(f"{name} {100 * b / size:.0f}%" for name, b in parts[:4])
    emit(
        "record.size_per_person_year",
        size / person_years / 1e6,
        "MB",
        note=f"{size / 1e6:.1f} MB for {person_years:.0f} person-years; "
        f"{size / readings:.0f} B/reading, {size / values:.0f} B/value; {top}",
    )

    # 3. Start-up and memory -------------------------------------------------------------------
    # The baseline household: the same 10 people's shape with the last 15 days only.
    await hass.async_add_executor_job(
        generate,
        record_path(hass, recent.entry_id),
        key_path(hass, recent.entry_id),
        people_recent,
        15,
    )
    # Only one entry known at first: setting up the integration sets up every entry it has.
    empty.add_to_hass(hass)
    load_times: dict[str, list[float]] = {}
    current: list[str] = []
    original_load = Household.async_load

    async def timed_load(self: Household) -> None:
        start = time.perf_counter()
        await original_load(self)
        load_times.setdefault(current[-1], []).append((time.perf_counter() - start) * 1000)

    async def setup_once(entry: Any, label: str) -> tuple[float, int]:
        current.append(label)
        gc.collect()
        rss = rss_bytes()
        start = time.perf_counter()
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        elapsed = (time.perf_counter() - start) * 1000
        gc.collect()
        grown = rss_bytes() - rss
        assert len(entry.runtime_data.household.people) == PEOPLE
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        return elapsed, grown

    setup_ms: dict[str, list[float]] = {"big": [], "recent": [], "empty": []}
    rss_grown: dict[str, list[int]] = {"big": [], "recent": [], "empty": []}
    entries = [(empty, "empty"), (recent, "recent"), (big, "big")]
    with patch.object(Household, "async_load", timed_load):
        await setup_once(empty, "warmup")  # first set-up: imports, registries, platforms
        for entry in (recent, big):
            entry.add_to_hass(hass)
            await setup_once(entry, "warmup")
        for round_no in range(SETUP_ROUNDS):
            # Rotated each round, so no entry always comes first or last.
            shift = round_no % len(entries)
            for entry, label in entries[shift:] + entries[:shift]:
                elapsed, grown = await setup_once(entry, label)
                setup_ms[label].append(elapsed)
                rss_grown[label].append(grown)

    # (figure, times, baseline entry, target, note): ours is always the 5-year record.
    for name, times, base, target, note in (
        (
            "record.entry_setup_5y",
            setup_ms,
            "empty",
            None,
            f"household entry set-up, 10 people, {readings}-reading record "
            f"({DAYS / 365:.1f} years) vs empty record",
        ),
        (
            "record.entry_setup_5y_vs_15d",
            setup_ms,
            "recent",
            None,
            "household entry set-up, 10 people: 5-year vs 15-day record",
        ),
        (
            "record.household_load_5y",
            load_times,
            "recent",
            "<=1.5",
            "Household.async_load inside that set-up: 5-year vs 15-day record",
        ),
        (
            "record.household_load_5y_vs_empty",
            load_times,
            "empty",
            None,
            "the same load vs an empty record (nothing to decrypt)",
        ),
    ):
        emit(
            name,
            median(times["big"]),
            "ms",
            baseline=median(times[base]),
            target=target,
            note=note,
        )
    emit(
        "record.setup_rss_growth_5y",
        median(rss_grown["big"]) / 1e6,
        "MB",
        baseline=median(rss_grown["empty"]) / 1e6,
        ratio=None,
        note="RSS after minus before one set-up (median); includes SQLite page cache",
    )

    traced: dict[str, float] = {}
    for entry, label in ((empty, "empty"), (big, "big")):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        gc.collect()
        traced[label] = (tracemalloc.get_traced_memory()[0] - before) / 1e6
        tracemalloc.stop()
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    emit(
        "record.setup_python_memory_5y",
        traced["big"],
        "MB",
        baseline=traced["empty"],
        note="tracemalloc: Python memory still held after set-up",
    )

    # 4. One append at size vs on an empty log ---------------------------------------------------
    def appends(diagnostic: bool) -> tuple[list[float], list[float]]:
        if diagnostic:
            copies = []
            for source, keys in ((big_path, big_keys), (empty_path, empty_keys)):
                target = tmp_path / f"copy_{source.name}"
                shutil.copyfile(source, target)
                copies.append((target, keys))  # a copy reads with its original's keys
            stores = [open_store(path, keys) for path, keys in copies]
            for store in stores:
                with store._lock:
                    store._conn.execute("PRAGMA synchronous=NORMAL")
        else:
            stores = [open_store(big_path, big_keys), open_store(empty_path, empty_keys)]
        try:
            # A few untimed appends: page cache and statement cache warm for both.
            alternate_appends(stores[0], stores[1], people_big[0], people_empty[0], 10)
            return alternate_appends(stores[0], stores[1], people_big[0], people_empty[0], APPENDS)
        finally:
            for store in stores:
                store.close()

    on_big, on_empty = await hass.async_add_executor_job(appends, False)
    emit(
        "record.append_at_5y",
        median(on_big),
        "ms",
        baseline=median(on_empty),
        target="<=1.5",
        note=f"one 3-value reading, fsync'd (FULL); p90 {percentile(on_big, 90):.3f} vs "
        f"{percentile(on_empty, 90):.3f} ms; median of {APPENDS} each",
    )
    diag_big, diag_empty = await hass.async_add_executor_job(appends, True)
    emit(
        "record.diag_append_no_fsync_at_5y",
        median(diag_big),
        "ms",
        baseline=median(diag_empty),
        note="DIAGNOSTIC copies with synchronous=NORMAL (no fsync at commit)",
    )

    # 5. Queries that could grow -------------------------------------------------------------------
    recent_path = tmp_path / "recent_15d.db"
    recent_keys = tmp_path / "keys_recent_15d.json"

    def queries() -> list[tuple[float, float]]:
        recent = open_store(recent_path, recent_keys)
        write_history(recent, people_big, 15, datetime.now(UTC))
        recent.close()  # checkpointed, as the big one was: both read from the main file
        recent = open_store(recent_path, recent_keys)
        full = open_store(big_path, big_keys)
        try:
            time_queries([full, recent], people_big, 2)  # warm both
            return time_queries([full, recent], people_big, QUERY_ROUNDS)
        finally:
            full.close()
            recent.close()

    (latest_big, history_big), (latest_recent, history_recent) = await hass.async_add_executor_job(
        queries
    )
    emit(
        "record.latest_all_people_5y",
        latest_big,
        "ms",
        baseline=latest_recent,
        target="<=1.5",
        note=f"latest() for 10 people: {DAYS / 365:.1f}-year record vs a 15-day record",
    )
    emit(
        "record.history_15d_all_people_5y",
        history_big,
        "ms",
        baseline=history_recent,
        note=f"15-day history() (trend rules), 10 people: {DAYS / 365:.1f}-year vs 15-day record",
    )
