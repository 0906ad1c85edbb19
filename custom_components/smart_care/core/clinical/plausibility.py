"""Physiological plausibility: values no living adult at home can have are input errors.

Notes: docs/modules.md (core/clinical/plausibility.py).
"""

from __future__ import annotations

from collections.abc import Mapping
import math

from .vitals import CANONICAL_UNIT, VITAL_NAMES, Vital

# Inclusive (low, high) in canonical units.
PLAUSIBLE_RANGE: dict[Vital, tuple[float, float]] = {
    Vital.SYSTOLIC_BP: (40.0, 300.0),
    Vital.DIASTOLIC_BP: (20.0, 200.0),
    Vital.MEAN_ARTERIAL_PRESSURE: (25.0, 250.0),
    Vital.PULSE: (20.0, 300.0),
    Vital.HEART_RATE: (20.0, 300.0),
    Vital.TEMPERATURE: (25.0, 45.0),
    Vital.SPO2: (50.0, 100.0),
    Vital.RESPIRATION_RATE: (2.0, 80.0),
    Vital.WEIGHT: (0.5, 500.0),
    Vital.BMI: (5.0, 150.0),
    Vital.HEIGHT: (30.0, 272.0),
    Vital.BODY_FAT: (1.0, 80.0),
    Vital.GLUCOSE: (0.5, 55.0),
}


# Reasons an ``ImplausibleValueError`` can give; callers translate by reason and vital.
REASON_NOT_FINITE = "not_finite"
REASON_OUT_OF_RANGE = "out_of_range"
REASON_SYSTOLIC_NOT_ABOVE_DIASTOLIC = "systolic_not_above_diastolic"


class ImplausibleValueError(ValueError):
    """A value outside what a living person can have; names the vital and the limits.

    ``reason`` (one of the ``REASON_*`` codes) and ``placeholders`` (numbers and units
    only) let the caller say the same thing in the user's language.
    """

    def __init__(
        self,
        vital: Vital | None,
        message: str,
        *,
        reason: str = REASON_OUT_OF_RANGE,
        placeholders: Mapping[str, str] | None = None,
    ) -> None:
        """Keep the vital so callers can point at the offending field."""
        super().__init__(message)
        self.vital = vital
        self.reason = reason
        self.placeholders = dict(placeholders or {})


def check_value(vital: Vital, value: float) -> None:
    """Raise ``ImplausibleValueError`` unless ``value`` is finite and plausible."""
    name = VITAL_NAMES[vital]
    unit = CANONICAL_UNIT[vital]
    if not math.isfinite(value):
        raise ImplausibleValueError(
            vital,
            f"{name} must be a finite number",
            reason=REASON_NOT_FINITE,
            placeholders={"value": str(value), "unit": unit},
        )
    low, high = PLAUSIBLE_RANGE[vital]
    if not low <= value <= high:
        raise ImplausibleValueError(
            vital,
            f"{name} {value:g} {unit} is outside the plausible range {low:g}–{high:g} {unit}",
            placeholders={
                "value": f"{value:g}",
                "low": f"{low:g}",
                "high": f"{high:g}",
                "unit": unit,
            },
        )


def check_set(values: Mapping[Vital, float]) -> None:
    """Check each value and the relations between values taken together."""
    for vital, value in values.items():
        check_value(vital, value)
    systolic = values.get(Vital.SYSTOLIC_BP)
    diastolic = values.get(Vital.DIASTOLIC_BP)
    if systolic is not None and diastolic is not None and systolic <= diastolic:
        raise ImplausibleValueError(
            Vital.SYSTOLIC_BP,
            f"Systolic blood pressure {systolic:g} mmHg must be higher than "
            f"diastolic blood pressure {diastolic:g} mmHg",
            reason=REASON_SYSTOLIC_NOT_ABOVE_DIASTOLIC,
            placeholders={"systolic": f"{systolic:g}", "diastolic": f"{diastolic:g}"},
        )
