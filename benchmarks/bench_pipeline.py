"""Sustained throughput: attribution -> log -> assessment -> entities, 10 people, real HA.

Run (benchmarks/run does this):

    .venv/bin/python -m pytest benchmarks/bench_pipeline.py -p no:cacheprovider -s -q

A household with 10 people (config subentries, so 10 devices' worth of person entities) is
set up in the test suite's real HA (``hass`` fixture, tests/conftest.py), on a record DB that
already holds 15 days of history per person (8 readings a day: the window the trend rules
read), seeded encrypted through ``keys.open_record`` as the integration opens it (its key
file under ``.storage/smart_care/``). Readings are decoded up front (decode speed is
bench_decode.py's job) and handed to ``Household.async_ingest_reading`` with a
``DeviceSource`` per person (owner attribution), one after the other as a device link's
worker does. The mix per person cycles through blood
pressure (with pulse), temperature, weight, SpO2 (spot-check), glucose (with sequence
number and device time) and heart rate; every seventh reading of a kind is abnormal, so the
alert path (open, then resolve on the next normal value) is part of the load.

Each round times, in rotating order:
* ``sequential``: one reading after another (one device link at a time);
* ``concurrent``: 10 streams at once, one per person (10 device links);
* baseline ``raw append``: the same readings' values written with ``RecordStore.append_many``
  through the executor, one transaction (fsync) per reading, each reading at a time of its
  own so that every value is stored (checked), nothing else: the floor any durable pipeline
  on this store has.
Figures are medians over rounds; ratios are ours / raw append. Then the CPU per reading of
the event loop's thread and of the store's executor thread, ours against the raw append
(``time.thread_time``, no profiler). Then a diagnostic pass with
``PRAGMA synchronous=NORMAL`` on the store's connection (no fsync per commit), and one pass
under cProfile. On Python >= 3.12 cProfile hooks ``sys.monitoring``, which sees every thread:
the executor threads' SQLite work shows up next to the event loop's. The store's methods are
also timed (wall clock, in their threads) so the fsync'd commits can be told apart.
"""

from __future__ import annotations

import asyncio
import cProfile
from datetime import UTC, datetime, timedelta
import io
import os
from pathlib import Path
import pstats
import sys
import threading
import time
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import (  # noqa: E402
    emit,
    enable_event_loop_debug,  # noqa: F401  (autouse fixture)
    household_entry,
    median,
    percentile,
    production_log_level,  # noqa: F401  (autouse fixture)
    scaled,
    write_history,
)

from custom_components.smart_care.core.gatt import decode  # noqa: E402
from custom_components.smart_care.core.store.record_store import RecordStore  # noqa: E402
from custom_components.smart_care.household.keys import key_path, open_record  # noqa: E402
from custom_components.smart_care.household.runtime import DeviceSource, record_path  # noqa: E402
from tests.fakes.ble_fakes import (  # noqa: E402
    blood_pressure,
    glucose_measurement,
    sfloat,
    temperature,
    weight,
)

pytest_plugins = ["tests.conftest"]

PEOPLE = 10
ROUNDS = scaled(10, 2)
CHUNK = scaled(100, 30)  # readings per timed chunk
WARMUP = scaled(60, 20)
DIAG_ROUNDS = scaled(4, 2)
GROWTH_ROUNDS = scaled(8, 2)
PROFILED = scaled(300, 60)
HISTORY_DAYS = 15
ENTRY_ID = "bench_pipeline_household"


# --- readings ----------------------------------------------------------------------------------


def plx_spot_check(spo2: int, pulse: int) -> bytes:
    """PLX Spot-Check Measurement (0x2A5E), no optional fields."""
    return b"\x00" + sfloat(spo2) + sfloat(pulse)


def heart_rate(bpm: int) -> bytes:
    """Heart Rate Measurement (0x2A37): uint8, skin contact supported and detected."""
    return bytes((0x06, bpm))


KINDS = ("bp", "temp", "weight", "spo2", "glucose", "hr")


def reading_bytes(kind: str, n: int, seq: int) -> tuple[str, bytes]:
    """The n-th reading of ``kind`` for a person: normal, every seventh abnormal."""
    abnormal = n % 7 == 3
    wobble = n % 5
    if kind == "bp":
        systolic = 152 if abnormal else 118 + wobble
        return "2a35", blood_pressure(systolic, 78 + wobble, 92, pulse=70 + wobble)
    if kind == "temp":
        return "2a1c", temperature(38.4 if abnormal else 36.6 + wobble / 10)
    if kind == "weight":
        return "2a9d", weight(70.0 + wobble / 5)
    if kind == "spo2":
        return "2a5e", plx_spot_check(92 if abnormal else 97, 72 + wobble)
    if kind == "glucose":
        when = dt_util.now().replace(tzinfo=None, microsecond=0) - timedelta(seconds=5)
        return "2a18", glucose_measurement(seq, when, 15.2 if abnormal else 5.4 + wobble / 10)
    return "2a37", heart_rate(125 if abnormal else 70 + wobble)


class Feed:
    """Endless decoded readings per person, in a fixed kind rotation."""

    def __init__(self, people: list[str]) -> None:
        self.people = people
        self.sources = {
            pid: DeviceSource(
                entry_id="bench", key=f"AA:BB:CC:00:00:{i:02X}", name=f"Device {i}", owner=pid
            )
            for i, pid in enumerate(people)
        }
        self.count = dict.fromkeys(people, 0)
        self.seq = dict.fromkeys(people, 0)

    def next_for(self, person_id: str) -> tuple[DeviceSource, Any]:
        n = self.count[person_id]
        self.count[person_id] += 1
        kind = KINDS[n % len(KINDS)]
        if kind == "glucose":
            self.seq[person_id] += 1
        uuid, data = reading_bytes(kind, n // len(KINDS), self.seq[person_id])
        return self.sources[person_id], decode(uuid, data)

    def round_robin(self, count: int) -> list[tuple[DeviceSource, Any]]:
        return [self.next_for(self.people[i % len(self.people)]) for i in range(count)]

    def per_person(self, count: int) -> dict[str, list[tuple[DeviceSource, Any]]]:
        each = max(1, count // len(self.people))
        return {pid: [self.next_for(pid) for _ in range(each)] for pid in self.people}


def seed_history(path: Path, keys: Path, people: list[str], days: int) -> int:
    """``days`` of history per person, 8 readings a day, straight into the record store.

    Opened as the integration opens it (``open_record``: the key file is created here, the
    household loads it), so every payload is encrypted and every dedupe key an HMAC.
    """
    store, _keyring = open_record(path, keys)
    try:
        write_history(store, people, days, datetime.now(UTC))
        return store.count()
    finally:
        store.close()


# --- timing ----------------------------------------------------------------------------------


class StoreTimer:
    """Wall and CPU time spent inside RecordStore methods (executor threads), per method."""

    METHODS = (
        "append_many",
        "append_reading",
        "put_alerts_and_setting",
        "put_setting_lazily",
        "history",
        "latest",
        "put_alert",
        "put_setting",
        "get_settings",
        "get_profile",
    )

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.totals: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # time.thread_time() of the calling thread
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> StoreTimer:
        for name in self.METHODS:
            original = getattr(self.store, name)

            def timed(*args: Any, _name: str = name, _orig: Any = original, **kw: Any) -> Any:
                start, start_cpu = time.perf_counter(), time.thread_time()
                try:
                    return _orig(*args, **kw)
                finally:
                    spent = time.perf_counter() - start
                    used = time.thread_time() - start_cpu
                    with self._lock:
                        self.totals[_name] = self.totals.get(_name, 0.0) + spent
                        self.cpu[_name] = self.cpu.get(_name, 0.0) + used
                        self.calls[_name] = self.calls.get(_name, 0) + 1

            setattr(self.store, name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.METHODS:
            delattr(self.store, name)


async def test_pipeline_throughput(hass: HomeAssistant, tmp_path: Path) -> None:
    hass.config.config_dir = str(tmp_path)
    entry = household_entry(PEOPLE, entry_id=ENTRY_ID)
    people = [sub.data["person_id"] for sub in entry.subentries.values()]
    seeded = await hass.async_add_executor_job(
        seed_history, record_path(hass, ENTRY_ID), key_path(hass, ENTRY_ID), people, HISTORY_DAYS
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    data = entry.runtime_data
    household = data.household
    assert len(household.people) == PEOPLE
    store: RecordStore = household.store
    feed = Feed(people)
    statuses: dict[str, int] = {}

    async def ingest(batch: list[tuple[DeviceSource, Any]]) -> None:
        for source, reading in batch:
            result = await household.async_ingest_reading(source, reading)
            statuses[result.status] = statuses.get(result.status, 0) + 1

    async def sequential(count: int) -> float:
        batch = feed.round_robin(count)
        start = time.perf_counter()
        await ingest(batch)
        await hass.async_block_till_done()
        return count / (time.perf_counter() - start)

    async def concurrent(count: int) -> float:
        streams = feed.per_person(count)
        total = sum(len(b) for b in streams.values())
        start = time.perf_counter()
        await asyncio.gather(*(ingest(batch) for batch in streams.values()))
        await hass.async_block_till_done()
        return total / (time.perf_counter() - start)

    floor_person = "raw-append-floor"

    async def raw_append(count: int) -> float:
        # The same readings' values, one append_many (transaction + fsync) per reading. Each
        # reading has a time of its own: the values repeat, and with one time most appends
        # would be dedupe hits that store nothing (docs/performance.md, ninth pass).
        batch = feed.round_robin(count)
        start_at = dt_util.utcnow()
        values = [
            [
                (s.vital.value, s.value, s.unit, start_at + timedelta(milliseconds=n), None)
                for s in reading.vitals()
            ]
            for n, (_, reading) in enumerate(batch)
        ]
        details = {"device": "raw", "kind": "raw", "status_flags": [], "attribution": "x"}
        stored = 0
        start = time.perf_counter()
        for vals in values:
            rows = await hass.async_add_executor_job(
                store.append_many, floor_person, vals, "device:raw", details
            )
            stored += len(rows)
        rate = count / (time.perf_counter() - start)
        assert stored == sum(len(vals) for vals in values), "raw append stored duplicates"
        return rate

    def _reset() -> None:
        # Drop what the benchmark itself added, so every chunk sees the same trend window
        # (the seeded 15 days); not timed.
        with store._lock:
            conn = store._conn
            conn.execute(
                "DELETE FROM measurements WHERE source IN (SELECT code FROM names WHERE "
                "kind = 's' AND name LIKE 'device:AA:BB:CC:%') OR person IN (SELECT code "
                "FROM names WHERE kind = 'p' AND name = ?)",
                (floor_person,),
            )
            conn.execute("DELETE FROM readings WHERE rid NOT IN (SELECT reading FROM measurements)")

    async def chunk(mode: Any) -> float:
        rate: float = await mode(CHUNK)
        await hass.async_add_executor_job(_reset)
        await reload_windows()
        return rate

    async def reload_windows() -> None:
        # The trend windows in memory follow the record again, read once per person as at
        # start-up (untimed: the product reads them once, not per chunk).
        data.alerts._windows.clear()
        now = dt_util.utcnow()
        for person in household.people.values():
            await data.alerts._async_window(person, now, ())

    def _set_sync(mode: str) -> None:
        # Diagnostic only: this connection, not the product's setting.
        with store._lock:
            store._conn.execute(f"PRAGMA synchronous={mode}")

    await sequential(WARMUP)
    await hass.async_add_executor_job(_reset)
    modes = {"sequential": sequential, "concurrent": concurrent, "raw": raw_append}
    order = list(modes)
    rates: dict[str, list[float]] = {name: [] for name in modes}
    for round_no in range(ROUNDS):
        rotated = order[round_no % 3 :] + order[: round_no % 3]
        for name in rotated:
            rates[name].append(await chunk(modes[name]))
    latencies: list[float] = []
    for source, reading in feed.round_robin(CHUNK):
        start = time.perf_counter()
        await household.async_ingest_reading(source, reading)
        latencies.append((time.perf_counter() - start) * 1000)
    await hass.async_add_executor_job(_reset)

    raw = median(rates["raw"])
    emit(
        "throughput.sequential",
        median(rates["sequential"]),
        "readings/s",
        baseline=raw,
        note="one reading after another; baseline = raw append_many (fsync) of the same values",
    )
    emit(
        "throughput.concurrent_10_streams",
        median(rates["concurrent"]),
        "readings/s",
        baseline=raw,
        note="10 device links at once, one per person; baseline as above",
    )
    emit(
        "throughput.per_reading_p50",
        median(latencies),
        "ms",
        note=f"service time, sequential; p99 {percentile(latencies, 99):.2f} ms",
    )

    # Diagnostic: no fsync per commit, alternating with the shipped FULL in the same rounds.
    diag: dict[str, list[float]] = {"FULL": [], "NORMAL": []}
    for round_no in range(DIAG_ROUNDS):
        for mode in ("FULL", "NORMAL") if round_no % 2 == 0 else ("NORMAL", "FULL"):
            await hass.async_add_executor_job(_set_sync, mode)
            diag[mode].append(await chunk(sequential))
    await hass.async_add_executor_job(_set_sync, "FULL")
    emit(
        "throughput.diag_no_fsync_sequential",
        median(diag["NORMAL"]),
        "readings/s",
        baseline=median(diag["FULL"]),
        note="DIAGNOSTIC synchronous=NORMAL vs FULL (shipped), alternating chunks",
    )

    # Where the CPU goes, without a profiler: the event loop's thread against the store's
    # executor thread, ours and the raw append alternating. The two threads share one GIL,
    # so their CPU adds up on the way to each commit.
    cpu: dict[str, dict[str, list[float]]] = {
        name: {"loop": [], "store": [], "wall": []} for name in ("sequential", "raw")
    }
    for round_no in range(DIAG_ROUNDS):
        for name in ("sequential", "raw") if round_no % 2 == 0 else ("raw", "sequential"):
            with StoreTimer(store) as timer:
                loop_start = time.thread_time()
                rate = await modes[name](CHUNK)
                loop_cpu = time.thread_time() - loop_start
            await hass.async_add_executor_job(_reset)
            await reload_windows()
            appends = timer.cpu.get("append_reading", 0) + timer.cpu.get("append_many", 0)
            cpu[name]["loop"].append(1000 * loop_cpu / CHUNK)
            cpu[name]["store"].append(1000 * appends / CHUNK)
            cpu[name]["wall"].append(1000 / rate)
    ours, raw_cpu = cpu["sequential"], cpu["raw"]
    emit(
        "profile.cpu_loop_per_reading",
        median(ours["loop"]),
        "ms",
        baseline=median(raw_cpu["loop"]),
        note="DIAGNOSTIC event loop thread CPU per reading (time.thread_time), ours sequential "
        "vs raw append, alternating chunks; wall per reading "
        f"{median(ours['wall']):.3f} vs {median(raw_cpu['wall']):.3f} ms",
    )
    emit(
        "profile.cpu_store_thread_per_reading",
        median(ours["store"]),
        "ms",
        baseline=median(raw_cpu["store"]),
        note="DIAGNOSTIC executor thread CPU in the store's append (append_reading vs "
        "append_many), same chunks",
    )

    # One profiled pass (cProfile sees every thread; store calls also timed per thread).
    batch = feed.round_robin(PROFILED)
    profiler = cProfile.Profile()
    with StoreTimer(store) as timer:
        start = time.perf_counter()
        profiler.enable()
        await ingest(batch)
        await hass.async_block_till_done()
        profiler.disable()
        wall = time.perf_counter() - start
    report_profile(profiler, timer, wall, PROFILED)
    await hass.async_add_executor_job(_reset)

    # How it grows: the trend rules look at 15 days of history on every blood pressure,
    # weight and glucose reading (kept in memory since schema 3; read from the record
    # before). Three more series of the seeded 15 days, under other device addresses, make
    # the window 4x as full (as if 32 readings a day). They are written once through the
    # store (encrypted and bound to their value rows, so rows cannot be made in SQL), kept
    # aside, then put in and taken out with one transaction each (not timed), so 1x and 4x
    # chunks can alternate. Each chunk starts with the windows read from the record again.
    copies_glob = "device:A4:C1:38:0[123]:*"
    copies = "source IN (SELECT code FROM names WHERE kind = 's' AND name GLOB ?)"
    parked: list[tuple[Any, ...]] = []
    parked_readings: list[tuple[Any, ...]] = []

    def _drop_copies(conn: Any) -> None:
        conn.execute(
            f"DELETE FROM readings WHERE rid IN (SELECT reading FROM measurements WHERE {copies})",
            (copies_glob,),
        )
        conn.execute(f"DELETE FROM measurements WHERE {copies}", (copies_glob,))

    def _write_copies() -> None:
        _set_sync("OFF")  # set-up only, not timed
        try:
            end = datetime.now(UTC)
            for series in (1, 2, 3):
                write_history(store, people, HISTORY_DAYS, end, series=series)
        finally:
            _set_sync("FULL")
        with store._lock:
            conn = store._conn
            # Rows keep their ids: each reading's blob is bound to its value rows' ids.
            parked.extend(
                conn.execute(f"SELECT * FROM measurements WHERE {copies}", (copies_glob,))
            )
            parked_readings.extend(
                conn.execute(
                    "SELECT * FROM readings WHERE rid IN "
                    f"(SELECT reading FROM measurements WHERE {copies})",
                    (copies_glob,),
                )
            )
            _drop_copies(conn)

    def _fill(on: bool) -> None:
        with store._lock:
            conn = store._conn
            conn.execute("BEGIN IMMEDIATE")
            _drop_copies(conn)
            if on:
                conn.executemany(
                    f"INSERT INTO readings VALUES ({', '.join('?' * len(parked_readings[0]))})",
                    parked_readings,
                )
                conn.executemany(
                    f"INSERT INTO measurements VALUES ({', '.join('?' * len(parked[0]))})",
                    parked,
                )
            conn.execute("COMMIT")

    await hass.async_add_executor_job(_write_copies)

    def _window_rows() -> float:
        since = datetime.now(UTC) - timedelta(days=HISTORY_DAYS)
        return sum(len(store.history(pid, since=since)) for pid in people) / len(people)

    window = {}
    growth: dict[bool, list[float]] = {False: [], True: []}
    for round_no in range(GROWTH_ROUNDS):
        # Both chunks of a round get the same readings (every seventh reading is abnormal,
        # so chunks of different readings open different numbers of alerts), first one fill
        # then the other, the order turned each round.
        position = (dict(feed.count), dict(feed.seq))
        for full in (False, True) if round_no % 2 == 0 else (True, False):
            feed.count, feed.seq = dict(position[0]), dict(position[1])
            await hass.async_add_executor_job(_fill, full)
            await reload_windows()
            window[full] = await hass.async_add_executor_job(_window_rows)
            growth[full].append(await chunk(sequential))
    # Where the growth goes: one profiled chunk per fill, after the timed ones (cProfile's
    # overhead would distort the ratio), kept as growth_1x.prof / growth_4x.prof.
    artifacts = os.environ.get("BENCH_ARTIFACTS")
    if artifacts:
        position = (dict(feed.count), dict(feed.seq))
        for full in (False, True):
            feed.count, feed.seq = dict(position[0]), dict(position[1])
            await hass.async_add_executor_job(_fill, full)
            await reload_windows()
            growth_profiler = cProfile.Profile()
            growth_profiler.enable()
            await sequential(CHUNK)
            growth_profiler.disable()
            await hass.async_add_executor_job(_reset)
            growth_profiler.dump_stats(Path(artifacts) / f"growth_{'4x' if full else '1x'}.prof")
    await hass.async_add_executor_job(_fill, False)
    emit(
        "throughput.sequential_4x_history",
        median(growth[True]),
        "readings/s",
        baseline=median(growth[False]),
        note=f"15-day trend window {window[True]:.0f} vs {window[False]:.0f} values/person "
        "(32 vs 8 readings a day), alternating chunks",
    )
    total = await hass.async_add_executor_job(store.count)
    print(
        f"\nseeded {seeded} history rows; ingest results {statuses}; {total} rows in the log "
        "(the benchmark's own readings are removed after each chunk); "
        f"{len(data.alerts.active_alerts())} alerts open at the end"
    )


def report_profile(profiler: cProfile.Profile, timer: StoreTimer, wall: float, count: int) -> None:
    """Print where the time went; keep the full profile next to the run's log."""
    stats = pstats.Stats(profiler)
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats("smart_care", 25)
    print(f"\n--- cProfile (all threads), {count} readings in {wall:.2f} s ---")
    print(out.getvalue())
    if folder := os.environ.get("BENCH_ARTIFACTS"):
        stats.dump_stats(os.path.join(folder, "pipeline.prof"))
    print(f"--- RecordStore methods (executor threads), {count} readings ---")
    per_reading = {name: 1000 * t / count for name, t in timer.totals.items()}
    for name, ms in sorted(per_reading.items(), key=lambda kv: -kv[1]):
        print(f"{name:<14} {timer.calls[name]:>6} calls  {ms:7.3f} ms/reading")
    store_ms = sum(per_reading.values())
    wall_ms = 1000 * wall / count
    # Time in our own Python code (any thread), from the profile.
    smart_care = sum(
        tt
        for (file, _, _), (_, _, tt, _, _) in stats.stats.items()  # type: ignore[attr-defined]
        if "smart_care" in file
    )
    emit(
        "profile.wall_per_reading",
        wall_ms,
        "ms",
        note=f"store (executor) {store_ms:.2f} ms/reading, "
        f"of which append_reading {per_reading.get('append_reading', 0):.2f}, "
        f"history {per_reading.get('history', 0):.2f}",
    )
    emit(
        "profile.smart_care_own_cpu_per_reading",
        1000 * smart_care / count,
        "ms",
        note="cProfile tottime in custom_components/smart_care code (all threads)",
    )
