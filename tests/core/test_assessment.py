"""Assessment core: thresholds, overrides, NEWS2 findings, trends, stale data, device flags
and alert de-duplication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import random
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.smart_care.core.clinical.assessment import (
    DEFAULT_HYSTERESIS,
    DEFAULT_THRESHOLDS,
    DEVICE_FLAG_CODES,
    MEASUREMENT_GROUPS,
    AlertAction,
    AlertTracker,
    Finding,
    FindingKind,
    Level,
    Limits,
    Thresholds,
    TrendSettings,
    assess_device_flags,
    assess_news2,
    assess_sample,
    assess_stale,
    assess_trends,
    round_to_resolution,
    threshold_codes,
)
from custom_components.smart_care.core.clinical.vitals import (
    GLUCOSE_MGDL_PER_MMOLL,
    Vital,
    VitalSample,
)

NOW = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def sample(vital: Vital, value: float, time: datetime | None = NOW) -> VitalSample:
    return VitalSample(vital, value, time)


def level_of(vital: Vital, value: float, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Any:
    findings = assess_sample(sample(vital, value), thresholds)
    assert len(findings) <= 1
    return findings[0].level if findings else None


# --- Level ------------------------------------------------------------------------------


def test_levels_are_ordered_by_severity() -> None:
    assert Level.INFO < Level.WARNING < Level.URGENT < Level.CRITICAL
    assert sorted([Level.CRITICAL, Level.INFO, Level.URGENT, Level.WARNING]) == list(Level)
    assert max(Level.WARNING, Level.URGENT) is Level.URGENT
    assert Level.CRITICAL >= Level.CRITICAL
    assert Level.WARNING <= Level.URGENT
    # Alphabetically "critical" < "info"; by severity it is the opposite.
    assert Level.CRITICAL > "info"
    assert Level.INFO < "critical"
    assert [level.rank for level in Level] == [0, 1, 2, 3]
    assert Level.URGENT == "urgent"  # type: ignore[comparison-overlap]


# --- default thresholds at every boundary ---------------------------------------------------

W, U, C = Level.WARNING, Level.URGENT, Level.CRITICAL
BOUNDARIES: list[tuple[Vital, float, Level | None, str | None]] = [
    # systolic: ESC/ESH grade 1 and 3; NEWS2 <=100 (2 points) and <=90 (red)
    (Vital.SYSTOLIC_BP, 180, U, "high"),
    (Vital.SYSTOLIC_BP, 179, W, "high"),
    (Vital.SYSTOLIC_BP, 179.5, U, "high"),
    (Vital.SYSTOLIC_BP, 140, W, "high"),
    (Vital.SYSTOLIC_BP, 139, None, None),
    (Vital.SYSTOLIC_BP, 139.4, None, None),
    (Vital.SYSTOLIC_BP, 101, None, None),
    (Vital.SYSTOLIC_BP, 100, W, "low"),
    (Vital.SYSTOLIC_BP, 91, W, "low"),
    (Vital.SYSTOLIC_BP, 90, U, "low"),
    # diastolic
    (Vital.DIASTOLIC_BP, 110, U, "high"),
    (Vital.DIASTOLIC_BP, 109, W, "high"),
    (Vital.DIASTOLIC_BP, 90, W, "high"),
    (Vital.DIASTOLIC_BP, 89, None, None),
    (Vital.DIASTOLIC_BP, 40, None, None),
    # pulse: NEWS2 bands
    (Vital.PULSE, 131, U, "high"),
    (Vital.PULSE, 130, W, "high"),
    (Vital.PULSE, 111, W, "high"),
    (Vital.PULSE, 110, None, None),
    (Vital.PULSE, 51, None, None),
    (Vital.PULSE, 50, W, "low"),
    (Vital.PULSE, 41, W, "low"),
    (Vital.PULSE, 40, U, "low"),
    # temperature
    (Vital.TEMPERATURE, 39.1, U, "high"),
    (Vital.TEMPERATURE, 39.05, U, "high"),
    (Vital.TEMPERATURE, 39.0, W, "high"),
    (Vital.TEMPERATURE, 38.0, W, "high"),
    (Vital.TEMPERATURE, 37.95, W, "high"),
    (Vital.TEMPERATURE, 37.9, None, None),
    (Vital.TEMPERATURE, 35.1, None, None),
    (Vital.TEMPERATURE, 35.05, None, None),
    (Vital.TEMPERATURE, 35.0, U, "low"),
    # SpO2: BTS target, NEWS2 red, below every BTS target
    (Vital.SPO2, 94, None, None),
    (Vital.SPO2, 93, W, "low"),
    (Vital.SPO2, 92, W, "low"),
    (Vital.SPO2, 91, U, "low"),
    (Vital.SPO2, 88, U, "low"),
    (Vital.SPO2, 87.5, U, "low"),
    (Vital.SPO2, 87, C, "low"),
    (Vital.SPO2, 100, None, None),
    # respiration rate
    (Vital.RESPIRATION_RATE, 25, U, "high"),
    (Vital.RESPIRATION_RATE, 24, W, "high"),
    (Vital.RESPIRATION_RATE, 21, W, "high"),
    (Vital.RESPIRATION_RATE, 20, None, None),
    (Vital.RESPIRATION_RATE, 9, None, None),
    (Vital.RESPIRATION_RATE, 8, U, "low"),
    # glucose (mmol/L): ADA levels, TIR very high, HHS
    (Vital.GLUCOSE, 33.3, U, "high"),
    (Vital.GLUCOSE, 33.2, W, "high"),
    (Vital.GLUCOSE, 14.0, W, "high"),
    (Vital.GLUCOSE, 13.9, None, None),
    (Vital.GLUCOSE, 3.9, None, None),
    (Vital.GLUCOSE, 3.85, None, None),
    (Vital.GLUCOSE, 3.8, W, "low"),
    (Vital.GLUCOSE, 3.0, W, "low"),
    (Vital.GLUCOSE, 2.95, W, "low"),
    (Vital.GLUCOSE, 2.9, U, "low"),
    # not assessed by default
    (Vital.WEIGHT, 250, None, None),
    (Vital.HEART_RATE, 190, None, None),
    (Vital.BMI, 45, None, None),
]


@pytest.mark.parametrize(("vital", "value", "level", "side"), BOUNDARIES)
def test_default_threshold_boundaries(
    vital: Vital, value: float, level: Level | None, side: str | None
) -> None:
    findings = assess_sample(sample(vital, value))
    if level is None:
        assert findings == []
        return
    (finding,) = findings
    assert finding.level is level
    assert finding.kind is FindingKind.THRESHOLD
    assert finding.code == f"{vital.value}_{side}"
    assert finding.vital is vital
    assert finding.unit == sample(vital, value).unit
    assert finding.time == NOW
    assert finding.value == round_to_resolution(vital, value)
    assert finding.threshold is not None
    assert finding.placeholders["unit"] == finding.unit
    assert finding.placeholders["level"] == level.value
    if side == "high":
        assert finding.value >= finding.threshold
    else:
        assert finding.value <= finding.threshold


@pytest.mark.parametrize(
    ("mg_dl", "level"),
    [(70, None), (69, W), (54, W), (53, U), (250, None), (252.3, W), (599, W), (600, U)],
)
def test_glucose_from_mg_dl_matches_ada_wording(mg_dl: float, level: Level | None) -> None:
    # ADA: level 1 < 70 mg/dL, level 2 < 54 mg/dL; HHS >= 600 mg/dL.
    assert level_of(Vital.GLUCOSE, mg_dl / GLUCOSE_MGDL_PER_MMOLL) is level


def test_threshold_message_and_placeholders() -> None:
    (finding,) = assess_sample(sample(Vital.SYSTOLIC_BP, 183.2))
    assert finding.message == (
        "Systolic blood pressure 183 mmHg is at or above the urgent limit of 180 mmHg."
    )
    assert finding.placeholders == {
        "value": "183",
        "unit": "mmHg",
        "threshold": "180",
        "level": "urgent",
    }
    (low,) = assess_sample(sample(Vital.TEMPERATURE, 34.96))
    assert low.message == "Body temperature 35.0 °C is at or below the urgent limit of 35.0 °C."
    assert json.loads(json.dumps(low.as_dict()))["code"] == "temperature_low"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_sample_raises(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        assess_sample(sample(Vital.PULSE, value))


def test_threshold_codes() -> None:
    assert threshold_codes(Vital.SPO2) == ("spo2_high", "spo2_low")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(Vital)),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
)
def test_assess_never_raises_on_finite_values(vital: Vital, value: float) -> None:
    findings = assess_sample(sample(vital, value))
    assert len(findings) <= 1


def _rank(level: Level | None) -> int:
    return -1 if level is None else level.rank


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(DEFAULT_THRESHOLDS.limits)), st.floats(0, 1), st.floats(0, 1))
def test_level_is_monotonic_on_the_high_side(vital: Vital, a: float, b: float) -> None:
    limits = DEFAULT_THRESHOLDS.for_vital(vital).to_dict()
    lows = [v for k, v in limits.items() if k.endswith("_low")]
    floor = max(lows) + 1 if lows else 0.0
    span = 400.0
    low_value, high_value = sorted((floor + a * span, floor + b * span))
    assert _rank(level_of(vital, low_value)) <= _rank(level_of(vital, high_value))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(DEFAULT_THRESHOLDS.limits)), st.floats(0, 1), st.floats(0, 1))
def test_level_is_monotonic_on_the_low_side(vital: Vital, a: float, b: float) -> None:
    limits = DEFAULT_THRESHOLDS.for_vital(vital).to_dict()
    highs = [v for k, v in limits.items() if k.endswith("_high")]
    ceiling = min(highs) - 1 if highs else 100.0
    low_value, high_value = sorted((ceiling * a, ceiling * b))
    assert _rank(level_of(vital, low_value)) >= _rank(level_of(vital, high_value))


# --- per-person overrides ---------------------------------------------------------------


def test_override_changes_one_field_and_keeps_the_rest() -> None:
    person = DEFAULT_THRESHOLDS.with_overrides({"systolic_bp": {"warning_high": 150}})
    assert level_of(Vital.SYSTOLIC_BP, 145, person) is None
    assert level_of(Vital.SYSTOLIC_BP, 150, person) is Level.WARNING
    assert level_of(Vital.SYSTOLIC_BP, 180, person) is Level.URGENT
    assert level_of(Vital.SYSTOLIC_BP, 145) is Level.WARNING  # defaults untouched


def test_override_none_removes_a_limit_and_new_vitals_can_be_added() -> None:
    person = DEFAULT_THRESHOLDS.with_overrides(
        {
            Vital.SYSTOLIC_BP: {"warning_low": None},
            "heart_rate": {"warning_high": 120, "urgent_high": 150},
        }
    )
    assert level_of(Vital.SYSTOLIC_BP, 95, person) is None
    assert level_of(Vital.HEART_RATE, 150, person) is Level.URGENT
    assert person.for_vital(Vital.HEART_RATE) == Limits(warning_high=120, urgent_high=150)


def test_scale_2_person_can_lower_spo2_limits() -> None:
    person = DEFAULT_THRESHOLDS.with_overrides(
        {"spo2": {"critical_low": 83, "urgent_low": 85, "warning_low": 87}}
    )
    assert level_of(Vital.SPO2, 90, person) is None
    assert level_of(Vital.SPO2, 84, person) is Level.URGENT


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"systolic_bp": {"urgent_high": 130}}, r"systolic_bp\.urgent_high \(130\) must be above "
         r"systolic_bp\.warning_high \(140\)"),
        ({"systolic_bp": {"warning_high": 180}}, r"systolic_bp\.urgent_high"),
        ({"spo2": {"urgent_low": 95}}, r"spo2\.warning_low \(93\) must be above spo2\.urgent_low"),
        ({"pulse": {"warning_low": 120}}, r"pulse\.warning_high .* above pulse\.warning_low"),
        ({"blood_sugar": {"warning_high": 10}}, "unknown vital 'blood_sugar'"),
        ({"systolic_bp": {"high": 150}}, r"systolic_bp\.high is not a limit"),
        ({"systolic_bp": {"warning_high": "150"}}, r"systolic_bp\.warning_high must be a number"),
        ({"systolic_bp": {"warning_high": True}}, r"systolic_bp\.warning_high must be a number"),
        ({"pulse": {"urgent_high": float("nan")}}, r"pulse\.urgent_high must be finite"),
        ({"glucose": {"warning_high": 250}}, r"glucose\.warning_high 250 is outside .*wrong unit"),
        ({"temperature": {"warning_high": 39.1}}, r"temperature\.urgent_high .* must be above"),
        ({"systolic_bp": 150}, "systolic_bp: overrides must be a mapping"),
    ],
)  # fmt: skip
def test_invalid_overrides_name_the_field(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DEFAULT_THRESHOLDS.with_overrides(overrides)


def test_limits_validate_on_construction() -> None:
    with pytest.raises(ValueError, match=r"urgent_high \(130\) must be above warning_high"):
        Limits(warning_high=140, urgent_high=130)
    with pytest.raises(ValueError, match="warning_high"):
        Limits(warning_low=100, warning_high=100)


def test_thresholds_round_trip_through_json() -> None:
    person = DEFAULT_THRESHOLDS.with_overrides({"weight": {"warning_high": 95.5}})
    data = json.loads(json.dumps(person.to_dict()))
    assert Thresholds.from_dict(data) == person
    assert data["systolic_bp"] == {
        "urgent_low": 90.0,
        "warning_low": 100.0,
        "warning_high": 140.0,
        "urgent_high": 180.0,
    }
    assert Thresholds.from_dict({}).limits == {}
    assert assess_sample(sample(Vital.SYSTOLIC_BP, 250), Thresholds.from_dict({})) == []


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"nonsense": {}}, "unknown vital"),
        ({"pulse": {"urgent_high": 100, "warning_high": 120}}, r"pulse\.urgent_high"),
        ({"pulse": [1, 2]}, "pulse: limits must be a mapping"),
        ([], "thresholds must be a mapping"),
    ],
)
def test_from_dict_validates(data: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Thresholds.from_dict(data)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([Vital.SYSTOLIC_BP, Vital.PULSE, Vital.GLUCOSE, Vital.TEMPERATURE]),
    st.lists(st.floats(0, 1), min_size=1, max_size=6, unique=True),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_any_increasing_limits_round_trip(
    vital: Vital, fractions: list[float], keep: list[bool]
) -> None:
    from custom_components.smart_care.core.clinical.plausibility import PLAUSIBLE_RANGE

    low, high = PLAUSIBLE_RANGE[vital]
    values = sorted({round(low + f * (high - low), 1) for f in fractions})
    names = [
        n
        for n, k in zip(
            ("critical_low", "urgent_low", "warning_low", "warning_high", "urgent_high",
             "critical_high"),
            keep,
            strict=True,
        )
        if k
    ]  # fmt: skip
    chosen = dict(zip(names, values, strict=False))
    person = Thresholds.from_dict({vital.value: chosen})
    assert Thresholds.from_dict(json.loads(json.dumps(person.to_dict()))) == person


# --- NEWS2 assessment -------------------------------------------------------------------


def latest(**values: float) -> dict[Vital, VitalSample]:
    return {Vital(name): sample(Vital(name), value) for name, value in values.items()}


def test_news2_complete_normal_has_no_finding() -> None:
    result, finding = assess_news2(
        latest(respiration_rate=16, spo2=97, systolic_bp=128, pulse=70, temperature=36.8),
        NOW,
        on_oxygen=False,
        consciousness="A",
    )
    assert result.complete
    assert result.total == 0
    assert result.risk == "low"
    assert finding is None


def test_news2_complete_score_finding_has_total_and_risk() -> None:
    result, finding = assess_news2(
        latest(respiration_rate=22, spo2=97, systolic_bp=128, pulse=115, temperature=38.5),
        NOW,
        on_oxygen=False,
        consciousness="A",
    )
    assert (result.total, result.risk) == (5, "medium")
    assert finding is not None
    assert (finding.code, finding.level, finding.value) == ("news2_medium", Level.URGENT, 5)
    assert finding.placeholders["state"] == "complete"
    assert finding.placeholders["total"] == finding.placeholders["partial_total"] == "5"
    assert finding.placeholders["risk"] == finding.placeholders["partial_risk"] == "medium"
    assert finding.placeholders["missing"] == ""
    assert finding.placeholders["max_possible_total"] == "5"
    assert "partial" not in finding.message
    assert "Provisional" not in finding.message


def test_news2_partial_red_score_is_urgent() -> None:
    result, finding = assess_news2(latest(systolic_bp=88, pulse=80), NOW)
    assert not result.complete
    assert result.total is None
    assert result.risk is None
    assert result.partial_total == 3
    assert result.partial_risk == "low-medium"
    assert finding is not None
    assert finding.kind is FindingKind.NEWS2
    assert finding.level is Level.URGENT
    assert finding.code == "news2_low_medium"
    assert finding.value == 3
    assert finding.placeholders["state"] == "partial"
    assert finding.placeholders["total"] == "—"
    assert finding.placeholders["risk"] == "—"
    assert finding.placeholders["partial_total"] == "3"
    assert finding.placeholders["partial_risk"] == "low-medium"
    assert finding.placeholders["max_possible_total"] == str(result.max_possible_total)
    assert "respiration_rate" in finding.placeholders["missing"]
    assert "partial" in finding.message
    assert "at least low-medium" in finding.message
    assert "Provisional" in finding.message


def test_news2_partial_low_total_only_informs_even_if_it_could_be_high() -> None:
    result, finding = assess_news2(latest(pulse=115), NOW)
    assert result.max_possible_risk == "high"
    assert finding is not None
    assert finding.level is Level.INFO
    assert finding.code == "news2_low"


def test_news2_medium_and_high_levels() -> None:
    _, medium = assess_news2(latest(respiration_rate=22, pulse=115, temperature=38.5), NOW)
    assert medium is not None
    assert (medium.code, medium.level) == ("news2_medium", Level.URGENT)
    assert medium.threshold == 5
    result, high = assess_news2(latest(respiration_rate=26, pulse=115, temperature=39.5), NOW)
    assert high is not None
    assert (high.code, high.level) == ("news2_high", Level.CRITICAL)
    assert result.total is None
    assert high.value == result.partial_total == 7


def test_news2_uses_only_fresh_samples() -> None:
    hour = timedelta(hours=1)
    samples = {
        Vital.SYSTOLIC_BP: sample(Vital.SYSTOLIC_BP, 85, NOW - hour),  # exactly max_age: used
        Vital.PULSE: sample(Vital.PULSE, 135, NOW - hour - timedelta(seconds=1)),
        Vital.SPO2: sample(Vital.SPO2, 90, None),
    }
    result, _ = assess_news2(samples, NOW)
    assert result.scores == {"systolic_bp": 3}
    assert result.reasons["pulse"] == "older than 1 h"
    assert result.reasons["spo2"] == "no measurement time"
    future = {Vital.PULSE: sample(Vital.PULSE, 135, NOW + 2 * hour)}
    assert assess_news2(future, NOW)[0].reasons["pulse"] == "measurement time in the future"
    skewed = {Vital.PULSE: sample(Vital.PULSE, 135, NOW + timedelta(minutes=5))}
    assert assess_news2(skewed, NOW)[0].scores == {"pulse": 3}
    wider, _ = assess_news2(samples, NOW, max_age=timedelta(hours=2))
    assert wider.scores == {"systolic_bp": 3, "pulse": 3}


def test_news2_falls_back_to_heart_rate_and_skips_implausible() -> None:
    samples = {
        Vital.PULSE: sample(Vital.PULSE, 5),  # implausible: not scored
        Vital.HEART_RATE: sample(Vital.HEART_RATE, 95),
        Vital.RESPIRATION_RATE: sample(Vital.RESPIRATION_RATE, 500),
    }
    result, _ = assess_news2(samples, NOW)
    assert result.scores == {"pulse": 1}
    assert result.reasons["respiration_rate"] == "implausible value"


def test_news2_passes_oxygen_consciousness_and_scale() -> None:
    result, finding = assess_news2(
        latest(spo2=97), NOW, on_oxygen=True, consciousness="v", spo2_scale=2
    )
    assert result.scores == {"spo2": 3, "on_oxygen": 2, "consciousness": 3}
    assert result.spo2_scale == 2
    assert finding is not None
    assert finding.code == "news2_high"
    with pytest.raises(ValueError, match="consciousness"):
        assess_news2({}, NOW, consciousness="drowsy")


def test_news2_nothing_known_gives_no_finding() -> None:
    result, finding = assess_news2({}, NOW)
    assert result.total is None
    assert result.partial_total == 0
    assert not result.complete
    assert finding is None


# --- trends -----------------------------------------------------------------------------

T0 = NOW - timedelta(days=3)


def weights(*points: tuple[timedelta, float]) -> list[VitalSample]:
    return [sample(Vital.WEIGHT, value, T0 + offset) for offset, value in points]


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_weight_gain_exactly_two_kg_at_72_hours() -> None:
    history = weights((timedelta(0), 70.0), (timedelta(hours=72), 72.0))
    (finding,) = assess_trends(history, NOW)
    assert finding.code == "weight_gain_3d"
    assert finding.level is Level.WARNING
    assert finding.kind is FindingKind.TREND
    assert finding.value == 2.0
    assert finding.placeholders == {"gain": "2.0", "hours": "72", "from": "70.0", "to": "72.0"}


def test_weight_gain_just_outside_the_window_or_below_two_kg() -> None:
    late = weights((timedelta(0), 70.0), (timedelta(hours=72, seconds=1), 72.0))
    assert assess_trends(late, NOW + timedelta(seconds=1)) == []
    small = weights((timedelta(0), 70.0), (timedelta(hours=72), 71.9))
    assert assess_trends(small, NOW) == []


def test_weight_gain_is_exact_despite_float_representation() -> None:
    history = weights((timedelta(0), 69.3), (timedelta(hours=30), 71.3))
    assert codes(assess_trends(history, NOW)) == ["weight_gain_3d"]


def test_weight_gain_uses_lowest_weight_in_window_and_any_order() -> None:
    history = weights(
        (timedelta(hours=70), 71.0),
        (timedelta(hours=1), 70.5),
        (timedelta(hours=72), 72.4),
        (timedelta(hours=10), 70.4),
        (timedelta(hours=-30), 60.0),  # outside the 3 days before the latest reading
    )
    forward = assess_trends(history, NOW)
    random.Random(4).shuffle(history)
    assert assess_trends(history, NOW) == forward
    assert forward[0].placeholders["from"] == "70.4"
    assert forward[0].placeholders["gain"] == "2.0"


def test_weight_needs_two_readings_and_a_current_one() -> None:
    assert assess_trends(weights((timedelta(hours=72), 90.0)), NOW) == []
    history = weights((timedelta(0), 70.0), (timedelta(hours=24), 73.0))
    assert codes(assess_trends(history, T0 + timedelta(hours=24 + 72))) == ["weight_gain_3d"]
    assert assess_trends(history, T0 + timedelta(hours=24 + 72, seconds=1)) == []


def test_trends_ignore_future_and_untimed_samples() -> None:
    history = [
        *weights((timedelta(0), 70.0)),
        sample(Vital.WEIGHT, 75.0, NOW + timedelta(minutes=1)),
        sample(Vital.WEIGHT, 75.0, None),
        sample(Vital.WEIGHT, float("nan"), NOW),
    ]
    assert assess_trends(history, NOW) == []


def bp(vital: Vital, days_ago: float, value: float) -> VitalSample:
    return sample(vital, value, NOW - timedelta(days=days_ago))


def week_of(vital: Vital, values: list[float], start_days_ago: float) -> list[VitalSample]:
    return [bp(vital, start_days_ago - i, v) for i, v in enumerate(values)]


def test_weekly_systolic_rise() -> None:
    history = week_of(Vital.SYSTOLIC_BP, [124, 126, 125], 13) + week_of(
        Vital.SYSTOLIC_BP, [135, 136, 137], 6
    )
    findings = assess_trends(history, NOW)
    assert codes(findings) == ["systolic_bp_7day_rise", "bp_7day_mean_stage1"]
    rise = findings[0]
    assert rise.level is Level.WARNING
    assert rise.placeholders == {"mean": "136.0", "previous_mean": "125.0", "rise": "11.0"}
    assert findings[1].level is Level.INFO


def test_weekly_systolic_rise_needs_enough_readings_and_size() -> None:
    prev = week_of(Vital.SYSTOLIC_BP, [124, 126, 125], 13)
    assert codes(assess_trends(prev + week_of(Vital.SYSTOLIC_BP, [136, 137], 6), NOW)) == []
    two_prev = week_of(Vital.SYSTOLIC_BP, [124, 126], 13)
    this = week_of(Vital.SYSTOLIC_BP, [135, 136, 137], 6)
    assert codes(assess_trends(two_prev + this, NOW)) == ["bp_7day_mean_stage1"]
    just_under = week_of(Vital.SYSTOLIC_BP, [134.9, 135, 135], 6)  # mean 135.0 - 125.0 < 10?
    nine = week_of(Vital.SYSTOLIC_BP, [126, 126, 126], 13)
    assert codes(assess_trends(nine + just_under, NOW)) == ["bp_7day_mean_stage1"]
    below_home = week_of(Vital.SYSTOLIC_BP, [110, 110, 110], 13) + week_of(
        Vital.SYSTOLIC_BP, [134, 134, 134], 6
    )
    assert assess_trends(below_home, NOW) == []


def test_weekly_windows_are_half_open() -> None:
    # A reading exactly 7 days ago belongs to the previous week, not this one.
    prev = [bp(Vital.SYSTOLIC_BP, d, 120) for d in (7, 8, 9)]
    this = [bp(Vital.SYSTOLIC_BP, d, 140) for d in (0, 1, 6.99)]
    assert codes(assess_trends(prev + this, NOW))[0] == "systolic_bp_7day_rise"
    moved = [bp(Vital.SYSTOLIC_BP, d, 140) for d in (0, 1)] + [bp(Vital.SYSTOLIC_BP, 7, 140)]
    assert assess_trends(prev[1:] + moved, NOW) == []


def test_bp_stage1_from_diastolic_only() -> None:
    history = week_of(Vital.DIASTOLIC_BP, [84, 85, 86], 5) + week_of(
        Vital.SYSTOLIC_BP, [128, 129, 130], 5
    )
    (finding,) = assess_trends(history, NOW)
    assert finding.code == "bp_7day_mean_stage1"
    assert finding.vital is Vital.DIASTOLIC_BP
    assert finding.placeholders["diastolic_mean"] == "85.0"
    assert finding.placeholders["systolic_mean"] == "129.0"
    assert assess_trends(week_of(Vital.DIASTOLIC_BP, [84, 84, 86], 5), NOW) == []


def test_repeated_glucose_lows() -> None:
    lows = [bp(Vital.GLUCOSE, 1, 3.8), bp(Vital.GLUCOSE, 6.5, 3.1), bp(Vital.GLUCOSE, 2, 6.0)]
    (finding,) = assess_trends(lows, NOW)
    assert finding.code == "glucose_repeated_lows"
    assert finding.level is Level.WARNING
    assert finding.placeholders == {
        "count": "2",
        "days": "7",
        "threshold": "3.8",
        "lowest": "3.1",
    }
    not_low = [bp(Vital.GLUCOSE, 1, 3.8), bp(Vital.GLUCOSE, 2, 3.85)]  # 3.85 -> 3.9
    assert assess_trends(not_low, NOW) == []
    old = [bp(Vital.GLUCOSE, 1, 3.5), bp(Vital.GLUCOSE, 8, 3.5)]
    assert assess_trends(old, NOW) == []
    personal = DEFAULT_THRESHOLDS.with_overrides({"glucose": {"warning_low": None}})
    assert assess_trends(lows, NOW, thresholds=personal) == []


def test_trend_settings_are_parameters() -> None:
    history = weights((timedelta(0), 70.0), (timedelta(hours=72), 71.0))
    loose = TrendSettings(weight_gain_kg=1.0)
    assert codes(assess_trends(history, NOW, settings=loose)) == ["weight_gain_3d"]
    with pytest.raises(ValueError, match="weight_window"):
        TrendSettings(weight_window=timedelta(0))
    with pytest.raises(ValueError, match="min_readings"):
        TrendSettings(min_readings=0)


def test_trends_over_two_years_of_readings() -> None:
    rng = random.Random(7)
    history = [
        sample(vital, base + rng.uniform(-3, 3), NOW - timedelta(minutes=30 * i))
        for i in range(35_000)
        for vital, base in ((Vital.SYSTOLIC_BP, 128), (Vital.WEIGHT, 70))
    ]
    rng.shuffle(history)
    assert isinstance(assess_trends(history, NOW), list)


# --- stale data -------------------------------------------------------------------------


def test_stale_at_the_boundary() -> None:
    day = timedelta(hours=24)
    assert assess_stale({"blood_pressure": NOW - day}, {"blood_pressure": day}, NOW) == []
    (finding,) = assess_stale(
        {"blood_pressure": NOW - day - timedelta(seconds=1)}, {"blood_pressure": day}, NOW
    )
    assert finding.code == "stale_blood_pressure"
    assert finding.level is Level.WARNING
    assert finding.kind is FindingKind.STALE
    assert finding.placeholders["hours"] == "24"


def test_stale_message_and_placeholders() -> None:
    (finding,) = assess_stale(
        {"blood_pressure": NOW - timedelta(hours=26, minutes=40)},
        {"blood_pressure": timedelta(hours=24)},
        NOW,
    )
    assert finding.message == "No blood pressure reading for 26 h."
    assert finding.placeholders["hours"] == "26"
    assert finding.placeholders["days"] == "1"
    assert finding.placeholders["expected_hours"] == "24"
    assert finding.threshold == 24


def test_never_measured_and_unscheduled_groups() -> None:
    findings = assess_stale(
        {"weight": None, "glucose": NOW},
        {"weight": timedelta(days=1), "spo2": timedelta(days=1), "glucose": timedelta(hours=8)},
        NOW,
    )
    assert codes(findings) == ["no_data_weight", "no_data_spo2"]
    assert all(f.level is Level.INFO for f in findings)
    assert assess_stale({"temperature": NOW - timedelta(days=30)}, {}, NOW) == []


def test_future_reading_time_counts_as_fresh() -> None:
    schedule = {"temperature": timedelta(hours=12)}
    assert assess_stale({"temperature": NOW + timedelta(hours=1)}, schedule, NOW) == []


def test_stale_validates_schedule() -> None:
    with pytest.raises(ValueError, match="unknown measurement group 'bp'"):
        assess_stale({}, {"bp": timedelta(days=1)}, NOW)
    with pytest.raises(ValueError, match="positive"):
        assess_stale({}, {"weight": timedelta(0)}, NOW)
    assert set(MEASUREMENT_GROUPS) >= {"blood_pressure", "weight", "glucose", "spo2", "temperature"}


# --- device flags -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "code", "level"),
    [
        ("irregular_pulse", "device_irregular_pulse", W),
        ("body_movement", "device_body_movement", Level.INFO),
        ("cuff_too_loose", "device_cuff_too_loose", Level.INFO),
        ("improper_position", "device_improper_position", Level.INFO),
        ("pulse_rate_out_of_range", "device_pulse_rate_out_of_range", W),
        ("sensor_malfunction", "device_sensor_fault", Level.INFO),
        ("low_perfusion_detected", "device_poor_signal", Level.INFO),
        ("sensor_result_too_low", "device_result_out_of_range", U),
        ("strip_insertion_error", "device_strip_error", Level.INFO),
        ("Irregular Pulse", "device_irregular_pulse", W),
        ("cuff-too-loose", "device_cuff_too_loose", Level.INFO),
        ("data_for_testing", "device_test_data", Level.INFO),
    ],
)
def test_device_flags(flag: str, code: str, level: Level) -> None:
    (finding,) = assess_device_flags([flag])
    assert (finding.code, finding.level, finding.kind) == (code, level, FindingKind.DEVICE)
    assert finding.message


def test_every_decoder_flag_has_a_specific_code() -> None:
    from custom_components.smart_care.core.gatt.parser import STATUS_FLAG_NAMES

    for flag in sorted(STATUS_FLAG_NAMES):
        findings = assess_device_flags([flag])
        assert [f.code for f in findings if f.code == "device_status_other"] == [], flag


def test_position_advice_mentions_heart_level() -> None:
    (finding,) = assess_device_flags(["improper_position"])
    assert "seated" in finding.message
    assert "heart level" in finding.message


def test_device_flags_dedupe_ignore_benign_and_keep_unknown() -> None:
    findings = assess_device_flags(
        ["low_perfusion", "erratic_signal", "validated_data", "measurement_ongoing", "zap", ""]
    )
    assert codes(findings) == ["device_poor_signal", "device_status_other"]
    assert findings[0].placeholders == {"flags": "low_perfusion, erratic_signal"}
    assert findings[1].placeholders == {"flags": "zap"}
    assert assess_device_flags([]) == []
    assert all(code.startswith("device_") for code in DEVICE_FLAG_CODES.values())


# --- alert de-duplication ---------------------------------------------------------------


def minutes(n: int) -> datetime:
    return NOW + timedelta(minutes=n)


def feed(tracker: AlertTracker, values: list[float], start: int = 0) -> list[AlertAction]:
    """Feed systolic readings through assess_sample like the alert manager would."""
    actions = []
    high, _ = threshold_codes(Vital.SYSTOLIC_BP)
    for i, value in enumerate(values):
        time = minutes(start + i)
        findings = [
            f for f in assess_sample(sample(Vital.SYSTOLIC_BP, value, time)) if f.code == high
        ]
        if findings:
            actions.append(tracker.observe_finding(findings[0]).action)
        else:
            actions.append(tracker.observe(high, None, value, time).action)
    return actions


def test_flapping_around_a_threshold_raises_one_alert() -> None:
    tracker = AlertTracker()
    actions = feed(tracker, [141, 139, 142, 138, 141, 139, 140, 137, 141])
    assert actions.count(AlertAction.OPENED) == 1
    assert AlertAction.RESOLVED not in actions
    assert list(tracker.alerts) == ["systolic_bp_high"]


def test_resolves_after_consecutive_normal_readings() -> None:
    tracker = AlertTracker()
    actions = feed(tracker, [145, 139, 138, 137])
    assert actions == [AlertAction.OPENED, AlertAction.KEPT, AlertAction.KEPT, AlertAction.RESOLVED]
    assert tracker.alerts == {}


def test_resolves_at_once_when_clear_of_the_hysteresis_margin() -> None:
    tracker = AlertTracker()
    assert feed(tracker, [145, 136]) == [AlertAction.OPENED, AlertAction.KEPT]
    assert feed(tracker, [135], start=2) == [AlertAction.RESOLVED]


def test_escalates_without_opening_a_second_alert() -> None:
    tracker = AlertTracker()
    actions = feed(tracker, [145, 185, 150])
    assert actions == [AlertAction.OPENED, AlertAction.ESCALATED, AlertAction.KEPT]
    alert = tracker.alerts["systolic_bp_high"]
    assert alert.level is Level.URGENT  # peak is kept
    assert alert.current_level is Level.WARNING
    assert alert.threshold == 140  # least severe limit seen: where normal begins
    assert alert.opened_at == minutes(0)


def test_threshold_for_resolution_is_the_least_severe_limit_seen() -> None:
    tracker = AlertTracker()
    assert feed(tracker, [185, 150, 137]) == [
        AlertAction.OPENED,
        AlertAction.KEPT,
        AlertAction.KEPT,
    ]
    assert feed(tracker, [135], start=3) == [AlertAction.RESOLVED]


def test_urgent_first_reading_still_resolves_relative_to_the_normal_range() -> None:
    # The finding carries where normal begins (140), so 136 is not yet clear of the margin.
    (urgent,) = assess_sample(sample(Vital.SYSTOLIC_BP, 180))
    assert (urgent.threshold, urgent.normal_limit) == (180, 140)
    tracker = AlertTracker()
    assert feed(tracker, [180, 136]) == [AlertAction.OPENED, AlertAction.KEPT]
    assert tracker.alerts["systolic_bp_high"].threshold == 140


def test_low_side_hysteresis() -> None:
    tracker = AlertTracker()
    (finding,) = assess_sample(sample(Vital.SPO2, 93))
    assert tracker.observe_finding(finding).action is AlertAction.OPENED
    assert tracker.observe("spo2_low", None, 94, minutes(1)).action is AlertAction.KEPT
    assert tracker.observe("spo2_low", None, 95, minutes(2)).action is AlertAction.RESOLVED
    assert DEFAULT_HYSTERESIS[Vital.SPO2] == 2


def test_relative_margin_when_no_absolute_margin_is_given() -> None:
    tracker = AlertTracker(relative_margin=0.05)
    tracker.observe("x_high", Level.WARNING, 101, minutes(0), threshold=100)
    assert tracker.observe("x_high", None, 96, minutes(1)).action is AlertAction.KEPT
    assert tracker.observe("x_high", None, 95, minutes(2)).action is AlertAction.RESOLVED


def test_alerts_without_values_resolve_by_count() -> None:
    tracker = AlertTracker(clear_after=2)
    (stale,) = assess_stale({"weight": None}, {"weight": timedelta(days=1)}, NOW)
    assert tracker.observe_finding(stale).action is AlertAction.OPENED
    assert tracker.observe(stale.code, None, None, minutes(1)).action is AlertAction.KEPT
    assert tracker.observe(stale.code, None, None, minutes(2)).action is AlertAction.RESOLVED


def test_unknown_code_normal_reading_and_out_of_order_observations() -> None:
    tracker = AlertTracker()
    assert tracker.observe("pulse_high", None, 80, minutes(0)).action is AlertAction.NONE
    tracker.observe("pulse_high", Level.WARNING, 120, minutes(10), threshold=111)
    old = tracker.observe("pulse_high", None, 60, minutes(5))
    assert old.action is AlertAction.IGNORED
    assert "pulse_high" in tracker.alerts


def test_explicit_resolve() -> None:
    tracker = AlertTracker()
    tracker.observe("news2_medium", Level.URGENT, 5, minutes(0))
    update = tracker.resolve("news2_medium", minutes(1))
    assert update.action is AlertAction.RESOLVED
    assert update.previous_level is Level.URGENT
    assert tracker.resolve("news2_medium", minutes(2)).action is AlertAction.NONE


def test_observe_finding_needs_a_time() -> None:
    (device,) = assess_device_flags(["irregular_pulse"])
    with pytest.raises(ValueError, match="time"):
        AlertTracker().observe_finding(device)
    assert AlertTracker().observe_finding(device, NOW).action is AlertAction.OPENED


def test_tracker_state_survives_json_mid_episode() -> None:
    tracker = AlertTracker(clear_after=4)
    feed(tracker, [145, 185, 139])
    restored = AlertTracker.from_dict(json.loads(json.dumps(tracker.to_dict())))
    assert restored.alerts == tracker.alerts
    assert restored.clear_after == 4
    assert feed(restored, [138, 137], start=3) == feed(tracker, [138, 137], start=3)


def test_tracker_rejects_bad_settings_and_state() -> None:
    with pytest.raises(ValueError, match="clear_after"):
        AlertTracker(clear_after=0)
    with pytest.raises(ValueError, match="relative_margin"):
        AlertTracker(relative_margin=1.5)
    state = AlertTracker().to_dict()
    tracker = AlertTracker()
    tracker.observe("a", Level.INFO, 1, NOW, threshold=0)
    state = tracker.to_dict()
    state["alerts"][0]["direction"] = "sideways"
    with pytest.raises(ValueError, match="direction"):
        AlertTracker.from_dict(state)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(135.5, 200), min_size=1, max_size=60))
def test_values_never_clear_of_the_margin_open_one_alert(values: list[float]) -> None:
    # clear_after larger than the stream: only the margin could resolve, and it never does.
    tracker = AlertTracker(clear_after=1000)
    actions = feed(tracker, values)
    assert actions.count(AlertAction.OPENED) <= 1
    assert AlertAction.RESOLVED not in actions
    if any(round(v) >= 140 for v in values):
        assert actions.count(AlertAction.OPENED) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(100, 200), min_size=1, max_size=60))
def test_each_episode_opens_once_and_resolves_once(values: list[float]) -> None:
    tracker = AlertTracker()
    actions = feed(tracker, values)
    opened = actions.count(AlertAction.OPENED)
    resolved = actions.count(AlertAction.RESOLVED)
    assert resolved <= opened <= resolved + 1
    assert (opened == resolved + 1) == bool(tracker.alerts)


# --- documentation stays true -----------------------------------------------------------

DOCS = Path(__file__).parents[2] / "docs" / "thresholds.md"
DOC_VITALS = {
    "Systolic BP": Vital.SYSTOLIC_BP,
    "Diastolic BP": Vital.DIASTOLIC_BP,
    "Pulse": Vital.PULSE,
    "Temperature": Vital.TEMPERATURE,
    "SpO2": Vital.SPO2,
    "Respiration rate": Vital.RESPIRATION_RATE,
    "Glucose": Vital.GLUCOSE,
}


def test_docs_table_matches_default_thresholds() -> None:
    documented: dict[str, dict[str, float]] = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[1].startswith("`"):
            continue
        name = cells[0].split(" (")[0]
        if name not in DOC_VITALS:
            continue
        field_name = cells[1].strip("`")
        value = float(cells[2].split()[1])
        assert cells[2].startswith("≥" if field_name.endswith("_high") else "≤"), line
        assert cells[3] == field_name.split("_")[0], line
        documented.setdefault(DOC_VITALS[name].value, {})[field_name] = value
    assert documented == DEFAULT_THRESHOLDS.to_dict()


# --- edges of the small helpers ---------------------------------------------------------


def test_level_does_not_compare_with_other_things() -> None:
    with pytest.raises(TypeError):
        _ = Level.INFO < 3  # type: ignore[operator]
    # A string that is not a level falls back to plain string comparison.
    assert (Level.INFO < "zzz") is True


def test_thresholds_reject_non_limits_and_bad_trend_settings() -> None:
    with pytest.raises(ValueError, match="pulse: expected Limits"):
        Thresholds({Vital.PULSE: {"warning_high": 100}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="weight_gain_kg"):
        TrendSettings(weight_gain_kg=0)
    assert Limits(warning_low=3).normal_limit("high") is None
    assert Limits(critical_high=200).normal_limit("high") == 200


def test_tracker_infers_low_direction_and_validates_state_numbers() -> None:
    tracker = AlertTracker(relative_margin=0.05)
    tracker.observe("y_low", Level.WARNING, 90, minutes(0), threshold=100)
    assert tracker.alerts["y_low"].direction == "low"
    assert tracker.observe("y_low", None, 104, minutes(1)).action is AlertAction.KEPT
    assert tracker.observe("y_low", None, 105, minutes(2)).action is AlertAction.RESOLVED
    state = AlertTracker().to_dict()
    tracker.observe("z", Level.INFO, 1, minutes(3))
    state = tracker.to_dict()
    state["alerts"][0]["value"] = "high"
    with pytest.raises(ValueError, match="expected a number"):
        AlertTracker.from_dict(state)
