"""Clinic bridge throughput: drain a backlog of readings to a local FHIR server.

Run from the repository root:

    .venv/bin/python benchmarks/bench_bridge.py [--readings 10000] [--validate]

What it measures is the real delivery path of ``custom_components/smart_care/outbox.py``
(``deliver_next``: read the next batch from the SQLite record, build the FHIR transaction
bundle, POST it, wait for the answer, move the cursor in a committed transaction), run
twice in the same process over the same backlog:

* **batched**: up to 100 readings per transaction bundle (what the bridge does);
* **one request per reading**: the same code with a batch size of 1.

The two runs use two clinic links, so each has its own cursor and pseudonyms and the
server stores each set separately. The FHIR server is ``tests/fhir_server.py`` running as
its own process on 127.0.0.1. It enforces conditional create, but by default does not run
the R4B validation, so that the client is what gets measured (``--validate`` turns it
on). At the end the server's counts are checked: every reading arrived exactly once per
link.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.smart_care.keys import open_record  # noqa: E402
from custom_components.smart_care.medical.security import new_pseudonym_key  # noqa: E402
from custom_components.smart_care.outbox import (  # noqa: E402
    HttpTransport,
    LinkProfile,
    Outbox,
    deliver_next,
)
from custom_components.smart_care.record_store import RecordStore  # noqa: E402

SCOPES = frozenset({"vital_signs"})
# (vital, value, unit) cycle: one reading each, a blood pressure reading has two values.
KINDS: list[list[tuple[str, float, str]]] = [
    [("systolic_bp", 120.0, "mmHg"), ("diastolic_bp", 80.0, "mmHg")],
    [("pulse", 70.0, "bpm")],
    [("spo2", 97.0, "%")],
    [("weight", 70.0, "kg")],
    [("temperature", 36.6, "°C")],
]


def fill(store: RecordStore, readings: int) -> int:
    """A backlog of ``readings`` readings of one person, a minute apart; returns rows."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = 0
    for n in range(readings):
        values = KINDS[n % len(KINDS)]
        when = start + timedelta(minutes=n)
        # Slightly different values so that no two readings share an identifier.
        batch = [(v, value + (n % 7) / 10, unit, when, None) for v, value, unit in values]
        rows += len(store.append_many("person-1", batch, "manual", {}, f"reading-{n}"))
    return rows


def start_server(validate: bool) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, str(ROOT / "tests" / "fhir_server.py"), "--port", "0"]
    if not validate:
        args.append("--no-validate")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"FHIR server did not start: {line!r}")
    return proc, line.removeprefix("READY ")


async def drain(outbox: Outbox, transport: HttpTransport, batch: int) -> tuple[float, int, int]:
    """Send everything pending; (seconds, requests, log rows delivered)."""
    loop = asyncio.get_running_loop()

    def run(target: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        return loop.run_in_executor(None, partial(target, *args))

    requests = rows = 0
    began = time.perf_counter()
    while (done := await deliver_next(outbox, transport, run, batch)) is not None:
        requests += 1
        rows += done.readings
    return time.perf_counter() - began, requests, rows


async def main_async(readings: int, validate: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        # Encrypted, as the integration opens it: every row read for a bundle is decrypted.
        store, _keyring = open_record(Path(tmp) / "bench.db", Path(tmp) / "keys_bench.json")
        began = time.perf_counter()
        rows = fill(store, readings)
        print(
            f"backlog: {readings} readings ({rows} log rows) stored in "
            f"{time.perf_counter() - began:.1f} s"
        )
        proc, base_url = start_server(validate)
        results: dict[str, tuple[float, int, int]] = {}
        try:
            async with aiohttp.ClientSession() as session:
                transport = HttpTransport(session, base_url)
                for label, batch in (("batched (100/bundle)", 100), ("one request per reading", 1)):
                    link = LinkProfile(
                        link_id=f"bench-{batch}",
                        scopes=SCOPES,
                        identified=False,
                        pseudonym_key=new_pseudonym_key(),
                    )
                    outbox = Outbox(store, link, ZoneInfo("Asia/Shanghai"))
                    results[label] = await drain(outbox, transport, batch)
                    assert outbox.pending_count() == 0
                async with session.get(base_url.removesuffix("/fhir") + "/_stats") as response:
                    stats = json.loads(await response.text())
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            store.close()
    print(f"FHIR server: 127.0.0.1, R4B validation {'on' if validate else 'off'}")
    print(f"{'mode':<26}{'requests':>9}{'seconds':>10}{'readings/s':>12}")
    rates = {}
    for label, (seconds, requests, delivered) in results.items():
        assert delivered == rows, (label, delivered, rows)
        rates[label] = readings / seconds
        print(f"{label:<26}{requests:>9}{seconds:>10.2f}{rates[label]:>12.0f}")
    batched, single = rates.values()
    print(f"ratio batched / one-per-reading: {batched / single:.1f}x")
    observations = stats["counts"].get("Observation", 0)
    print(f"server: {observations} Observations stored, entry statuses {stats['entry_status']}")
    # Exactly once per link: BP readings are one panel Observation each.
    expected = 2 * readings
    if observations != expected:
        print(f"MISMATCH: expected {expected} Observations")
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000)
    parser.add_argument("--validate", action="store_true", help="server validates with R4B")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(asyncio.run(main_async(args.readings, args.validate)))


if __name__ == "__main__":
    main()
