"""Backfill: a glucose meter's 1,000 stored records (RACP) into a real HA with its recorder.

Run (benchmarks/run does this):

    .venv/bin/python -m pytest benchmarks/bench_backfill.py -p no:cacheprovider -s -q

A household with one person and HA's recorder (the statistics import is part of the path).
The meter is ``tests/fakes/ble_fakes.py``'s ``GlucoseMeter`` holding 1,000 records, one every
4 hours back from now (so every record is history: log and statistics, never the state).
Timed: from the meter's advertisement to the end of the transfer (the session ends after
the RACP "success"), i.e. notification -> decode -> attribution -> record (one fsync'd
transaction for the transfer's records) -> alert rules -> statistics import, plus the
recorder's commit of the imported statistics and events (its commit interval is HA's
shipped 5 s; the timed part ends with a forced commit). Baseline in the same run: 1,000
fsync'd ``append_many`` of one glucose value on a scratch store of the same kind (the
disk's own speed). A cProfile of the timed part is written to
``$BENCH_ARTIFACTS/backfill.prof``.
"""

from __future__ import annotations

from collections.abc import Iterator
import cProfile
from datetime import UTC, datetime, timedelta
import logging
import os
from pathlib import Path
import pstats
import sys
import time
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import (  # noqa: E402
    emit,
    enable_event_loop_debug,  # noqa: F401  (autouse fixture)
    production_log_level,  # noqa: F401  (autouse fixture)
    scaled,
)

from custom_components.smart_care.household.keys import open_record  # noqa: E402
from custom_components.smart_care.household.runtime import Household  # noqa: E402
from tests.conftest import add_person  # noqa: E402
from tests.fakes.ble_fakes import (  # noqa: E402
    GlucoseMeter,
    add_device_entry,
    fast_link,
    patch_gatt,
    wake,
)

pytest_plugins = ["tests.conftest"]

RECORDS = scaled(1000, 200)
METER = "C4:7C:8D:00:00:09"


@pytest.fixture
def recorder_config() -> dict[str, Any]:
    """The recorder as HA ships it: one commit every 5 s (the test fixture commits each event).

    The timed part ends with the recorder forced to commit what it holds
    (``async_wait_recording_done``), so nothing it was given goes untimed.
    """
    return {"commit_interval": 5}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None, enable_bluetooth: None
) -> Iterator[None]:
    """The recorder starts before hass is set up; Bluetooth with a mocked scanner."""
    with fast_link():
        yield


def raw_appends(path: Path, count: int) -> float:
    """Seconds for ``count`` fsync'd one-value appends (the baseline)."""
    store, _ = open_record(path / "raw.db", path / "raw_keys.json")
    try:
        start_at = datetime.now(UTC) - timedelta(days=200)
        begin = time.perf_counter()
        for seq in range(count):
            when = start_at + timedelta(hours=4 * seq)
            store.append_many(
                "p",
                [("glucose", 5.0 + seq % 50 / 10, "mmol/L", when, f"m|seq{seq}|glucose")],
                "device:meter",
                {"device": "meter", "kind": "glucose", "status_flags": []},
            )
        return time.perf_counter() - begin
    finally:
        store.close()


async def test_backfill(
    hass: HomeAssistant, household_entry: MockConfigEntry, tmp_path: Path
) -> None:
    # The recorder fixture logs every SQL statement (echo); a real HA does not.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    await add_person(hass, household_entry, alias="Grandma")
    household: Household = household_entry.runtime_data.household
    now = dt_util.now().replace(tzinfo=None, microsecond=0)
    meter = GlucoseMeter(METER)
    for seq in range(1, RECORDS + 1):
        # Oldest first, every 4 hours, the newest 4 hours ago (device clocks are local).
        meter.add_record(seq, now - timedelta(hours=4 * (RECORDS + 1 - seq)), 5.0 + seq % 50 / 10)

    profile = cProfile.Profile()
    with patch_gatt(meter):
        entry = await add_device_entry(hass, meter)
        profile.enable()
        begin = time.perf_counter()
        await wake(hass, meter)
        transfer = time.perf_counter() - begin
        await async_wait_recording_done(hass)
        seconds = time.perf_counter() - begin
        profile.disable()
    stored = await hass.async_add_executor_job(household.store.count)
    assert stored == RECORDS, stored
    assert entry is not None
    baseline = await hass.async_add_executor_job(raw_appends, tmp_path, RECORDS)
    emit(
        "backfill.racp_records",
        seconds,
        "s",
        target="<=2",
        note=f"{RECORDS} stored glucose records, advertisement -> transfer done "
        f"({transfer:.2f} s) -> statistics committed by the recorder; target is absolute",
    )
    emit(
        "backfill.vs_raw_appends",
        seconds,
        "s",
        baseline=baseline,
        note=f"baseline = {RECORDS} fsync'd one-value append_many on a scratch store",
    )
    out = os.environ.get("BENCH_ARTIFACTS")
    if out:
        profile.dump_stats(str(Path(out) / "backfill.prof"))
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(r"smart_care|sqlite|statistics", 25)
