"""NEWS2 early-warning score (Royal College of Physicians, 2017), with honest partial scores.

Notes: docs/modules.md (core/clinical/news2.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
import math
from numbers import Real
from typing import Final

from .plausibility import PLAUSIBLE_RANGE
from .vitals import Vital, fahrenheit_to_celsius

__all__ = [
    "CONSCIOUSNESS_LEVELS",
    "MAX_SCORE",
    "NEWS2_RESPONSE",
    "PARAMETERS",
    "PARAMETER_NAMES",
    "News2Result",
    "News2Risk",
    "fahrenheit_to_celsius",
    "news2",
    "news2_risk",
]


class News2Risk(StrEnum):
    """Clinical risk bands of RCP NEWS2 Chart 2, lowest first."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


# Parameter names, in argument order (spo2_scale selects a table, it is not a parameter).
PARAMETERS: Final[tuple[str, ...]] = (
    "respiration_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature_c",
)

# Plain English names of the parameters, for texts (the UI translates by parameter key).
PARAMETER_NAMES: Final[dict[str, str]] = {
    "respiration_rate": "respiration rate",
    "spo2": "oxygen saturation",
    "on_oxygen": "air or oxygen",
    "systolic_bp": "systolic blood pressure",
    "pulse": "pulse",
    "consciousness": "consciousness (ACVPU)",
    "temperature_c": "temperature",
}

# Highest score each parameter can contribute (used for the partial-score range).
MAX_SCORE: Final[dict[str, int]] = {
    "respiration_rate": 3,
    "spo2": 3,
    "on_oxygen": 2,
    "systolic_bp": 3,
    "pulse": 3,
    "consciousness": 3,
    "temperature_c": 3,
}

# RCP Chart 2 clinical response per risk band.
NEWS2_RESPONSE: Final[dict[News2Risk, str]] = {
    News2Risk.LOW: "Ward-based response",
    News2Risk.LOW_MEDIUM: "Urgent ward-based response",
    News2Risk.MEDIUM: "Key threshold for urgent response",
    News2Risk.HIGH: "Urgent or emergency response",
}

# ACVPU: A scores 0; new Confusion, Voice, Pain, Unresponsive score 3.
CONSCIOUSNESS_LEVELS: Final[dict[str, int]] = {"A": 0, "C": 3, "V": 3, "P": 3, "U": 3}

# Bands as (inclusive upper bound or None for "and above", score), ascending.
type _Bands = tuple[tuple[Decimal | None, int], ...]

_RESPIRATION: Final[_Bands] = (
    (Decimal(8), 3),
    (Decimal(11), 1),
    (Decimal(20), 0),
    (Decimal(24), 2),
    (None, 3),
)
_SPO2_SCALE_1: Final[_Bands] = ((Decimal(91), 3), (Decimal(93), 2), (Decimal(95), 1), (None, 0))
# Scale 2 up to 92 % applies on air or oxygen; from 93 % the score depends on oxygen.
_SPO2_SCALE_2: Final[_Bands] = ((Decimal(83), 3), (Decimal(85), 2), (Decimal(87), 1), (None, 0))
_SPO2_SCALE_2_ON_OXYGEN_FROM_93: Final[_Bands] = ((Decimal(94), 1), (Decimal(96), 2), (None, 3))
_SYSTOLIC: Final[_Bands] = (
    (Decimal(90), 3),
    (Decimal(100), 2),
    (Decimal(110), 1),
    (Decimal(219), 0),
    (None, 3),
)
_PULSE: Final[_Bands] = (
    (Decimal(40), 3),
    (Decimal(50), 1),
    (Decimal(90), 0),
    (Decimal(110), 1),
    (Decimal(130), 2),
    (None, 3),
)
_TEMPERATURE: Final[_Bands] = (
    (Decimal("35.0"), 3),
    (Decimal("36.0"), 1),
    (Decimal("38.0"), 0),
    (Decimal("39.0"), 1),
    (None, 2),
)
_SCALE_2_OXYGEN_FROM: Final = Decimal(93)

_WHOLE: Final = Decimal(1)
_TENTH: Final = Decimal("0.1")

# Input validation reuses the product's physiological plausibility limits.
_VITAL_OF: Final[dict[str, Vital]] = {
    "respiration_rate": Vital.RESPIRATION_RATE,
    "spo2": Vital.SPO2,
    "systolic_bp": Vital.SYSTOLIC_BP,
    "pulse": Vital.PULSE,
    "temperature_c": Vital.TEMPERATURE,
}

_NOT_GIVEN: Final = "not given"
_PROVISIONAL: Final = "Provisional (NEWS2 incomplete)"
_SCALE_2_NEEDS_OXYGEN: Final = (
    "SpO2 of 93 % or more on scale 2 needs air/oxygen status to be scored"
)


@dataclass(frozen=True, slots=True)
class News2Result:
    """Outcome of a NEWS2 calculation, complete or partial.

    ``scores`` holds only the parameters that could be scored. ``total`` and ``risk`` are the
    NEWS2 aggregate and clinical risk, set only when ``complete`` (NEWS2 is undefined with a
    parameter missing) and ``None`` otherwise. ``partial_total`` / ``partial_risk`` are
    always set: the sum of the known scores and the risk they already establish (equal to
    ``total`` / ``risk`` when complete, a lower bound otherwise: ``risk_is_lower_bound``).
    ``max_possible_total`` / ``max_possible_risk`` give the top of the range the missing
    parameters could reach. ``response`` is the RCP response of ``partial_risk``, marked
    provisional when incomplete.
    """

    scores: dict[str, int] = field(hash=False)
    total: int | None
    risk: News2Risk | None
    partial_total: int
    partial_risk: News2Risk
    missing: tuple[str, ...]
    complete: bool
    risk_is_lower_bound: bool
    max_possible_total: int
    max_possible_risk: News2Risk
    red_parameters: tuple[str, ...]
    label: str
    response: str
    spo2_scale: int
    reasons: dict[str, str] = field(hash=False)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        return {
            "scores": dict(self.scores),
            "total": self.total,
            "risk": None if self.risk is None else str(self.risk),
            "partial_total": self.partial_total,
            "partial_risk": str(self.partial_risk),
            "missing": list(self.missing),
            "complete": self.complete,
            "risk_is_lower_bound": self.risk_is_lower_bound,
            "max_possible_total": self.max_possible_total,
            "max_possible_risk": str(self.max_possible_risk),
            "red_parameters": list(self.red_parameters),
            "label": self.label,
            "response": self.response,
            "spo2_scale": self.spo2_scale,
            "reasons": dict(self.reasons),
        }


def news2_risk(total: int, any_red: bool) -> News2Risk:
    """Apply the RCP Chart 2 rules in priority order (highest applicable band wins)."""
    if total >= 7:
        return News2Risk.HIGH
    if total >= 5:
        return News2Risk.MEDIUM
    if any_red:
        return News2Risk.LOW_MEDIUM
    return News2Risk.LOW


def _band(value: Decimal, bands: _Bands) -> int:
    for upper, score in bands:
        if upper is None or value <= upper:
            return score
    raise AssertionError("bands end with an open upper band")  # pragma: no cover


def _to_decimal(name: str, value: object, resolution: Decimal) -> Decimal:
    """Validate a numeric input and round it half-up to the chart resolution."""
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value}")
    low, high = PLAUSIBLE_RANGE[_VITAL_OF[name]]
    if not low <= number <= high:
        # The argument name, for the developer calling news2(); the UI never shows this.
        raise ValueError(f"{name} {value} is outside the plausible range {low:g}–{high:g}")
    if number.is_integer() and not isinstance(value, Decimal):
        return Decimal(int(number))  # a whole number is on every chart's resolution already
    # repr() of a float is its shortest round-trip form, so 38.05 stays 38.05 here.
    exact = value if isinstance(value, Decimal) else Decimal(repr(number))
    return exact.quantize(resolution, rounding=ROUND_HALF_UP)


def _label(partial_total: int, missing: Sequence[str]) -> str:
    if not missing:
        return str(partial_total)
    names = ", ".join(PARAMETER_NAMES[name] for name in missing)
    return f"{partial_total} (partial: {names} not measured)"


def _response(partial_risk: News2Risk, complete: bool) -> str:
    text = NEWS2_RESPONSE[partial_risk]
    return text if complete else f"{_PROVISIONAL}: {text}"


def news2(
    respiration_rate: float | None = None,
    spo2: float | None = None,
    spo2_scale: int = 1,
    on_oxygen: bool | None = None,
    systolic_bp: float | None = None,
    pulse: float | None = None,
    consciousness: str | None = None,
    temperature_c: float | None = None,
) -> News2Result:
    """Score NEWS2 from whatever parameters are known; ``None`` means not known.

    ``spo2_scale`` 2 is only for patients with a clinician-prescribed 88–92 % target.
    On scale 2 an SpO2 of 93 % or more cannot be scored without ``on_oxygen``; it is then
    reported in ``missing`` with a reason. Raises ``ValueError`` for invalid input.
    """
    if isinstance(spo2_scale, bool) or spo2_scale not in (1, 2):
        raise ValueError(f"spo2_scale must be 1 or 2, got {spo2_scale!r}")
    if on_oxygen is not None and not isinstance(on_oxygen, bool):
        raise ValueError(f"on_oxygen must be True, False or None, got {on_oxygen!r}")

    scores: dict[str, int] = {}
    reasons: dict[str, str] = {}
    # Highest score a parameter could still reach when it could not be scored.
    open_max: dict[str, int] = {}

    if respiration_rate is not None:
        scores["respiration_rate"] = _band(
            _to_decimal("respiration_rate", respiration_rate, _WHOLE), _RESPIRATION
        )

    if spo2 is not None:
        saturation = _to_decimal("spo2", spo2, _WHOLE)
        if spo2_scale == 1:
            scores["spo2"] = _band(saturation, _SPO2_SCALE_1)
        elif saturation < _SCALE_2_OXYGEN_FROM or on_oxygen is False:
            scores["spo2"] = _band(saturation, _SPO2_SCALE_2)
        elif on_oxygen:
            scores["spo2"] = _band(saturation, _SPO2_SCALE_2_ON_OXYGEN_FROM_93)
        else:
            # 0 on air, the oxygen band on oxygen: only the oxygen status decides.
            reasons["spo2"] = _SCALE_2_NEEDS_OXYGEN
            open_max["spo2"] = _band(saturation, _SPO2_SCALE_2_ON_OXYGEN_FROM_93)

    if on_oxygen is not None:
        scores["on_oxygen"] = 2 if on_oxygen else 0

    if systolic_bp is not None:
        scores["systolic_bp"] = _band(_to_decimal("systolic_bp", systolic_bp, _WHOLE), _SYSTOLIC)

    if pulse is not None:
        scores["pulse"] = _band(_to_decimal("pulse", pulse, _WHOLE), _PULSE)

    if consciousness is not None:
        if not isinstance(consciousness, str) or consciousness.upper() not in CONSCIOUSNESS_LEVELS:
            raise ValueError(
                f"consciousness must be one of A, C, V, P, U (ACVPU), got {consciousness!r}"
            )
        scores["consciousness"] = CONSCIOUSNESS_LEVELS[consciousness.upper()]

    if temperature_c is not None:
        scores["temperature_c"] = _band(
            _to_decimal("temperature_c", temperature_c, _TENTH), _TEMPERATURE
        )

    # Keep a stable key order (argument order) for display and equality in tests.
    scores = {name: scores[name] for name in PARAMETERS if name in scores}
    missing = tuple(name for name in PARAMETERS if name not in scores)
    for name in missing:
        reasons.setdefault(name, _NOT_GIVEN)
    reasons = {name: reasons[name] for name in missing}

    partial_total = sum(scores.values())
    red = tuple(name for name, score in scores.items() if score == 3)
    partial_risk = news2_risk(partial_total, bool(red))
    complete = not missing

    ceilings = {name: open_max.get(name, MAX_SCORE[name]) for name in missing}
    max_total = partial_total + sum(ceilings.values())
    max_risk = news2_risk(max_total, bool(red) or 3 in ceilings.values())

    return News2Result(
        scores=scores,
        total=partial_total if complete else None,
        risk=partial_risk if complete else None,
        partial_total=partial_total,
        partial_risk=partial_risk,
        missing=missing,
        complete=complete,
        risk_is_lower_bound=not complete,
        max_possible_total=max_total,
        max_possible_risk=max_risk,
        red_parameters=red,
        label=_label(partial_total, missing),
        response=_response(partial_risk, complete),
        spo2_scale=spo2_scale,
        reasons=reasons,
    )
