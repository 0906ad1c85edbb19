"""Vital-sign vocabulary shared by the pure core (decoders, assessment, FHIR mapping).

Notes: docs/modules.md (core/clinical/vitals.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Vital(StrEnum):
    """Canonical vital-sign names."""

    SYSTOLIC_BP = "systolic_bp"
    DIASTOLIC_BP = "diastolic_bp"
    MEAN_ARTERIAL_PRESSURE = "mean_arterial_pressure"
    PULSE = "pulse"  # pulse rate from a cuff or oximeter
    HEART_RATE = "heart_rate"  # from a heart-rate sensor
    TEMPERATURE = "temperature"
    SPO2 = "spo2"
    RESPIRATION_RATE = "respiration_rate"
    WEIGHT = "weight"
    BMI = "bmi"
    HEIGHT = "height"
    BODY_FAT = "body_fat"
    GLUCOSE = "glucose"


_BY_NAME: dict[str, Vital] = {vital.value: vital for vital in Vital}


def as_vital(name: str) -> Vital:
    """``Vital(name)`` by a dict look-up: the reading path converts names many times a reading."""
    vital = _BY_NAME.get(name)
    return vital if vital is not None else Vital(name)  # ValueError for an unknown name


# Canonical unit per vital (UCUM-like spelling kept human readable).
CANONICAL_UNIT: dict[Vital, str] = {
    Vital.SYSTOLIC_BP: "mmHg",
    Vital.DIASTOLIC_BP: "mmHg",
    Vital.MEAN_ARTERIAL_PRESSURE: "mmHg",
    Vital.PULSE: "bpm",
    Vital.HEART_RATE: "bpm",
    Vital.TEMPERATURE: "°C",
    Vital.SPO2: "%",
    Vital.RESPIRATION_RATE: "/min",
    Vital.WEIGHT: "kg",
    Vital.BMI: "kg/m²",
    Vital.HEIGHT: "cm",
    Vital.BODY_FAT: "%",
    Vital.GLUCOSE: "mmol/L",
}

# English display names (the UI translates by the vital's key; these are for English texts).
VITAL_NAMES: dict[Vital, str] = {
    Vital.SYSTOLIC_BP: "Systolic blood pressure",
    Vital.DIASTOLIC_BP: "Diastolic blood pressure",
    Vital.MEAN_ARTERIAL_PRESSURE: "Mean arterial pressure",
    Vital.PULSE: "Pulse rate",
    Vital.HEART_RATE: "Heart rate",
    Vital.TEMPERATURE: "Body temperature",
    Vital.SPO2: "Oxygen saturation",
    Vital.RESPIRATION_RATE: "Respiration rate",
    Vital.WEIGHT: "Body weight",
    Vital.BMI: "Body mass index",
    Vital.HEIGHT: "Height",
    Vital.BODY_FAT: "Body fat",
    Vital.GLUCOSE: "Blood glucose",
}

# Conversion factors the decoders and manual entry share.
KPA_TO_MMHG = 7.50061683
LB_TO_KG = 0.45359237
INCH_TO_CM = 2.54
# Glucose: 1 mmol/L = 18.016 mg/dL (molar mass of glucose 180.16 g/mol).
GLUCOSE_MGDL_PER_MMOLL = 18.016


def fahrenheit_to_celsius(value: float) -> float:
    """Convert °F to °C."""
    return (value - 32.0) * 5.0 / 9.0


@dataclass(frozen=True, slots=True)
class VitalSample:
    """One vital-sign value in its canonical unit.

    ``time`` is timezone-aware when known; ``None`` means the source gave no time
    (the pipeline then uses the time of receipt).
    """

    vital: Vital
    value: float
    time: datetime | None = None

    @property
    def unit(self) -> str:
        """Canonical unit of this sample."""
        return CANONICAL_UNIT[self.vital]
