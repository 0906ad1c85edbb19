"""Hostile clinic requests through the real webhook: validly signed, random JSON bodies.

Every answer is 2xx or 4xx (never 500), and a refused request changes nothing. Bodies are
drawn by hypothesis up front (a fixed seed), then posted through HA's HTTP server.
"""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, seed, settings, strategies as st

from custom_components.smart_care.webhook import REQUEST_TYPES

from .clinic_support import household, record
from .test_fuzz_schemas import JSON_LIKE
from .test_webhook import Clinic, clinic  # noqa: F401 (fixture)

EXAMPLES = 500
FIELDS = ["title", "text", "advice_id", "author", "thresholds", "alert_id", "days", "identified"]


def _bodies(pseudonym: str, alert_id: str) -> list[Any]:
    person = st.sampled_from([pseudonym, "sc-" + "a" * 26, "", "Grandma"]) | st.text(max_size=30)
    value = (
        JSON_LIKE
        | st.sampled_from([alert_id, "Blood pressure", "x" * 9000, 0, 90, 91, -1, True])
        | st.dictionaries(
            st.sampled_from(["systolic_bp", "spo2", "pulse", "nope"]),
            st.dictionaries(
                st.sampled_from(["warning_high", "critical_low", "urgent_high", "bogus"]),
                st.none() | st.floats() | st.integers() | st.booleans() | st.text(max_size=5),
                max_size=3,
            ),
            max_size=3,
        )
    )
    structured = st.fixed_dictionaries(
        {"type": st.sampled_from([*REQUEST_TYPES, "nope"]) | JSON_LIKE, "person": person},
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
            optional={"days": st.integers(-5, 100), "identified": st.booleans()},
        ),
        st.fixed_dictionaries(
            {"type": st.just("thresholds"), "person": person, "thresholds": value}
        ),
    )
    drawn: list[Any] = []

    @seed(20250401)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plausible | structured | JSON_LIKE)
    def collect(body: Any) -> None:
        drawn.append(body)

    collect()
    return drawn


async def _snapshot(hass: HomeAssistant) -> Any:
    hh = household(hass)
    advice = await hass.async_add_executor_job(hh.store.advice)
    alerts = [(a.alert_id, a.status) for a in hh.alerts.active_alerts()]
    return advice, json.dumps(hh.alerts.thresholds, default=str), alerts


async def test_random_signed_bodies_never_crash(hass: HomeAssistant, clinic: Clinic) -> None:  # noqa: F811
    await record(hass, systolic=190, diastolic=100)
    alert_id = household(hass).alerts.active_alerts()[0].alert_id
    bodies = _bodies(clinic.pseudonym, alert_id)
    sent: set[bytes] = set()
    statuses: dict[int, int] = {}
    now = int(dt_util.utcnow().timestamp())
    for body in bodies:
        raw = json.dumps(body).encode()
        if raw in sent:  # identical signed bytes would be a replay
            continue
        sent.add(raw)
        before = await _snapshot(hass)
        status, reply = await clinic.post(raw, timestamp=now)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (body, reply)
        assert status != 401, (body, reply)  # the signature is always valid here
        if status >= 400:
            assert await _snapshot(hass) == before, body
    # Hostile bodies that are not even JSON objects, and broken JSON.
    for raw in (b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b'{"type": "advice"' * 3):
        status, _ = await clinic.post(raw, timestamp=now)
        assert 400 <= status < 500
    print(f"webhook fuzz: {len(sent)} bodies, statuses {sorted(statuses.items())}")
    assert len(sent) >= EXAMPLES // 2
    assert any(400 <= s < 500 for s in statuses)
