"""TrendState: a person's trend window kept on append gives what assess_trends gives over the
same samples, keeps what it should, drops what left the window and never keeps a pending one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import random

from hypothesis import given, settings, strategies as st

from custom_components.smart_care.core.clinical.assessment import (
    DEFAULT_THRESHOLDS,
    TrendState,
    assess_trends,
)
from custom_components.smart_care.core.clinical.vitals import Vital, VitalSample

NOW = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=15)
TRENDED = (Vital.WEIGHT, Vital.SYSTOLIC_BP, Vital.DIASTOLIC_BP, Vital.GLUCOSE)
# Values around every rule's limits, with the float steps that rounding has to get right.
VALUES = {
    Vital.WEIGHT: [69.3, 70.0, 70.05, 71.3, 72.0, 72.05, 73.0],
    Vital.SYSTOLIC_BP: [120.0, 134.5, 135.0, 140.0, 150.0],
    Vital.DIASTOLIC_BP: [80.0, 84.5, 85.0, 90.0],
    Vital.GLUCOSE: [3.0, 3.85, 3.9, 3.95, 5.5],
}


def random_history(seed: int, count: int) -> list[VitalSample]:
    rng = random.Random(seed)
    history: list[VitalSample] = []
    for _ in range(count):
        vital = rng.choice(TRENDED)
        # Whole hours often, so several samples share a time (ties between rows).
        when = NOW - timedelta(hours=rng.randrange(0, 15 * 24), minutes=rng.choice([0, 0, 30]))
        history.append(VitalSample(vital, rng.choice(VALUES[vital]), when))
    return history


def test_state_built_on_append_matches_assess_trends_at_every_step() -> None:
    """Samples arrive in any order (backfill): after each one the findings are the same."""
    history = random_history(seed=15, count=400)
    personal = DEFAULT_THRESHOLDS.with_overrides({"glucose": {"warning_low": 4.0}})
    state = TrendState()
    seen: list[VitalSample] = []
    for row_id, sample in enumerate(history, start=1):
        assert state.add(row_id, sample)
        seen.append(sample)
        # Compare in row-id order: assess_trends breaks ties between equal times by order.
        for thresholds in (DEFAULT_THRESHOLDS, personal):
            assert state.assess(NOW, thresholds=thresholds) == assess_trends(
                sorted(seen, key=lambda s: s.time or NOW), NOW, thresholds=thresholds
            )
    assert len(state) == len(history)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(0, 60),
    hours_back=st.integers(0, 72),
    pending_count=st.integers(0, 3),
)
def test_pending_samples_are_seen_as_if_appended_then_forgotten(
    seed: int, count: int, hours_back: int, pending_count: int
) -> None:
    history = random_history(seed, count)
    pending = random_history(seed + 1, pending_count)
    now = NOW - timedelta(hours=hours_back)  # some samples lie after ``now``: not seen
    state = TrendState()
    for row_id, sample in enumerate(history, start=1):
        state.add(row_id, sample)
    before = state.assess(now)
    ordered = sorted(history, key=lambda s: s.time or now)
    # Pending samples sort after stored ones of the same time, in their own order.
    expected = assess_trends(sorted(ordered + pending, key=lambda s: s.time or now), now)
    assert state.assess(now, pending=pending) == expected
    assert state.assess(now) == before
    assert len(state) == len(history)


def test_a_row_is_kept_once_and_untrended_or_untimed_samples_not_at_all() -> None:
    state = TrendState()
    weight = VitalSample(Vital.WEIGHT, 70.0, NOW - timedelta(days=1))
    assert state.add(7, weight)
    assert not state.add(7, VitalSample(Vital.WEIGHT, 99.0, NOW))  # a repeat of row 7
    assert not state.add(8, VitalSample(Vital.TEMPERATURE, 39.5, NOW))
    assert not state.add(9, VitalSample(Vital.WEIGHT, 72.0, None))
    assert not state.add(10, VitalSample(Vital.WEIGHT, float("inf"), NOW))
    assert len(state) == 1
    assert 7 in state
    assert 8 not in state
    # Row 7 alone: no gain; a second weight of +2 kg makes one.
    assert state.assess(NOW) == []
    assert state.add(11, VitalSample(Vital.WEIGHT, 72.0, NOW))
    assert [f.code for f in state.assess(NOW)] == ["weight_gain_3d"]


def test_prune_drops_what_left_the_window_and_forgets_its_rows() -> None:
    state = TrendState()
    lows = [VitalSample(Vital.GLUCOSE, 3.0, NOW - timedelta(days=d)) for d in (1, 2, 20)]
    for row_id, sample in enumerate(lows, start=1):
        state.add(row_id, sample)
    thresholds = DEFAULT_THRESHOLDS
    assert [f.placeholders["count"] for f in state.assess(NOW, thresholds=thresholds)] == ["2"]
    state.prune(NOW - WINDOW)
    assert len(state) == 2
    assert 3 not in state
    # The same findings: the dropped row was outside every rule's window anyway.
    assert [f.placeholders["count"] for f in state.assess(NOW, thresholds=thresholds)] == ["2"]
    state.prune(NOW - timedelta(days=1, hours=12))
    assert len(state) == 1
    assert 1 in state
    assert state.assess(NOW) == []
    # A pruned row id can be kept again (a reading reassigned back, say).
    assert state.add(2, lows[1])
    assert [f.code for f in state.assess(NOW)] == ["glucose_repeated_lows"]
