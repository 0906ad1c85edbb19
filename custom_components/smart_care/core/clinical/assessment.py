"""Pure clinical assessment: thresholds, NEWS2, trends, stale data and device flags -> Finding.

Notes: docs/modules.md (core/clinical/assessment.py).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import pairwise
import math
from types import MappingProxyType
from typing import Any, Final, Literal, Self

from .news2 import News2Result, News2Risk, news2
from .plausibility import PLAUSIBLE_RANGE
from .vitals import CANONICAL_UNIT, VITAL_NAMES, Vital, VitalSample

__all__ = [
    "DEFAULT_HYSTERESIS",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_TREND_SETTINGS",
    "DEVICE_FLAG_CODES",
    "MEASUREMENT_GROUPS",
    "RESOLUTION",
    "TREND_VITALS",
    "AlertAction",
    "AlertTracker",
    "AlertUpdate",
    "Finding",
    "FindingKind",
    "Level",
    "LimitError",
    "Limits",
    "OpenAlert",
    "Thresholds",
    "TrendSettings",
    "TrendState",
    "assess_device_flags",
    "assess_news2",
    "assess_sample",
    "assess_stale",
    "assess_trends",
    "round_to_resolution",
    "threshold_codes",
]

_LEVEL_ORDER: Final = ("info", "warning", "urgent", "critical")


class Level(StrEnum):
    """Severity of a finding, ordered: info < warning < urgent < critical."""

    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the severity order (0 = info)."""
        return _LEVEL_ORDER.index(self.value)

    @staticmethod
    def _other_rank(other: object) -> int | None:
        # Plain strings that name a level compare by severity too, never alphabetically.
        if isinstance(other, str) and other in _LEVEL_ORDER:
            return _LEVEL_ORDER.index(other)
        return None

    def __lt__(self, other: str) -> bool:
        """Compare by severity."""
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: str) -> bool:
        """Compare by severity."""
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: str) -> bool:
        """Compare by severity."""
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: str) -> bool:
        """Compare by severity."""
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank >= rank


class FindingKind(StrEnum):
    """Where a finding comes from."""

    THRESHOLD = "threshold"
    NEWS2 = "news2"
    TREND = "trend"
    STALE = "stale"
    DEVICE = "device"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One clinical observation for the alert manager.

    ``message`` is short English without personal data; the UI translates by ``code`` with
    ``placeholders``. ``threshold`` is the limit that was crossed, when there is one;
    ``normal_limit`` is where the normal range begins on that side (for hysteresis).
    """

    kind: FindingKind
    level: Level
    code: str
    message: str
    vital: Vital | None = None
    value: float | None = None
    unit: str | None = None
    threshold: float | None = None
    normal_limit: float | None = None
    time: datetime | None = None
    placeholders: dict[str, str] = field(default_factory=dict, hash=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready representation (times as ISO 8601)."""
        return {
            "kind": str(self.kind),
            "level": str(self.level),
            "code": self.code,
            "message": self.message,
            "vital": None if self.vital is None else str(self.vital),
            "value": self.value,
            "unit": self.unit,
            "threshold": self.threshold,
            "normal_limit": self.normal_limit,
            "time": None if self.time is None else self.time.isoformat(),
            "placeholders": dict(self.placeholders),
        }


# ---------------------------------------------------------------------------------------------
# Thresholds
# ---------------------------------------------------------------------------------------------

_WHOLE: Final = Decimal(1)
_TENTH: Final = Decimal("0.1")

# Display/assessment resolution per vital; values are rounded half-up to it before banding.
RESOLUTION: Final[Mapping[Vital, Decimal]] = MappingProxyType(
    {
        Vital.SYSTOLIC_BP: _WHOLE,
        Vital.DIASTOLIC_BP: _WHOLE,
        Vital.MEAN_ARTERIAL_PRESSURE: _WHOLE,
        Vital.PULSE: _WHOLE,
        Vital.HEART_RATE: _WHOLE,
        Vital.SPO2: _WHOLE,
        Vital.RESPIRATION_RATE: _WHOLE,
        Vital.TEMPERATURE: _TENTH,
        Vital.GLUCOSE: _TENTH,
        Vital.WEIGHT: _TENTH,
        Vital.BMI: _TENTH,
        Vital.HEIGHT: _TENTH,
        Vital.BODY_FAT: _TENTH,
    }
)

_VITAL_NAME: Final[Mapping[Vital, str]] = MappingProxyType(VITAL_NAMES)


def _decimal(value: float) -> Decimal:
    # repr() is the shortest round-trip form: 38.05 stays 38.05 instead of 38.04999...
    return Decimal(repr(float(value)))


def _rounded(vital: Vital, value: float) -> Decimal:
    return _decimal(value).quantize(RESOLUTION[vital], rounding=ROUND_HALF_UP)


def round_to_resolution(vital: Vital, value: float) -> float:
    """Round half-up to the vital's resolution (whole units, or 0.1 for °C, mmol/L, kg)."""
    return float(_rounded(vital, value))


def _fmt(vital: Vital | None, value: float) -> str:
    resolution = RESOLUTION[vital] if vital is not None else _TENTH
    return str(_decimal(value).quantize(resolution, rounding=ROUND_HALF_UP))


# Ordered from the lowest limit to the highest; values must increase strictly along it.
_LIMIT_FIELDS: Final = (
    "critical_low",
    "urgent_low",
    "warning_low",
    "warning_high",
    "urgent_high",
    "critical_high",
)
_HIGH_FIELDS: Final = (
    ("critical_high", Level.CRITICAL),
    ("urgent_high", Level.URGENT),
    ("warning_high", Level.WARNING),
)
_LOW_FIELDS: Final = (
    ("critical_low", Level.CRITICAL),
    ("urgent_low", Level.URGENT),
    ("warning_low", Level.WARNING),
)


class LimitError(ValueError):
    """Invalid alert limits; names the field.

    ``reason`` (``not_a_limit``, ``not_a_number``, ``not_finite``, ``implausible``,
    ``order``, ``unknown_vital``, ``not_a_mapping``) and ``placeholders`` (field paths as
    typed, numbers, units) let callers say it in the user's language.
    """

    def __init__(self, message: str, reason: str, **placeholders: str) -> None:
        """Keep the reason and placeholders next to the English message."""
        super().__init__(message)
        self.reason = reason
        self.placeholders = placeholders


def _limit_errors(
    values: Mapping[str, object], prefix: str, vital: Vital | None
) -> LimitError | None:
    """Return the first problem with a set of limits, or None when they are consistent."""
    for name in values:
        if name not in _LIMIT_FIELDS:
            known = ", ".join(_LIMIT_FIELDS)
            return LimitError(
                f"{prefix}{name} is not a limit (use one of {known})",
                "not_a_limit",
                field=f"{prefix}{name}",
                known=known,
            )
    present: list[tuple[str, float]] = []
    for name in _LIMIT_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return LimitError(
                f"{prefix}{name} must be a number, got {type(value).__name__}",
                "not_a_number",
                field=f"{prefix}{name}",
            )
        if not math.isfinite(value):
            return LimitError(
                f"{prefix}{name} must be finite, got {value}", "not_finite", field=f"{prefix}{name}"
            )
        if vital is not None:
            low, high = PLAUSIBLE_RANGE[vital]
            if not low <= value <= high:
                unit = CANONICAL_UNIT[vital]
                return LimitError(
                    f"{prefix}{name} {value:g} is outside the plausible range "
                    f"{low:g}–{high:g} {unit} (wrong unit?)",
                    "implausible",
                    field=f"{prefix}{name}",
                    value=f"{value:g}",
                    low=f"{low:g}",
                    high=f"{high:g}",
                    unit=unit,
                )
        present.append((name, float(value)))
    for (lower_name, lower), (upper_name, upper) in pairwise(present):
        if upper <= lower:
            return LimitError(
                f"{prefix}{upper_name} ({upper:g}) must be above {prefix}{lower_name} ({lower:g})",
                "order",
                field=f"{prefix}{upper_name}",
                value=f"{upper:g}",
                other_field=f"{prefix}{lower_name}",
                other_value=f"{lower:g}",
            )
    return None


@dataclass(frozen=True, slots=True)
class Limits:
    """Alert limits for one vital; ``None`` disables a limit.

    A value at or beyond a limit triggers it; limits must increase strictly from
    ``critical_low`` to ``critical_high``.
    """

    critical_low: float | None = None
    urgent_low: float | None = None
    warning_low: float | None = None
    warning_high: float | None = None
    urgent_high: float | None = None
    critical_high: float | None = None

    def __post_init__(self) -> None:
        """Reject inconsistent limits."""
        error = _limit_errors(self.to_dict(), "", None)
        if error is not None:
            raise error

    def to_dict(self) -> dict[str, float]:
        """The limits that are set, by field name."""
        values = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {name: value for name, value in values if value is not None}

    def normal_limit(self, side: Literal["high", "low"]) -> float | None:
        """The least severe limit on one side: where the normal range ends."""
        names = ("warning_high", "urgent_high", "critical_high")
        if side == "low":
            names = ("warning_low", "urgent_low", "critical_low")
        for name in names:
            value: float | None = getattr(self, name)
            if value is not None:
                return value
        return None

    def classify(self, value: float) -> tuple[Level, float, Literal["high", "low"]] | None:
        """Most severe limit reached by an already rounded value, or None when normal."""
        for name, level in _HIGH_FIELDS:
            limit = getattr(self, name)
            if limit is not None and value >= limit:
                return level, limit, "high"
        for name, level in _LOW_FIELDS:
            limit = getattr(self, name)
            if limit is not None and value <= limit:
                return level, limit, "low"
        return None


_VITAL_VALUES: Final = frozenset(vital.value for vital in Vital)


def _coerce_vital(key: object) -> Vital:
    if isinstance(key, str) and key in _VITAL_VALUES:
        return Vital(key)
    known = ", ".join(v.value for v in Vital)
    raise LimitError(
        f"unknown vital {key!r} (known: {known})", "unknown_vital", field=str(key), known=known
    )


def _checked(vital: Vital, values: Mapping[str, object]) -> dict[str, float]:
    """Validated limits that are set, as floats; raises ValueError naming the field."""
    error = _limit_errors(values, f"{vital.value}.", vital)
    if error is not None:
        raise error
    return {
        name: float(value)
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _build_limits(vital: Vital, values: Mapping[str, object]) -> Limits:
    return Limits(**_checked(vital, values))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-person alert limits, one ``Limits`` per vital (vitals absent are not assessed)."""

    limits: Mapping[Vital, Limits] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        """Freeze the mapping and check keys and values."""
        checked: dict[Vital, Limits] = {}
        for key, limits in self.limits.items():
            vital = _coerce_vital(key)
            if not isinstance(limits, Limits):
                raise ValueError(f"{vital.value}: expected Limits, got {type(limits).__name__}")
            values = limits.to_dict()
            if values:  # a vital without any limit is simply not assessed
                checked[vital] = _build_limits(vital, values)
        ordered = {vital: checked[vital] for vital in Vital if vital in checked}
        object.__setattr__(self, "limits", MappingProxyType(ordered))

    def for_vital(self, vital: Vital) -> Limits:
        """Limits of one vital (no limits when it is not assessed)."""
        return self.limits.get(vital, _NO_LIMITS)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, float | None]]) -> Thresholds:
        """Return new thresholds with per-field overrides; ``None`` removes a limit.

        Raises ``ValueError`` naming the field for unknown vitals or fields, non-numbers,
        implausible values and inconsistent ordering (e.g. urgent_high below warning_high).
        """
        merged = {vital: limits.to_dict() for vital, limits in self.limits.items()}
        for key, changes in overrides.items():
            vital = _coerce_vital(key)
            if not isinstance(changes, Mapping):
                raise LimitError(
                    f"{vital.value}: overrides must be a mapping of limit to value",
                    "not_a_mapping",
                    field=vital.value,
                )
            values: dict[str, object] = dict(merged.get(vital, {}))
            values.update(changes)
            merged[vital] = _checked(vital, values)
        return Thresholds({vital: Limits(**values) for vital, values in merged.items()})

    def to_dict(self) -> dict[str, dict[str, float]]:
        """JSON-able form: ``{vital: {limit_name: value}}``, only limits that are set."""
        return {vital.value: limits.to_dict() for vital, limits in self.limits.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, float | None]]) -> Self:
        """Inverse of ``to_dict``; validates like ``with_overrides``."""
        if not isinstance(data, Mapping):
            raise ValueError("thresholds must be a mapping of vital to limits")
        built: dict[Vital, Limits] = {}
        for key, values in data.items():
            vital = _coerce_vital(key)
            if not isinstance(values, Mapping):
                raise ValueError(f"{vital.value}: limits must be a mapping of limit to value")
            built[vital] = _build_limits(vital, values)
        return cls(built)


_NO_LIMITS: Final = Limits()

# Clinical defaults for adults monitored at home; every number is sourced in docs/thresholds.md.
DEFAULT_THRESHOLDS: Final = Thresholds(
    {
        # ESC/ESH 2018 grade 1 (>=140/90) and grade 3 (>=180/110); NEWS2 red <=90, 2 pts <=100.
        Vital.SYSTOLIC_BP: Limits(
            urgent_low=90, warning_low=100, warning_high=140, urgent_high=180
        ),
        Vital.DIASTOLIC_BP: Limits(warning_high=90, urgent_high=110),
        # NEWS2: <=40 red, 41-50 scores, 111-130 scores 2, >=131 red.
        Vital.PULSE: Limits(urgent_low=40, warning_low=50, warning_high=111, urgent_high=131),
        # NEWS2 red <=35.0; fever >=38.0 (CDC); NEWS2 top band >=39.1.
        Vital.TEMPERATURE: Limits(urgent_low=35.0, warning_high=38.0, urgent_high=39.1),
        # BTS 2017 target 94-98 %; NEWS2 scale 1 red <=91; below every BTS target (<88).
        Vital.SPO2: Limits(critical_low=87, urgent_low=91, warning_low=93),
        # NEWS2: <=8 red, 21-24 scores 2, >=25 red.
        Vital.RESPIRATION_RATE: Limits(urgent_low=8, warning_high=21, urgent_high=25),
        # ADA: level 2 <3.0, level 1 <3.9; >13.9 very high (TIR consensus); HHS >=33.3.
        Vital.GLUCOSE: Limits(urgent_low=2.9, warning_low=3.8, warning_high=14.0, urgent_high=33.3),
    }
)


def threshold_codes(vital: Vital) -> tuple[str, str]:
    """The (high, low) finding codes of a vital, e.g. for feeding normal readings to a tracker."""
    return f"{vital.value}_high", f"{vital.value}_low"


def assess_sample(
    sample: VitalSample, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[Finding]:
    """Threshold finding for one value: the most severe limit reached, or nothing."""
    if not math.isfinite(sample.value):
        raise ValueError(f"{sample.vital.value} must be a finite number, got {sample.value}")
    limits = thresholds.limits.get(sample.vital)
    if limits is None:
        return []
    value = round_to_resolution(sample.vital, sample.value)
    hit = limits.classify(value)
    if hit is None:
        return []
    level, limit, side = hit
    unit = sample.unit
    shown, shown_limit = _fmt(sample.vital, value), _fmt(sample.vital, limit)
    where = "at or above" if side == "high" else "at or below"
    return [
        Finding(
            kind=FindingKind.THRESHOLD,
            level=level,
            code=f"{sample.vital.value}_{side}",
            message=(
                f"{_VITAL_NAME[sample.vital]} {shown} {unit} is {where} "
                f"the {level.value} limit of {shown_limit} {unit}."
            ),
            vital=sample.vital,
            value=value,
            unit=unit,
            threshold=limit,
            normal_limit=limits.normal_limit(side),
            time=sample.time,
            placeholders={
                "value": shown,
                "unit": unit,
                "threshold": shown_limit,
                "level": level.value,
            },
        )
    ]


# ---------------------------------------------------------------------------------------------
# NEWS2
# ---------------------------------------------------------------------------------------------

# Vitals feeding each NEWS2 parameter, in order of preference.
_NEWS2_SOURCES: Final[Mapping[str, tuple[Vital, ...]]] = MappingProxyType(
    {
        "respiration_rate": (Vital.RESPIRATION_RATE,),
        "spo2": (Vital.SPO2,),
        "systolic_bp": (Vital.SYSTOLIC_BP,),
        "pulse": (Vital.PULSE, Vital.HEART_RATE),
        "temperature_c": (Vital.TEMPERATURE,),
    }
)
# Every vital NEWS2 reads: the others cannot change the score.
NEWS2_VITALS: Final = frozenset(v for sources in _NEWS2_SOURCES.values() for v in sources)

# RCP responses mapped to product levels: any urgent RCP response is "urgent", the
# emergency band is "critical"; a low aggregate of 1-4 is shown but does not alert.
_NEWS2_LEVEL: Final[Mapping[News2Risk, tuple[Level, str, float | None]]] = MappingProxyType(
    {
        News2Risk.LOW: (Level.INFO, "news2_low", None),
        News2Risk.LOW_MEDIUM: (Level.URGENT, "news2_low_medium", 3.0),
        News2Risk.MEDIUM: (Level.URGENT, "news2_medium", 5.0),
        News2Risk.HIGH: (Level.CRITICAL, "news2_high", 7.0),
    }
)


# Placeholder for a value NEWS2 does not define (total and risk of an incomplete score).
_NO_VALUE: Final = "—"


def assess_news2(
    latest: Mapping[Vital, VitalSample],
    now: datetime,
    *,
    max_age: timedelta = timedelta(hours=1),
    on_oxygen: bool | None = None,
    consciousness: str | None = None,
    spo2_scale: int = 1,
) -> tuple[News2Result, Finding | None]:
    """NEWS2 from the latest samples taken within ``max_age`` of ``now``.

    Older samples, samples without a time and physiologically implausible values count as
    missing. An incomplete score (``total``/``risk`` None) raises a finding only for the
    band its known parameters already reach (``partial_risk``; missing parameters can only
    add points). A known aggregate of 0 gives no finding.
    """
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for parameter, sources in _NEWS2_SOURCES.items():
        for vital in sources:
            sample = latest.get(vital)
            if sample is None:
                continue
            if sample.time is None:
                reasons.setdefault(parameter, "no measurement time")
                continue
            if now - sample.time > max_age:
                reasons.setdefault(parameter, f"older than {_hours(max_age)} h")
                continue
            if sample.time - now > max_age:
                reasons.setdefault(parameter, "measurement time in the future")
                continue
            low, high = PLAUSIBLE_RANGE[vital]
            if not (math.isfinite(sample.value) and low <= sample.value <= high):
                reasons.setdefault(parameter, "implausible value")
                continue
            values[parameter] = sample.value
            reasons.pop(parameter, None)
            break

    result = news2(
        respiration_rate=values.get("respiration_rate"),
        spo2=values.get("spo2"),
        spo2_scale=spo2_scale,
        on_oxygen=on_oxygen,
        systolic_bp=values.get("systolic_bp"),
        pulse=values.get("pulse"),
        consciousness=consciousness,
        temperature_c=values.get("temperature_c"),
    )
    if reasons:
        merged = dict(result.reasons)
        merged.update({k: v for k, v in reasons.items() if k in merged})
        result = replace(result, reasons=merged)

    # An incomplete score (total/risk None) is judged on what its known parameters already
    # establish: partial_total / partial_risk are lower bounds, equal to total / risk when
    # complete.
    if result.partial_total == 0 and result.partial_risk is News2Risk.LOW:
        return result, None
    level, code, threshold = _NEWS2_LEVEL[result.partial_risk]
    state = "complete" if result.complete else "partial"
    missing = ", ".join(result.missing)
    risk_text = result.partial_risk.value
    if not result.complete:
        risk_text = f"at least {risk_text}"
    message = f"NEWS2 {result.label}: {risk_text} clinical risk. {result.response}."
    return result, Finding(
        kind=FindingKind.NEWS2,
        level=level,
        code=code,
        message=message,
        value=float(result.partial_total),
        threshold=threshold,
        time=now,
        placeholders={
            "total": _NO_VALUE if result.total is None else str(result.total),
            "partial_total": str(result.partial_total),
            "risk": _NO_VALUE if result.risk is None else result.risk.value,
            "partial_risk": result.partial_risk.value,
            "state": state,
            "missing": missing,
            "max_possible_total": str(result.max_possible_total),
            "max_possible_risk": result.max_possible_risk.value,
            "label": result.label,
        },
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g}"


# ---------------------------------------------------------------------------------------------
# Trends
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendSettings:
    """Windows and limits of the trend rules (defaults sourced in docs/thresholds.md)."""

    # ESC 2021 HF self-care: sudden unexpected gain of 2 kg in 3 days.
    weight_gain_kg: float = 2.0
    weight_window: timedelta = timedelta(days=3)
    # Week-on-week rise of the home systolic mean (product rule on the ESC/ESH home limit).
    bp_window: timedelta = timedelta(days=7)
    bp_rise_mmhg: float = 10.0
    # ESC/ESH 2018: home BP hypertension threshold 135/85 mmHg.
    home_systolic: float = 135.0
    home_diastolic: float = 85.0
    min_readings: int = 3
    # Repeated readings at or below the person's glucose warning_low within the window.
    glucose_window: timedelta = timedelta(days=7)
    glucose_low_count: int = 2

    def __post_init__(self) -> None:
        """Reject settings that would make the rules meaningless."""
        for name in ("weight_window", "bp_window", "glucose_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.min_readings < 1 or self.glucose_low_count < 1:
            raise ValueError("min_readings and glucose_low_count must be at least 1")
        if self.weight_gain_kg <= 0 or self.bp_rise_mmhg <= 0:
            raise ValueError("weight_gain_kg and bp_rise_mmhg must be positive")


DEFAULT_TREND_SETTINGS: Final = TrendSettings()


@dataclass(frozen=True, slots=True)
class _Series:
    """Time-sorted values of one vital."""

    times: list[datetime]
    values: list[float]
    # The values rounded to the vital's resolution, when kept (TrendState keeps them).
    rounded: list[float] | None = None

    def window(self, start: datetime, end: datetime) -> list[float]:
        """Values with ``start < time <= end``."""
        return self.values[bisect_right(self.times, start) : bisect_right(self.times, end)]

    def rounded_window(self, vital: Vital, start: datetime, end: datetime) -> list[float]:
        """``window`` rounded to the vital's resolution."""
        if self.rounded is None:
            return [round_to_resolution(vital, v) for v in self.window(start, end)]
        return self.rounded[bisect_right(self.times, start) : bisect_right(self.times, end)]


_EMPTY_SERIES: Final = _Series([], [])


def _series(history: Iterable[VitalSample], now: datetime) -> dict[Vital, _Series]:
    """Timed, finite samples up to ``now``, grouped by vital and sorted by time."""
    grouped: dict[Vital, list[tuple[datetime, float]]] = {}
    for sample in history:
        if sample.time is None or sample.time > now or not math.isfinite(sample.value):
            continue
        grouped.setdefault(sample.vital, []).append((sample.time, sample.value))
    series: dict[Vital, _Series] = {}
    for vital, pairs in grouped.items():
        pairs.sort(key=lambda pair: pair[0])
        series[vital] = _Series([t for t, _ in pairs], [v for _, v in pairs])
    return series


def _mean(values: Sequence[float]) -> Decimal:
    return _decimal(math.fsum(values) / len(values)).quantize(_TENTH, rounding=ROUND_HALF_UP)


def _weight_gain(weights: _Series, now: datetime, settings: TrendSettings) -> Finding | None:
    if len(weights.times) < 2:
        return None
    latest_time, latest_value = weights.times[-1], weights.values[-1]
    if now - latest_time > settings.weight_window:
        return None  # the gain is no longer current; stale-data rules cover silence
    # Baseline: readings from latest - window (inclusive) up to, not at, the latest time.
    start = bisect_left(weights.times, latest_time - settings.weight_window)
    stop = bisect_left(weights.times, latest_time)
    if start >= stop:
        return None
    # Rounding is monotonic: the rounded minimum is the minimum rounded (one Decimal, not k).
    baseline = _rounded(Vital.WEIGHT, min(weights.values[start:stop]))
    current = _rounded(Vital.WEIGHT, latest_value)
    gain = current - baseline
    if gain < _decimal(settings.weight_gain_kg):
        return None
    hours = _hours(settings.weight_window)
    return Finding(
        kind=FindingKind.TREND,
        level=Level.WARNING,
        code="weight_gain_3d",
        message=f"Weight up {gain} kg within {hours} h (possible fluid retention).",
        vital=Vital.WEIGHT,
        value=float(gain),
        unit="kg",
        threshold=settings.weight_gain_kg,
        time=latest_time,
        placeholders={
            "gain": str(gain),
            "hours": hours,
            "from": str(baseline),
            "to": str(current),
        },
    )


def _bp_trends(
    grouped: Mapping[Vital, _Series], now: datetime, settings: TrendSettings
) -> list[Finding]:
    findings: list[Finding] = []
    week = settings.bp_window
    systolic = grouped.get(Vital.SYSTOLIC_BP, _EMPTY_SERIES)
    diastolic = grouped.get(Vital.DIASTOLIC_BP, _EMPTY_SERIES)
    sys_now = systolic.window(now - week, now)
    sys_prev = systolic.window(now - 2 * week, now - week)
    dia_now = diastolic.window(now - week, now)
    enough = settings.min_readings

    sys_mean = _mean(sys_now) if len(sys_now) >= enough else None
    dia_mean = _mean(dia_now) if len(dia_now) >= enough else None

    if sys_mean is not None and len(sys_prev) >= enough:
        prev_mean = _mean(sys_prev)
        rise = sys_mean - prev_mean
        if rise >= _decimal(settings.bp_rise_mmhg) and sys_mean >= _decimal(settings.home_systolic):
            findings.append(
                Finding(
                    kind=FindingKind.TREND,
                    level=Level.WARNING,
                    code="systolic_bp_7day_rise",
                    message=(
                        f"Average systolic pressure rose from {prev_mean} to {sys_mean} mmHg "
                        "week on week."
                    ),
                    vital=Vital.SYSTOLIC_BP,
                    value=float(sys_mean),
                    unit="mmHg",
                    threshold=settings.home_systolic,
                    time=now,
                    placeholders={
                        "mean": str(sys_mean),
                        "previous_mean": str(prev_mean),
                        "rise": str(rise),
                    },
                )
            )

    sys_high = sys_mean is not None and sys_mean >= _decimal(settings.home_systolic)
    dia_high = dia_mean is not None and dia_mean >= _decimal(settings.home_diastolic)
    if sys_high or dia_high:
        vital = Vital.SYSTOLIC_BP if sys_high else Vital.DIASTOLIC_BP
        mean = sys_mean if sys_high else dia_mean
        assert mean is not None
        limit = settings.home_systolic if sys_high else settings.home_diastolic
        sys_text = "" if sys_mean is None else str(sys_mean)
        dia_text = "" if dia_mean is None else str(dia_mean)
        findings.append(
            Finding(
                kind=FindingKind.TREND,
                level=Level.INFO,
                code="bp_7day_mean_stage1",
                message=(
                    f"7-day home blood pressure average {sys_text or '-'}/{dia_text or '-'} mmHg "
                    f"is at or above {settings.home_systolic:g}/{settings.home_diastolic:g}."
                ),
                vital=vital,
                value=float(mean),
                unit="mmHg",
                threshold=limit,
                time=now,
                placeholders={
                    "systolic_mean": sys_text,
                    "diastolic_mean": dia_text,
                    "systolic_readings": str(len(sys_now)),
                    "diastolic_readings": str(len(dia_now)),
                },
            )
        )
    return findings


def _glucose_lows(
    glucose: _Series,
    now: datetime,
    thresholds: Thresholds,
    settings: TrendSettings,
) -> Finding | None:
    limit = thresholds.for_vital(Vital.GLUCOSE).warning_low
    if limit is None:
        return None
    recent = glucose.rounded_window(Vital.GLUCOSE, now - settings.glucose_window, now)
    # Rounded values: the lowest one prints the same as the raw value it came from.
    lows = [v for v in recent if v <= limit]
    if len(lows) < settings.glucose_low_count:
        return None
    days = f"{settings.glucose_window.total_seconds() / 86400:g}"
    return Finding(
        kind=FindingKind.TREND,
        level=Level.WARNING,
        code="glucose_repeated_lows",
        message=f"{len(lows)} low glucose readings within {days} days.",
        vital=Vital.GLUCOSE,
        value=float(len(lows)),
        unit=None,
        threshold=limit,
        time=now,
        placeholders={
            "count": str(len(lows)),
            "days": days,
            "threshold": _fmt(Vital.GLUCOSE, limit),
            "lowest": _fmt(Vital.GLUCOSE, min(lows)),
        },
    )


def assess_trends(
    history: Iterable[VitalSample],
    now: datetime,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    settings: TrendSettings = DEFAULT_TREND_SETTINGS,
) -> list[Finding]:
    """Trend findings over a person's recent history (any order; O(n log n)).

    Samples without a time, after ``now`` or non-finite are ignored. Rules: weight gain
    within ``weight_window``; week-on-week systolic rise; 7-day home BP mean at or above the
    home threshold; repeated low glucose.
    """
    return _assess_series(_series(history, now), now, thresholds, settings)


def _assess_series(
    grouped: Mapping[Vital, _Series],
    now: datetime,
    thresholds: Thresholds,
    settings: TrendSettings,
) -> list[Finding]:
    findings: list[Finding] = []
    gain = _weight_gain(grouped.get(Vital.WEIGHT, _EMPTY_SERIES), now, settings)
    if gain is not None:
        findings.append(gain)
    findings.extend(_bp_trends(grouped, now, settings))
    lows = _glucose_lows(grouped.get(Vital.GLUCOSE, _EMPTY_SERIES), now, thresholds, settings)
    if lows is not None:
        findings.append(lows)
    return findings


# Vitals the trend rules read; others are not kept.
TREND_VITALS: Final = frozenset(
    {Vital.WEIGHT, Vital.SYSTOLIC_BP, Vital.DIASTOLIC_BP, Vital.GLUCOSE}
)
# Keys of samples seen but not kept sort after every stored row of the same time.
_PENDING_ID: Final = 1 << 62


class _Column:
    """One vital's kept samples: parallel lists in (time, row id) order."""

    __slots__ = ("keys", "rounded", "times", "values", "vital")

    def __init__(self, vital: Vital) -> None:
        self.vital = vital
        self.keys: list[tuple[datetime, int]] = []
        self.times: list[datetime] = []
        self.values: list[float] = []
        self.rounded: list[float] = []  # rounded once here, not on every assessment

    def insert(self, key: tuple[datetime, int], value: float) -> None:
        at = bisect_right(self.keys, key)
        self.keys.insert(at, key)
        self.times.insert(at, key[0])
        self.values.insert(at, value)
        self.rounded.insert(at, round_to_resolution(self.vital, value))

    def remove(self, key: tuple[datetime, int]) -> None:
        at = bisect_left(self.keys, key)
        del self.keys[at], self.times[at], self.values[at], self.rounded[at]

    def drop_before(self, since: datetime) -> list[tuple[datetime, int]]:
        cut = bisect_left(self.times, since)
        dropped = self.keys[:cut]
        if cut:
            del self.keys[:cut], self.times[:cut], self.values[:cut], self.rounded[:cut]
        return dropped

    def series(self, now: datetime) -> _Series:
        # The lists themselves, not copies, unless samples after ``now`` must be cut off.
        if self.times and self.times[-1] > now:
            stop = bisect_right(self.times, now)
            return _Series(self.times[:stop], self.values[:stop], self.rounded[:stop])
        return _Series(self.times, self.values, self.rounded)


class TrendState:
    """One person's trend window, updated on append instead of recomputed per reading.

    Per vital, the finite timed samples in time order (ties by row id); a row id already
    kept is skipped. ``assess`` gives what ``assess_trends`` gives over the same samples,
    but costs binary searches and list slices instead of regrouping and sorting the window,
    so its cost hardly grows with how full the window is.
    """

    def __init__(self) -> None:
        """An empty window."""
        self._columns: dict[Vital, _Column] = {}
        self._ids: set[int] = set()

    def __len__(self) -> int:
        """Samples kept."""
        return len(self._ids)

    def __contains__(self, row_id: object) -> bool:
        """Whether the row is kept."""
        return row_id in self._ids

    def add(self, row_id: int, sample: VitalSample) -> bool:
        """Keep a stored sample; False if already kept, untimed, non-finite or not trended."""
        if (
            row_id in self._ids
            or sample.time is None
            or sample.vital not in TREND_VITALS
            or not math.isfinite(sample.value)
        ):
            return False
        self._column(sample.vital).insert((sample.time, row_id), sample.value)
        self._ids.add(row_id)
        return True

    def prune(self, since: datetime) -> None:
        """Drop samples older than ``since`` (amortised: each sample is dropped once)."""
        for column in self._columns.values():
            self._ids.difference_update(row_id for _, row_id in column.drop_before(since))

    def _column(self, vital: Vital) -> _Column:
        column = self._columns.get(vital)
        if column is None:
            column = self._columns[vital] = _Column(vital)
        return column

    def assess(
        self,
        now: datetime,
        *,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        settings: TrendSettings = DEFAULT_TREND_SETTINGS,
        pending: Iterable[VitalSample] = (),
    ) -> list[Finding]:
        """Trend findings at ``now``; ``pending`` samples are seen as well, not kept."""
        added: list[tuple[_Column, tuple[datetime, int]]] = []
        try:
            for number, sample in enumerate(pending):
                if (
                    sample.time is None
                    or sample.vital not in TREND_VITALS
                    or not math.isfinite(sample.value)
                ):
                    continue
                column = self._column(sample.vital)
                key = (sample.time, _PENDING_ID + number)
                column.insert(key, sample.value)
                added.append((column, key))
            grouped = {vital: column.series(now) for vital, column in self._columns.items()}
            return _assess_series(grouped, now, thresholds, settings)
        finally:
            for column, key in added:
                column.remove(key)


# ---------------------------------------------------------------------------------------------
# Stale data
# ---------------------------------------------------------------------------------------------

# Measurement groups a schedule can name, with the vitals that count as a reading of them.
MEASUREMENT_GROUPS: Final[Mapping[str, frozenset[Vital]]] = MappingProxyType(
    {
        "blood_pressure": frozenset(
            {Vital.SYSTOLIC_BP, Vital.DIASTOLIC_BP, Vital.MEAN_ARTERIAL_PRESSURE}
        ),
        "weight": frozenset({Vital.WEIGHT}),
        "glucose": frozenset({Vital.GLUCOSE}),
        "spo2": frozenset({Vital.SPO2}),
        "temperature": frozenset({Vital.TEMPERATURE}),
        "heart_rate": frozenset({Vital.PULSE, Vital.HEART_RATE}),
        "respiration_rate": frozenset({Vital.RESPIRATION_RATE}),
    }
)

_GROUP_NAME: Final[Mapping[str, str]] = MappingProxyType(
    {
        "blood_pressure": "blood pressure",
        "weight": "weight",
        "glucose": "glucose",
        "spo2": "oxygen saturation",
        "temperature": "temperature",
        "heart_rate": "heart rate",
        "respiration_rate": "respiration rate",
    }
)


def assess_stale(
    last_seen: Mapping[str, datetime | None],
    schedule: Mapping[str, timedelta],
    now: datetime,
) -> list[Finding]:
    """Findings for scheduled measurement groups that are overdue.

    ``schedule`` gives the longest acceptable gap per group (include any grace period).
    Overdue (gap strictly longer) -> warning ``stale_<group>``; never measured -> info
    ``no_data_<group>``. A reading time in the future counts as fresh.
    """
    findings: list[Finding] = []
    for group, max_gap in schedule.items():
        if group not in MEASUREMENT_GROUPS:
            known = ", ".join(MEASUREMENT_GROUPS)
            raise ValueError(f"unknown measurement group {group!r} (known: {known})")
        if max_gap <= timedelta(0):
            raise ValueError(f"schedule for {group} must be a positive duration")
        name = _GROUP_NAME[group]
        expected = f"{max_gap.total_seconds() / 3600:g}"
        seen = last_seen.get(group)
        if seen is None:
            findings.append(
                Finding(
                    kind=FindingKind.STALE,
                    level=Level.INFO,
                    code=f"no_data_{group}",
                    message=f"No {name} reading yet.",
                    threshold=max_gap.total_seconds() / 3600,
                    unit="h",
                    time=now,
                    placeholders={"group": group, "expected_hours": expected},
                )
            )
            continue
        age = now - seen
        if age <= max_gap:
            continue
        hours = int(age.total_seconds() // 3600)
        findings.append(
            Finding(
                kind=FindingKind.STALE,
                level=Level.WARNING,
                code=f"stale_{group}",
                message=f"No {name} reading for {hours} h.",
                value=age.total_seconds() / 3600,
                unit="h",
                threshold=max_gap.total_seconds() / 3600,
                time=now,
                placeholders={
                    "group": group,
                    "hours": str(hours),
                    "days": str(hours // 24),
                    "expected_hours": expected,
                    "last_seen": seen.isoformat(),
                },
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# Device status flags
# ---------------------------------------------------------------------------------------------

# code -> (level, advice). Codes are stable for translation; advice follows ESH 2021 home
# measurement technique and the devices' own status semantics.
_DEVICE_ADVICE: Final[Mapping[str, tuple[Level, str]]] = MappingProxyType(
    {
        "device_irregular_pulse": (
            Level.WARNING,
            "Irregular pulse detected. Re-measure after 5 minutes seated rest; if it "
            "happens again, tell the doctor (an ECG can check for atrial fibrillation).",
        ),
        "device_body_movement": (
            Level.INFO,
            "Movement during measurement. Re-measure sitting still, without talking.",
        ),
        "device_cuff_too_loose": (
            Level.INFO,
            "Cuff too loose. Re-measure with the cuff snug on the bare upper arm.",
        ),
        "device_improper_position": (
            Level.INFO,
            "Improper measuring position. Re-measure seated, back supported, feet flat, "
            "cuff at heart level.",
        ),
        "device_pulse_rate_out_of_range": (
            Level.WARNING,
            "Pulse rate outside the device's range. Re-measure at rest; if it repeats, check "
            "the pulse another way and contact the doctor.",
        ),
        "device_result_out_of_range": (
            Level.URGENT,
            "Glucose beyond the meter's measuring range (shown as HI or LO). Re-test now with "
            "a new strip; if it repeats, seek medical help immediately.",
        ),
        "device_poor_signal": (
            Level.INFO,
            "Weak or unstable sensor signal. Warm the hand, keep still and re-measure.",
        ),
        "device_sensor_fault": (
            Level.INFO,
            "Sensor problem reported by the device. Check the sensor or probe and re-measure.",
        ),
        "device_invalid_measurement": (
            Level.INFO,
            "The device marked this measurement as invalid or questionable. Re-measure.",
        ),
        "device_strip_error": (
            Level.INFO,
            "Test strip or sample problem. Re-test with a new strip and enough blood.",
        ),
        "device_temperature_out_of_range": (
            Level.INFO,
            "Meter too hot or too cold for a reliable result. Re-test at room temperature.",
        ),
        "device_battery_low": (Level.INFO, "Device battery low. Replace or charge it soon."),
        "device_time_fault": (
            Level.INFO,
            "Device clock not set or faulty; reading times may be wrong. Check its date and time.",
        ),
        "device_test_data": (
            Level.INFO,
            "Reading marked as control solution, demonstration or test data: "
            "not a measurement of the person.",
        ),
        "device_status_other": (Level.INFO, "The device reported a status problem."),
    }
)

# Decoder flag name (snake_case, "_detected" suffix dropped) -> finding code.
DEVICE_FLAG_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # Blood Pressure Measurement Status (BLS 0x2A35).
        "irregular_pulse": "device_irregular_pulse",
        "irregular_heartbeat": "device_irregular_pulse",
        "body_movement": "device_body_movement",
        "cuff_too_loose": "device_cuff_too_loose",
        "cuff_fit_loose": "device_cuff_too_loose",
        "improper_position": "device_improper_position",
        "improper_measurement_position": "device_improper_position",
        "pulse_rate_out_of_range": "device_pulse_rate_out_of_range",
        "pulse_rate_exceeds_upper_limit": "device_pulse_rate_out_of_range",
        "pulse_rate_below_lower_limit": "device_pulse_rate_out_of_range",
        "pulse_rate_too_high": "device_pulse_rate_out_of_range",
        "pulse_rate_too_low": "device_pulse_rate_out_of_range",
        # Glucose Sensor Status Annunciation (0x2A18).
        "sensor_result_too_high": "device_result_out_of_range",
        "sensor_result_too_low": "device_result_out_of_range",
        "result_too_high": "device_result_out_of_range",
        "result_too_low": "device_result_out_of_range",
        "sample_size_insufficient": "device_strip_error",
        "strip_insertion_error": "device_strip_error",
        "strip_type_incorrect": "device_strip_error",
        "sensor_temperature_too_high": "device_temperature_out_of_range",
        "sensor_temperature_too_low": "device_temperature_out_of_range",
        "sensor_read_interrupted": "device_invalid_measurement",
        "read_interrupted": "device_invalid_measurement",
        "temperature_too_high": "device_temperature_out_of_range",
        "temperature_too_low": "device_temperature_out_of_range",
        "control_solution": "device_test_data",
        "clock_not_set": "device_time_fault",
        "general_device_fault": "device_sensor_fault",
        "sensor_malfunction": "device_sensor_fault",
        "time_fault": "device_time_fault",
        "device_battery_low": "device_battery_low",
        "battery_low": "device_battery_low",
        # PLX Measurement Status / Device and Sensor Status (0x2A5E/0x2A5F).
        "equipment_malfunction": "device_sensor_fault",
        "sensor_malfunctioning": "device_sensor_fault",
        "sensor_disconnected": "device_sensor_fault",
        "sensor_displaced": "device_sensor_fault",
        "sensor_unconnected_to_user": "device_sensor_fault",
        "unknown_sensor_connected": "device_sensor_fault",
        "unknown_sensor": "device_sensor_fault",
        "sensor_unconnected": "device_sensor_fault",
        "sensor_fault": "device_sensor_fault",
        "signal_processing_irregularity": "device_poor_signal",
        "inadequate_signal": "device_poor_signal",
        "poor_signal": "device_poor_signal",
        "low_perfusion": "device_poor_signal",
        "erratic_signal": "device_poor_signal",
        "nonpulsatile_signal": "device_poor_signal",
        "questionable_pulse": "device_poor_signal",
        "sensor_interference": "device_poor_signal",
        "measurement_unavailable": "device_invalid_measurement",
        "questionable_measurement": "device_invalid_measurement",
        "invalid_measurement": "device_invalid_measurement",
        "measurement_unsuccessful": "device_invalid_measurement",
        "data_for_demonstration": "device_test_data",
        "data_for_testing": "device_test_data",
        # Heart Rate Measurement (0x2A37) sensor contact.
        "no_sensor_contact": "device_sensor_fault",
    }
)

# Flags that describe normal operation, not a problem.
_BENIGN_FLAGS: Final = frozenset(
    {
        "measurement_ongoing",
        "early_estimated_data",
        "validated_data",
        "fully_qualified_data",
        "data_from_measurement_storage",
        "calibration_ongoing",
        "signal_analysis_ongoing",
        "extended_display_update_ongoing",
    }
)


def _normalise_flag(flag: str) -> str:
    name = flag.strip().lower().replace("-", "_").replace(" ", "_")
    for suffix in ("_detected", "_detection"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def assess_device_flags(flags: Iterable[str]) -> list[Finding]:
    """Map decoder status flags to advice findings, one per code, in first-seen order.

    Unknown flags give ``device_status_other`` (device data is untrusted: never raise).
    """
    by_code: dict[str, list[str]] = {}
    for raw in flags:
        name = _normalise_flag(str(raw))
        if not name or name in _BENIGN_FLAGS:
            continue
        code = DEVICE_FLAG_CODES.get(name, "device_status_other")
        seen = by_code.setdefault(code, [])
        if name not in seen:
            seen.append(name)
    findings = []
    for code, names in by_code.items():
        level, advice = _DEVICE_ADVICE[code]
        findings.append(
            Finding(
                kind=FindingKind.DEVICE,
                level=level,
                code=code,
                message=advice,
                placeholders={"flags": ", ".join(names)},
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# Alert de-duplication with hysteresis
# ---------------------------------------------------------------------------------------------

# Absolute hysteresis per vital: a high (low) alert resolves at once when a normal reading is
# this far below (above) the limit; smaller movements need ``clear_after`` normal readings.
DEFAULT_HYSTERESIS: Final[Mapping[Vital, float]] = MappingProxyType(
    {
        Vital.SYSTOLIC_BP: 5.0,
        Vital.DIASTOLIC_BP: 5.0,
        Vital.MEAN_ARTERIAL_PRESSURE: 5.0,
        Vital.PULSE: 5.0,
        Vital.HEART_RATE: 5.0,
        Vital.TEMPERATURE: 0.3,
        Vital.SPO2: 2.0,
        Vital.RESPIRATION_RATE: 2.0,
        Vital.GLUCOSE: 0.5,
    }
)


class AlertAction(StrEnum):
    """What an observation did to the alert of its code."""

    OPENED = "opened"
    ESCALATED = "escalated"
    KEPT = "kept"
    RESOLVED = "resolved"
    NONE = "none"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """State of one open alert; ``level`` is the peak since it opened."""

    code: str
    level: Level
    current_level: Level | None
    opened_at: datetime
    updated_at: datetime
    value: float | None
    threshold: float | None
    direction: Literal["high", "low"] | None
    margin: float | None
    normal_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "code": self.code,
            "level": self.level.value,
            "current_level": None if self.current_level is None else self.current_level.value,
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "value": self.value,
            "threshold": self.threshold,
            "direction": self.direction,
            "margin": self.margin,
            "normal_count": self.normal_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of ``to_dict``."""
        direction = data.get("direction")
        if direction not in ("high", "low", None):
            raise ValueError(f"invalid alert direction {direction!r}")
        current = data.get("current_level")
        return cls(
            code=str(data["code"]),
            level=Level(data["level"]),
            current_level=None if current is None else Level(current),
            opened_at=datetime.fromisoformat(data["opened_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            value=_opt_float(data.get("value")),
            threshold=_opt_float(data.get("threshold")),
            direction=direction,
            margin=_opt_float(data.get("margin")),
            normal_count=int(data.get("normal_count", 0)),
        )


def _opt_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """Result of one observation: the action and the alert as it stands afterwards."""

    action: AlertAction
    alert: OpenAlert | None
    previous_level: Level | None = None


class AlertTracker:
    """Turns a stream of (code, level, value, time) into one alert per episode.

    An abnormal observation opens an alert or keeps it (escalating ``level`` on worse
    readings, never opening a second one). A normal observation (``level=None``) resolves
    it only when the value is back inside the limit by the hysteresis margin, or after
    ``clear_after`` consecutive normal observations. Deterministic; no clock, no I/O.
    """

    def __init__(self, *, relative_margin: float = 0.05, clear_after: int = 3) -> None:
        """``relative_margin`` applies when no absolute margin was given for a code."""
        if not 0 <= relative_margin < 1:
            raise ValueError("relative_margin must be in [0, 1)")
        if clear_after < 1:
            raise ValueError("clear_after must be at least 1")
        self.relative_margin = relative_margin
        self.clear_after = clear_after
        self._alerts: dict[str, OpenAlert] = {}

    @property
    def alerts(self) -> Mapping[str, OpenAlert]:
        """Open alerts by code (read-only view)."""
        return MappingProxyType(self._alerts)

    def observe(
        self,
        code: str,
        level: Level | None,
        value: float | None,
        time: datetime,
        *,
        threshold: float | None = None,
        direction: Literal["high", "low"] | None = None,
        margin: float | None = None,
    ) -> AlertUpdate:
        """Feed one observation; ``level=None`` means the reading is within limits.

        For abnormal observations ``threshold`` is where the normal range ends (if only the
        crossed limit is known, the least severe one seen is kept), ``direction`` says which
        side (inferred from value vs threshold when omitted) and ``margin`` is an absolute
        hysteresis. Observations older than the alert's last update are ignored so that
        re-downloaded device memory cannot reopen or resolve an episode.
        """
        alert = self._alerts.get(code)
        if alert is not None and time < alert.updated_at:
            return AlertUpdate(AlertAction.IGNORED, alert, alert.level)
        if level is not None:
            return self._abnormal(
                code, Level(level), value, time, threshold, direction, margin, alert
            )
        if alert is None:
            return AlertUpdate(AlertAction.NONE, None)
        count = alert.normal_count + 1
        if count >= self.clear_after or self._clear_of_margin(alert, value):
            del self._alerts[code]
            resolved = replace(
                alert, current_level=None, updated_at=time, value=value, normal_count=count
            )
            return AlertUpdate(AlertAction.RESOLVED, resolved, alert.level)
        kept = replace(alert, current_level=None, updated_at=time, normal_count=count)
        self._alerts[code] = kept
        return AlertUpdate(AlertAction.KEPT, kept, alert.level)

    def observe_finding(self, finding: Finding, time: datetime | None = None) -> AlertUpdate:
        """Feed an abnormal finding, using the vital's default hysteresis margin."""
        when = time if time is not None else finding.time
        if when is None:
            raise ValueError("the finding has no time; pass time=")
        margin: float | None = None
        direction: Literal["high", "low"] | None = None
        if finding.vital is not None:
            margin = DEFAULT_HYSTERESIS.get(finding.vital)
            high, low = threshold_codes(finding.vital)
            if finding.code == high:
                direction = "high"
            elif finding.code == low:
                direction = "low"
        limit = finding.normal_limit if finding.normal_limit is not None else finding.threshold
        return self.observe(
            finding.code,
            finding.level,
            finding.value,
            when,
            threshold=limit,
            direction=direction,
            margin=margin,
        )

    def resolve(self, code: str, time: datetime) -> AlertUpdate:
        """Close an alert explicitly (e.g. a clinician resolved it)."""
        alert = self._alerts.pop(code, None)
        if alert is None:
            return AlertUpdate(AlertAction.NONE, None)
        return AlertUpdate(
            AlertAction.RESOLVED, replace(alert, current_level=None, updated_at=time), alert.level
        )

    def _abnormal(
        self,
        code: str,
        level: Level,
        value: float | None,
        time: datetime,
        threshold: float | None,
        direction: Literal["high", "low"] | None,
        margin: float | None,
        alert: OpenAlert | None,
    ) -> AlertUpdate:
        if alert is not None and alert.direction is not None:
            direction = alert.direction
        if direction is None and value is not None and threshold is not None:
            # At exactly the limit the side is ambiguous: leave it to count-based clearing.
            if value > threshold:
                direction = "high"
            elif value < threshold:
                direction = "low"
        # Keep the least severe limit seen: that is where "back to normal" begins.
        limit = alert.threshold if alert is not None else None
        if threshold is not None:
            if limit is None:
                limit = threshold
            elif direction == "high":
                limit = min(limit, threshold)
            elif direction == "low":
                limit = max(limit, threshold)
        if margin is None and alert is not None:
            margin = alert.margin
        if alert is None:
            opened = OpenAlert(
                code=code,
                level=level,
                current_level=level,
                opened_at=time,
                updated_at=time,
                value=value,
                threshold=limit,
                direction=direction,
                margin=margin,
            )
            self._alerts[code] = opened
            return AlertUpdate(AlertAction.OPENED, opened, None)
        peak = max(alert.level, level)
        updated = replace(
            alert,
            level=peak,
            current_level=level,
            updated_at=time,
            value=value,
            threshold=limit,
            direction=direction,
            margin=margin,
            normal_count=0,
        )
        self._alerts[code] = updated
        action = AlertAction.ESCALATED if peak > alert.level else AlertAction.KEPT
        return AlertUpdate(action, updated, alert.level)

    def _clear_of_margin(self, alert: OpenAlert, value: float | None) -> bool:
        if value is None or alert.threshold is None or alert.direction is None:
            return False
        band = alert.margin
        if band is None:
            band = abs(alert.threshold) * self.relative_margin
        if alert.direction == "high":
            return value <= alert.threshold - band
        return value >= alert.threshold + band

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state, including settings."""
        return {
            "relative_margin": self.relative_margin,
            "clear_after": self.clear_after,
            "alerts": [alert.to_dict() for alert in self._alerts.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of ``to_dict``."""
        tracker = cls(
            relative_margin=float(data.get("relative_margin", 0.05)),
            clear_after=int(data.get("clear_after", 3)),
        )
        for item in data.get("alerts", []):
            alert = OpenAlert.from_dict(item)
            tracker._alerts[alert.code] = alert
        return tracker
