"""NEWS2: every band edge, scale 2, risk rules, partial scores and input validation."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
import json
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.smart_care.core.clinical.news2 import (
    MAX_SCORE,
    NEWS2_RESPONSE,
    PARAMETER_NAMES,
    PARAMETERS,
    News2Risk,
    fahrenheit_to_celsius,
    news2,
    news2_risk,
)


def score_of(parameter: str, value: Any, **extra: Any) -> int:
    result = news2(**{parameter: value}, **extra)
    return result.scores[parameter]


# --- band edges: both sides of every boundary --------------------------------------------


@pytest.mark.parametrize(
    ("value", "score"),
    [
        (3, 3),
        (8, 3),
        (9, 1),
        (11, 1),
        (12, 0),
        (20, 0),
        (21, 2),
        (24, 2),
        (25, 3),
        (40, 3),
        # half-up rounding to whole breaths before banding
        (8.4, 3),
        (8.5, 1),
        (11.5, 0),
        (20.49, 0),
        (20.5, 2),
        (24.5, 3),
    ],
)
def test_respiration_rate_bands(value: float, score: int) -> None:
    assert score_of("respiration_rate", value) == score


@pytest.mark.parametrize(
    ("value", "score"),
    [
        (85, 3),
        (91, 3),
        (92, 2),
        (93, 2),
        (94, 1),
        (95, 1),
        (96, 0),
        (100, 0),
        (91.4, 3),
        (91.5, 2),
        (95.4, 1),
        (95.5, 0),  # convention case: 95.5 -> 96 -> 0
    ],
)
def test_spo2_scale_1_bands(value: float, score: int) -> None:
    assert score_of("spo2", value) == score
    # On scale 1 oxygen does not change the SpO2 score; it is scored on its own.
    on_oxygen = news2(spo2=value, on_oxygen=True)
    assert on_oxygen.scores["spo2"] == score
    assert on_oxygen.scores["on_oxygen"] == 2


@pytest.mark.parametrize(
    ("value", "on_oxygen", "score"),
    [
        (80, None, 3),
        (83, False, 3),
        (84, True, 2),
        (85, None, 2),
        (86, False, 1),
        (87, True, 1),
        (88, None, 0),
        (92, True, 0),
        (92, False, 0),
        (93, False, 0),
        (100, False, 0),
        (93, True, 1),
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (100, True, 3),
        (83.5, None, 2),
        (92.4, None, 0),
        (92.5, True, 1),  # rounds to 93 on oxygen
        (96.5, True, 3),
    ],
)
def test_spo2_scale_2_bands(value: float, on_oxygen: bool | None, score: int) -> None:
    result = news2(spo2=value, spo2_scale=2, on_oxygen=on_oxygen)
    assert result.scores["spo2"] == score
    if on_oxygen is not None:
        assert result.scores["on_oxygen"] == (2 if on_oxygen else 0)
    assert result.spo2_scale == 2


def test_scale_2_on_oxygen_adds_both_scores() -> None:
    result = news2(spo2=97, spo2_scale=2, on_oxygen=True)
    assert result.scores == {"spo2": 3, "on_oxygen": 2}
    assert result.total is None
    assert result.partial_total == 5
    assert complete(spo2=97, spo2_scale=2, on_oxygen=True).total == 5


@pytest.mark.parametrize("value", [93, 95, 97, 100, 92.5])
def test_scale_2_at_93_or_more_needs_oxygen_status(value: float) -> None:
    result = news2(spo2=value, spo2_scale=2)
    assert "spo2" not in result.scores
    assert result.missing[:3] == ("respiration_rate", "spo2", "on_oxygen")
    assert "air/oxygen" in result.reasons["spo2"]
    assert result.reasons["on_oxygen"] == "not given"
    assert not result.complete


def test_scale_2_unscored_spo2_ceiling_is_the_oxygen_band() -> None:
    # 93 % on oxygen would score 1 (+2 for oxygen); on air 0: the ceiling is 1 + 2.
    result = news2(
        respiration_rate=16, spo2=93, spo2_scale=2, systolic_bp=120, pulse=70,
        consciousness="A", temperature_c=37.0,
    )  # fmt: skip
    assert result.missing == ("spo2", "on_oxygen")
    assert result.total is None
    assert result.risk is None
    assert result.partial_total == 0
    assert result.partial_risk == News2Risk.LOW
    assert result.max_possible_total == 3
    assert result.max_possible_risk == News2Risk.LOW


@pytest.mark.parametrize(
    ("value", "score"),
    [
        (70, 3),
        (90, 3),
        (91, 2),
        (100, 2),
        (101, 1),
        (110, 1),
        (111, 0),
        (219, 0),
        (220, 3),
        (260, 3),
        (90.5, 2),
        (110.5, 0),
        (219.5, 3),
    ],
)
def test_systolic_bp_bands(value: float, score: int) -> None:
    assert score_of("systolic_bp", value) == score


@pytest.mark.parametrize(
    ("value", "score"),
    [
        (30, 3),
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
        (180, 3),
        (40.5, 1),
        (50.49, 1),
        (50.5, 0),
        (130.5, 3),
    ],
)
def test_pulse_bands(value: float, score: int) -> None:
    assert score_of("pulse", value) == score


@pytest.mark.parametrize(
    ("value", "score"),
    [
        (34.0, 3),
        (35.0, 3),
        (35.04, 3),
        (35.05, 1),  # convention case: 35.05 -> 35.1 -> 1
        (35.1, 1),
        (36.0, 1),
        (36.04, 1),
        (36.05, 0),
        (36.1, 0),
        (38.0, 0),
        (38.04, 0),
        (38.05, 1),  # convention case: 38.05 -> 38.1 -> 1
        (38.1, 1),
        (39.0, 1),
        (39.05, 2),
        (39.1, 2),
        (41.0, 2),
        (Decimal("38.05"), 1),
    ],
)
def test_temperature_bands(value: float, score: int) -> None:
    assert score_of("temperature_c", value) == score


@pytest.mark.parametrize(
    ("fahrenheit", "score"),
    [(100.4, 0), (100.5, 1), (102.2, 1), (102.4, 2), (95.0, 3), (95.2, 1)],
)
def test_fahrenheit_is_converted_then_rounded(fahrenheit: float, score: int) -> None:
    # 100.4 °F is exactly 38.0 °C (0 points), 95.0 °F is 35.0 °C, 95.2 °F is 35.1 °C.
    assert score_of("temperature_c", fahrenheit_to_celsius(fahrenheit)) == score


@pytest.mark.parametrize(
    ("level", "score"),
    [("A", 0), ("a", 0), ("C", 3), ("c", 3), ("V", 3), ("v", 3), ("P", 3), ("U", 3), ("u", 3)],
)
def test_consciousness_acvpu(level: str, score: int) -> None:
    assert score_of("consciousness", level) == score


@pytest.mark.parametrize("level", ["X", "", "alert", "AV", " A", 0, True])
def test_consciousness_rejects_anything_else(level: Any) -> None:
    with pytest.raises(ValueError, match="consciousness"):
        news2(consciousness=level)


def test_air_or_oxygen_scores() -> None:
    assert news2(on_oxygen=True).scores == {"on_oxygen": 2}
    assert news2(on_oxygen=False).scores == {"on_oxygen": 0}


# --- risk rules -------------------------------------------------------------------------

NORMAL: dict[str, Any] = {
    "respiration_rate": 16,
    "spo2": 98,
    "on_oxygen": False,
    "systolic_bp": 125,
    "pulse": 72,
    "consciousness": "A",
    "temperature_c": 37.0,
}


def complete(**changes: Any) -> Any:
    return news2(**{**NORMAL, **changes})


def test_all_normal_is_complete_zero_low() -> None:
    result = complete()
    assert result.complete
    assert result.missing == ()
    assert result.total == result.partial_total == 0
    assert result.risk == result.partial_risk == "low"
    assert not result.risk_is_lower_bound
    assert result.label == "0"
    assert result.response == "Ward-based response"
    assert result.max_possible_total == 0
    assert result.scores == dict.fromkeys(PARAMETERS, 0)
    assert list(result.scores) == list(PARAMETERS)


def test_single_three_with_aggregate_three_is_low_medium() -> None:
    result = complete(consciousness="C")
    assert (result.total, result.risk) == (3, News2Risk.LOW_MEDIUM)
    assert (result.partial_total, result.partial_risk) == (3, News2Risk.LOW_MEDIUM)
    assert result.red_parameters == ("consciousness",)
    assert result.response == "Urgent ward-based response"


def test_single_three_with_aggregate_four_is_low_medium() -> None:
    result = complete(systolic_bp=90, temperature_c=38.5)
    assert (result.total, result.risk) == (4, "low-medium")


def test_single_three_with_aggregate_five_is_medium() -> None:
    result = complete(consciousness="C", respiration_rate=22)
    assert (result.total, result.risk) == (5, "medium")
    assert result.response == "Key threshold for urgent response"


def test_aggregate_four_without_red_is_low() -> None:
    result = complete(respiration_rate=22, pulse=115)
    assert (result.total, result.risk) == (4, "low")


def test_aggregate_five_and_six_without_red_are_medium() -> None:
    assert complete(respiration_rate=22, pulse=115, temperature_c=38.5).risk == "medium"
    six = complete(respiration_rate=22, pulse=115, spo2=93)
    assert (six.total, six.risk) == (6, "medium")


def test_aggregate_seven_is_high() -> None:
    result = complete(consciousness="C", respiration_rate=25, temperature_c=38.5)
    assert (result.total, result.risk) == (7, News2Risk.HIGH)
    assert result.response == "Urgent or emergency response"


def test_maximum_score() -> None:
    result = news2(
        respiration_rate=30, spo2=85, on_oxygen=True, systolic_bp=80, pulse=140,
        consciousness="U", temperature_c=34.0,
    )  # fmt: skip
    assert result.total == 20 == sum(MAX_SCORE.values())
    assert result.risk == "high"
    assert result.complete


@pytest.mark.parametrize(
    ("total", "red", "risk"),
    [
        (0, False, "low"),
        (4, False, "low"),
        (3, True, "low-medium"),
        (4, True, "low-medium"),
        (5, False, "medium"),
        (5, True, "medium"),
        (6, True, "medium"),
        (7, False, "high"),
        (7, True, "high"),
    ],
)
def test_risk_rules_priority(total: int, red: bool, risk: str) -> None:
    assert news2_risk(total, red) == risk


# --- partial scores ---------------------------------------------------------------------


def test_incomplete_no_rr() -> None:
    # Reference case 'incomplete-no-rr': NEWS2 is undefined with any parameter missing.
    known = {k: v for k, v in NORMAL.items() if k != "respiration_rate"}
    result = news2(**known)
    assert result.complete is False
    assert result.total is None
    assert result.risk is None
    assert result.missing == ("respiration_rate",)
    assert result.partial_total == 0 == sum(result.scores.values())
    assert result.partial_risk == News2Risk.LOW
    assert result.risk_is_lower_bound
    assert result.label == "0 (partial: respiration rate not measured)"
    assert result.max_possible_total == 3
    assert result.max_possible_risk == News2Risk.LOW_MEDIUM
    assert result.reasons == {"respiration_rate": "not given"}


def test_partial_label_and_lower_bound() -> None:
    result = news2(spo2=92, on_oxygen=False, systolic_bp=105, pulse=115, temperature_c=37.0)
    assert result.total is None
    assert result.risk is None
    assert result.partial_total == 5 == sum(result.scores.values())
    assert result.missing == ("respiration_rate", "consciousness")
    assert not result.complete
    assert result.label == "5 (partial: respiration rate, consciousness (ACVPU) not measured)"
    assert result.partial_risk == "medium"
    assert result.risk_is_lower_bound
    assert result.response == "Provisional (NEWS2 incomplete): Key threshold for urgent response"
    assert result.max_possible_total == 11
    assert result.max_possible_risk == "high"
    assert result.reasons == {"respiration_rate": "not given", "consciousness": "not given"}


def test_nothing_known() -> None:
    result = news2()
    assert result.total is None
    assert result.risk is None
    assert result.partial_total == 0
    assert result.partial_risk == "low"
    assert result.scores == {}
    assert result.missing == PARAMETERS
    assert not result.complete
    assert result.risk_is_lower_bound
    assert result.max_possible_total == 20
    assert result.label.startswith("0 (partial: respiration rate, oxygen saturation,")


def test_partial_red_score_already_establishes_low_medium() -> None:
    result = news2(systolic_bp=88)
    assert result.risk is None
    assert result.partial_risk == "low-medium"
    assert result.risk_is_lower_bound
    others = ", ".join(PARAMETER_NAMES[p] for p in PARAMETERS if p != "systolic_bp")
    assert result.label == f"3 (partial: {others} not measured)"
    assert "_" not in result.label
    assert result.response.startswith("Provisional")
    assert result.response.endswith("Urgent ward-based response")
    assert result.red_parameters == ("systolic_bp",)


def test_spo2_scale_is_not_a_parameter() -> None:
    result = news2(spo2_scale=2)
    assert "spo2_scale" not in result.missing
    assert "spo2_scale" not in result.scores


def test_result_is_frozen_and_json_ready() -> None:
    result = news2(pulse=120)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 0  # type: ignore[misc]
    data = json.loads(json.dumps(result.as_dict()))
    assert data["scores"] == {"pulse": 2}
    assert data["total"] is None
    assert data["risk"] is None
    assert data["partial_total"] == 2
    assert data["partial_risk"] == "low"
    assert data["complete"] is False
    assert data["missing"][0] == "respiration_rate"
    full = json.loads(json.dumps(complete(pulse=120).as_dict()))
    assert (full["total"], full["risk"]) == (2, "low")
    assert (full["partial_total"], full["partial_risk"]) == (2, "low")
    assert full["response"] == "Ward-based response"


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("spo2", 100.1),
        ("spo2", 101),
        ("spo2", -1),
        ("respiration_rate", 81),
        ("respiration_rate", -3),
        ("pulse", 301),
        ("pulse", -60),
        ("systolic_bp", 301),
        ("systolic_bp", -120),
        ("temperature_c", 24.9),
        ("temperature_c", 45.1),
        ("temperature_c", 98.6),  # Fahrenheit passed as Celsius
        ("pulse", float("nan")),
        ("spo2", float("inf")),
    ],
)
def test_absurd_values_raise(parameter: str, value: Any) -> None:
    with pytest.raises(ValueError, match=parameter):
        news2(**{parameter: value})


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("spo2", 100), ("respiration_rate", 80), ("pulse", 300), ("temperature_c", 25.0),
     ("temperature_c", 45.0), ("systolic_bp", 300)],
)  # fmt: skip
def test_extreme_but_possible_values_are_scored(parameter: str, value: Any) -> None:
    assert parameter in news2(**{parameter: value}).scores


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spo2": True}, "spo2 must be a number"),
        ({"pulse": "80"}, "pulse must be a number"),
        ({"on_oxygen": "yes"}, "on_oxygen"),
        ({"on_oxygen": 1}, "on_oxygen"),
        ({"spo2_scale": 3}, "spo2_scale"),
        ({"spo2_scale": True}, "spo2_scale"),
    ],
)
def test_wrong_types_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        news2(**kwargs)


# --- properties -------------------------------------------------------------------------

_OPTIONAL = st.none()
NEWS2_INPUTS = st.fixed_dictionaries(
    {
        "respiration_rate": _OPTIONAL | st.floats(2, 80),
        "spo2": _OPTIONAL | st.floats(50, 100),
        "spo2_scale": st.sampled_from([1, 2]),
        "on_oxygen": _OPTIONAL | st.booleans(),
        "systolic_bp": _OPTIONAL | st.floats(40, 300),
        "pulse": _OPTIONAL | st.floats(20, 300),
        "consciousness": _OPTIONAL | st.sampled_from("ACVPUacvpu"),
        "temperature_c": _OPTIONAL | st.floats(25, 45),
    }
)
RISK_RANK = {News2Risk.LOW: 0, News2Risk.LOW_MEDIUM: 1, News2Risk.MEDIUM: 2, News2Risk.HIGH: 3}


@settings(max_examples=400, deadline=None)
@given(NEWS2_INPUTS)
def test_result_invariants(kwargs: dict[str, Any]) -> None:
    result = news2(**kwargs)
    assert result.partial_total == sum(result.scores.values())
    # NEWS2 is defined only when complete: complete <=> total known <=> nothing missing.
    assert result.complete == (result.total is not None) == (not result.missing)
    assert (result.risk is not None) == result.complete
    if result.complete:
        assert (result.total, result.risk) == (result.partial_total, result.partial_risk)
        assert result.response == NEWS2_RESPONSE[result.partial_risk]
    else:
        assert result.response.startswith("Provisional")
        assert result.response.endswith(NEWS2_RESPONSE[result.partial_risk])
    assert result.risk_is_lower_bound == (not result.complete)
    assert set(result.scores).isdisjoint(result.missing)
    assert set(result.scores) | set(result.missing) == set(PARAMETERS)
    assert list(result.missing) == [p for p in PARAMETERS if p in result.missing]
    assert all(0 <= result.scores[p] <= MAX_SCORE[p] for p in result.scores)
    partial = result.partial_total
    assert result.partial_risk == news2_risk(partial, 3 in result.scores.values())
    assert partial <= result.max_possible_total
    assert result.max_possible_total <= partial + sum(MAX_SCORE[p] for p in result.missing)
    assert RISK_RANK[result.partial_risk] <= RISK_RANK[result.max_possible_risk]
    assert result.label.startswith(str(partial))
    assert ("partial" in result.label) == (not result.complete)
    # Risk ordering follows the aggregate.
    if partial >= 7:
        assert result.partial_risk == "high"
    elif partial >= 5:
        assert result.partial_risk == "medium"
    else:
        assert RISK_RANK[result.partial_risk] <= RISK_RANK[News2Risk.LOW_MEDIUM]


@settings(max_examples=400, deadline=None)
@given(NEWS2_INPUTS, NEWS2_INPUTS, st.data())
def test_adding_a_parameter_stays_within_the_announced_range(
    kwargs: dict[str, Any], other: dict[str, Any], data: st.DataObject
) -> None:
    before = news2(**kwargs)
    # Only parameters that were really unknown (a scale-2 SpO2 waiting for oxygen status
    # was given; its missing piece is on_oxygen).
    fillable = [
        p
        for p in before.missing
        if kwargs[p] is None and (other[p] is not None or p == "on_oxygen")
    ]
    if not fillable:
        return
    name = data.draw(st.sampled_from(fillable))
    value = other[name] if other[name] is not None else data.draw(st.booleans())
    after = news2(**{**kwargs, name: value})
    # Missing parameters can only add points: the partial risk is a true lower bound.
    assert before.total is None
    assert after.partial_total >= before.partial_total
    assert after.partial_total <= before.max_possible_total
    assert after.max_possible_total <= before.max_possible_total
    assert after.max_possible_total >= after.partial_total
    assert RISK_RANK[after.partial_risk] >= RISK_RANK[before.partial_risk]
    assert RISK_RANK[after.partial_risk] <= RISK_RANK[before.max_possible_risk]
    if after.complete:
        assert after.risk is not None
        assert RISK_RANK[after.risk] >= RISK_RANK[before.partial_risk]
    assert len(after.missing) <= len(before.missing)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["respiration_rate", "spo2", "systolic_bp", "pulse", "temperature_c"]),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=-9, max_value=9),
)
def test_a_whole_value_scores_alike_in_every_type(parameter: str, whole: int, tenth: int) -> None:
    """A whole value (which skips the rounding) scores as its Decimal, which is rounded to
    the chart's resolution; so does a value a tenth either side, which is rounded too."""
    for exact in (Decimal(whole), Decimal(whole) + Decimal(tenth) / 10):
        outcomes: set[object] = set()
        for value in (exact, float(exact), *([whole] if exact == whole else [])):
            try:
                outcomes.add(score_of(parameter, value))
            except ValueError as err:
                outcomes.add(("refused", "outside the plausible range" in str(err)))
        assert len(outcomes) == 1, outcomes
