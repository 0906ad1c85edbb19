"""Webhook fuzzing at scale: signed hostile bodies through the real handler (issue 17).

Run from the repository root (also ``benchmarks/run fuzz``):

    .venv/bin/python -m pytest benchmarks/bench_fuzz.py -s -q [-p no:sugar]

The same checks as ``tests/clinic/test_fuzz_webhook.py`` (every answer 2xx/4xx with a JSON body,
one audit row per request, nothing changed by a refusal, no error or traceback in the
log) over more bodies: ``SMART_CARE_FUZZ_BODIES`` (default 50,000; 2,000 under --quick).
Prints bodies/s for drawing and for posting.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
import sys
import time

from homeassistant.core import HomeAssistant
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import emit, scaled  # noqa: E402

from tests.clinic.test_fuzz_webhook import fuzz  # noqa: E402
from tests.clinic.test_webhook import Clinic, clinic  # noqa: E402, F401 (fixture)
from tests.support.clinic_support import alerts, record  # noqa: E402
from tests.support.fuzz_bodies import hostile_bodies, kinds  # noqa: E402

pytest_plugins = ["tests.conftest"]


async def test_bench_fuzz(
    hass: HomeAssistant,
    clinic: Clinic,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    count = int(os.environ.get("SMART_CARE_FUZZ_BODIES", scaled(50_000, 2_000)))
    caplog.set_level(logging.INFO, logger="custom_components.smart_care.clinic.webhook")
    await record(hass, systolic=190, diastolic=100)
    alert_id = alerts(hass).active_alerts()[0].alert_id
    started = time.perf_counter()
    bodies = hostile_bodies(clinic.pseudonym, alert_id, count)
    drawn = time.perf_counter()
    statuses = await fuzz(hass, clinic, bodies)
    posted = time.perf_counter()
    for rec in caplog.records:
        assert rec.exc_info is None, rec.getMessage()
        assert rec.levelno < logging.ERROR, rec.getMessage()
    print(f"fuzz: {len(bodies)} bodies {kinds(bodies)}, statuses {sorted(statuses.items())}")
    emit("fuzz_bodies", len(bodies), "bodies", note="signed, all checks passed")
    emit("fuzz_draw_rate", len(bodies) / (drawn - started), "bodies/s")
    emit("fuzz_post_rate", len(bodies) / (posted - drawn), "bodies/s")
