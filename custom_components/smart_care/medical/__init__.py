"""Pure medical core of Smart Care: no Home Assistant imports anywhere in this package."""

from __future__ import annotations

from .gatt import (
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
from .ieee11073 import Special, decode_float, decode_sfloat

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
