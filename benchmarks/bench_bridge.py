"""Clinic bridge throughput: drain a backlog of readings to a real FHIR server.

Run from the repository root:

    .venv/bin/python benchmarks/bench_bridge.py [--readings 10000]

What it measures is the real delivery path of ``custom_components/smart_care/core/outbox.py``
(``Sender.drain``: read pending rows from the encrypted SQLite record, build FHIR
transaction bundles, POST them, wait for the answers, move the cursor in committed
transactions), run twice in the same process over the same backlog:

* **adaptive**: what the bridge does. It starts at 120 entries per transaction and learns
  from the server's refusals that its cap is small (Medplum: 8 conditional entries); then
  it resolves the Patient and gateway ids in one small transaction and sends the readings
  as FHIR ``batch`` bundles of conditional creates (up to 100 entries), a window of 4 in
  flight;
* **one request per reading**: the same code held at one reading per request (a
  transaction of gateway, Patient and Observation, 3 entries), one at a time.

The server is the suite's real FHIR server, ``tests/medplum/server.mjs`` (Medplum's router,
repository and validator in Node, in memory on 127.0.0.1; ``npm ci`` runs when needed). It
validates every resource and refuses any transaction of more than 8 conditional entries,
as Medplum does: that is the cap the adaptive bridge has to find. The two runs use two
clinic links (own cursors, own pseudonyms), so the server stores each set separately. At
the end the server is asked, by identifier, whether every reading arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
import os
from pathlib import Path
import sys
import tempfile
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.smart_care.core import fhir, outbox  # noqa: E402
from custom_components.smart_care.core.security import new_pseudonym_key  # noqa: E402
from custom_components.smart_care.core.store.record_store import RecordStore  # noqa: E402
from custom_components.smart_care.household.keys import open_record  # noqa: E402
from tests.support.fhir_medplum import MedplumServer  # noqa: E402

SCOPES = frozenset({"vital_signs"})
# (vital, value, unit) cycle: one reading each, a blood pressure reading has two values.
KINDS: list[list[tuple[str, float, str]]] = [
    [("systolic_bp", 120.0, "mmHg"), ("diastolic_bp", 80.0, "mmHg")],
    [("pulse", 70.0, "bpm")],
    [("spo2", 97.0, "%")],
    [("weight", 70.0, "kg")],
    [("temperature", 36.6, "°C")],
]
TARGET_RATE = 1000
TARGET_RATIO = 5


def fill(store: RecordStore, readings: int) -> int:
    """A backlog of ``readings`` readings of one person, a minute apart; returns rows."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = 0
    for n in range(readings):
        values = KINDS[n % len(KINDS)]
        when = start + timedelta(minutes=n)
        batch = [(v, value + (n % 7) / 10, unit, when, None) for v, value, unit in values]
        rows += len(store.append_many("person-1", batch, "manual", {}, f"reading-{n}"))
    return rows


async def drain(sender: outbox.Sender) -> tuple[float, int, int]:
    """Send everything pending; (seconds, bundles, log rows delivered)."""
    began = time.perf_counter()
    report = await sender.drain()
    return time.perf_counter() - began, report.bundles, report.readings


async def count(session: aiohttp.ClientSession, base: str, params: dict[str, str]) -> int:
    async with session.get(f"{base}/Observation", params={**params, "_count": "1"}) as reply:
        return int((await reply.json(content_type=None)).get("total", 0))


async def main_async(readings: int) -> int:
    loop = asyncio.get_running_loop()

    def run(target: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        return loop.run_in_executor(None, partial(target, *args))

    with tempfile.TemporaryDirectory() as tmp:
        # Encrypted, as the integration opens it: every row read for a bundle is decrypted.
        store, _keyring = open_record(Path(tmp) / "bench.db", Path(tmp) / "keys_bench.json")
        began = time.perf_counter()
        rows = fill(store, readings)
        print(
            f"backlog: {readings} readings ({rows} log rows) stored in "
            f"{time.perf_counter() - began:.1f} s"
        )
        server = MedplumServer()
        server.start()
        results: dict[str, tuple[float, int, int]] = {}
        boxes: dict[str, outbox.Outbox] = {}
        limits: dict[str, outbox.LinkLimits] = {}
        senders: dict[str, outbox.Sender] = {}
        try:
            async with aiohttp.ClientSession() as session:
                transport = outbox.HttpTransport(session, server.base_url)
                modes = (
                    ("adaptive", outbox.LinkLimits(), outbox.SenderProfile()),
                    # A reading needs 3 entries (gateway, Patient, Observation): held at 3.
                    (
                        "one request per reading",
                        outbox.LinkLimits(good=3, bad=4, refused_at=datetime.now(UTC)),
                        outbox.SenderProfile(max_in_flight=1, batch_below=0),
                    ),
                )
                for label, known, profile in modes:
                    link = outbox.LinkProfile(
                        link_id=f"bench-{label.split()[0]}",
                        scopes=SCOPES,
                        identified=False,
                        pseudonym_key=new_pseudonym_key(),
                    )
                    box = outbox.Outbox(store, link, ZoneInfo("Asia/Shanghai"))
                    sender = outbox.Sender(box, transport, run, known, profile)
                    results[label] = await drain(sender)
                    assert box.pending_count() == 0
                    boxes[label] = box
                    limits[label] = sender.limits
                    senders[label] = sender
                # Exactly once per link, asked the way a clinic would: by identifier.
                mismatches = 0
                for box in boxes.values():
                    sample = store.measurements_after(0, 50)
                    resources, _ = box.reading_resources(sample)
                    for resource in resources.values():
                        if resource["resourceType"] != "Observation":
                            continue
                        value = resource["identifier"][0]["value"]
                        token = f"{fhir.OBSERVATION_SYSTEM}|{value}"
                        if await count(session, server.base_url, {"identifier": token}) != 1:
                            mismatches += 1
                total = await count(session, server.base_url, {})
        finally:
            server.stop()
            store.close()
    print("FHIR server: Medplum fhir-router 4.5.2 (in memory, validating), 127.0.0.1")
    print(f"{'mode':<26}{'requests':>9}{'seconds':>10}{'readings/s':>12}")
    rates = {}
    for label, (seconds, requests, delivered) in results.items():
        assert delivered == rows, (label, delivered, rows)
        rates[label] = readings / seconds
        print(f"{label:<26}{requests:>9}{seconds:>10.2f}{rates[label]:>12.0f}")
    adaptive, single = rates["adaptive"], rates["one request per reading"]
    learned = limits["adaptive"]
    print(f"ratio adaptive / one-per-reading: {adaptive / single:.1f}x")
    batch = senders["adaptive"].batch_limits
    print(
        f"learned: transactions refused at {learned.bad} entries ({learned.refusals} "
        f"refusals); batches of up to {batch.good} entries accepted"
    )
    print(f"server: {total} Observations stored for {2 * readings} expected")
    requests = results["adaptive"][1]
    note = (
        f"{requests} requests to Medplum's router (small transaction cap learned in "
        f"{learned.refusals} refusals, then batches of up to {batch.good} entries, 4 in "
        f"flight); baseline = same code, one reading per transaction request"
    )
    print(
        f"RESULT bridge.drain_adaptive {adaptive:.0f} readings/s baseline={single:.0f} "
        f"ratio={adaptive / single:.3g} target={TARGET_RATE} note={note}"
    )
    print(
        f"RESULT bridge.adaptive_vs_one_per_reading {adaptive / single:.3g} x "
        f"target={TARGET_RATIO} note=same run, same server, same backlog"
    )
    # Exactly once per link: one Observation per reading (a BP reading is one panel).
    if total != 2 * readings or mismatches:
        print(f"MISMATCH: {total} Observations, {mismatches} identifiers not found exactly once")
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(asyncio.run(main_async(args.readings)))


if __name__ == "__main__":
    main()
