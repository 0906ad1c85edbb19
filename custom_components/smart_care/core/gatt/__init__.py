"""Bluetooth health-device protocol: GATT characteristics, IEEE 11073 numbers, RACP."""

from __future__ import annotations

from .base import DecodeError, Reading, UnknownCharacteristicError
from .blood_pressure import BloodPressureReading, IntermediateCuffPressureReading
from .common import BatteryReading, CurrentTimeReading, DateTimeReading
from .glucose import GlucoseContextReading, GlucoseReading
from .heart_rate import HeartRateReading
from .ieee11073 import Special, decode_float, decode_sfloat
from .parser import STATUS_FLAG_NAMES, SUPPORTED_CHARACTERISTICS, decode, full_uuid, short_uuid
from .pulse_oximeter import PlxContinuousReading, PlxSpotCheckReading
from .racp import RacpReading
from .thermometer import TemperatureReading
from .weight import BodyCompositionReading, WeightReading

# The package's public names: the only place that re-exports them.
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
