"""Bluetooth health-device protocol: GATT characteristics, IEEE 11073 numbers, RACP."""

from __future__ import annotations

from .ieee11073 import Special, decode_float, decode_sfloat
from .parser import (
    STATUS_FLAG_NAMES,
    SUPPORTED_CHARACTERISTICS,
    BatteryReading,
    BloodPressureReading,
    BodyCompositionReading,
    CurrentTimeReading,
    DateTimeReading,
    DecodeError,
    GlucoseContextReading,
    GlucoseReading,
    HeartRateReading,
    IntermediateCuffPressureReading,
    PlxContinuousReading,
    PlxSpotCheckReading,
    RacpReading,
    Reading,
    TemperatureReading,
    UnknownCharacteristicError,
    WeightReading,
    decode,
    full_uuid,
    short_uuid,
)

# One name per line so other modules can append their exports without conflicts.
__all__ = [
    "STATUS_FLAG_NAMES",
    "SUPPORTED_CHARACTERISTICS",
    "BatteryReading",
    "BloodPressureReading",
    "BodyCompositionReading",
    "CurrentTimeReading",
    "DateTimeReading",
    "DecodeError",
    "GlucoseContextReading",
    "GlucoseReading",
    "HeartRateReading",
    "IntermediateCuffPressureReading",
    "PlxContinuousReading",
    "PlxSpotCheckReading",
    "RacpReading",
    "Reading",
    "Special",
    "TemperatureReading",
    "UnknownCharacteristicError",
    "WeightReading",
    "decode",
    "decode_float",
    "decode_sfloat",
    "full_uuid",
    "short_uuid",
]
