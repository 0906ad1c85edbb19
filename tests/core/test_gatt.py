"""BLE health-profile decoder: spec-derived vectors, every flag combination, errors, vitals.

Spec references per test: GSS = Bluetooth GATT Specification Supplement (field tables also in
the SIG GATT XML, github.com/oesmith/gatt-xml); BLS/HTS/HRS/WSS/BCS/GLS/PLXS/CTS/BAS = the
service specifications. Byte strings are little-endian hex; every expected value has its
arithmetic next to it.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
from datetime import datetime
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from custom_components.smart_care.core.clinical.vitals import Vital, VitalSample
from custom_components.smart_care.core.gatt import (
    STATUS_FLAG_NAMES,
    SUPPORTED_CHARACTERISTICS,
    BloodPressureReading,
    DecodeError,
    GlucoseReading,
    Reading,
    UnknownCharacteristicError,
    decode,
    full_uuid,
    short_uuid,
)
from tests.support.module_loader import load_module


def _load_vectors() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "decode_vectors.py"
    return load_module("smart_care_decode_vectors", path)


VECTORS = _load_vectors().VECTORS


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def vitals_of(reading: Reading) -> dict[Vital, float]:
    samples = reading.vitals()
    assert all(isinstance(s, VitalSample) and s.time is None for s in samples)
    return {s.vital: s.value for s in samples}


def check(uuid: str, payload: bytes, expected: dict[str, Any], rfu_flags: int = 0) -> Reading:
    """Decode, compare, and check the same payload one byte short/long is rejected."""
    reading = decode(uuid, payload)
    as_dict = reading.as_dict()
    for key, value in expected.items():
        assert as_dict[key] == value, (key, payload.hex())
    json.dumps(as_dict)
    with pytest.raises(DecodeError):
        decode(uuid, payload[:-1])
    with pytest.raises(DecodeError):
        decode(uuid, payload + b"\x00")
    if rfu_flags:
        # Reserved flag bits are ignored (receivers must ignore RFU bits).
        patched = bytes([payload[0] | rfu_flags]) + payload[1:]
        assert decode(uuid, patched).as_dict() == as_dict
    return reading


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_hand_checked_vector(vector: Any) -> None:
    reading = decode(vector.uuid, vector.payload)
    as_dict = reading.as_dict()
    assert as_dict["characteristic"] == vector.uuid
    for key, value in vector.expected.items():
        assert as_dict[key] == value, key
    json.dumps(as_dict)


def test_every_supported_characteristic_has_a_vector() -> None:
    assert {v.uuid for v in VECTORS} == set(SUPPORTED_CHARACTERISTICS)


# --------------------------------------------------------------------------- uuids


@pytest.mark.parametrize(
    "spelling",
    [
        "2a35",
        "2A35",
        "0x2a35",
        "0x2A35",
        "0X2A35",
        "00002a35",
        "00002a35-0000-1000-8000-00805f9b34fb",
        "00002A35-0000-1000-8000-00805F9B34FB",
        "00002a35-0000-1000-8000-00805F9b34Fb",
        " 2a35 ",
    ],
)
def test_uuid_spellings(spelling: str) -> None:
    reading = decode(spelling, h("00 7800 5000 5D00"))
    assert reading.characteristic == "2a35"
    assert reading.kind == "blood_pressure"
    assert short_uuid(spelling) == "2a35"
    assert full_uuid(spelling) == "00002a35-0000-1000-8000-00805f9b34fb"


@pytest.mark.parametrize(
    "uuid",
    [
        "180d",  # Heart Rate service, not a characteristic we decode
        "2a00",
        "00002a35-0000-1000-8000-00805f9b34fc",  # not the Bluetooth base UUID
        "12342a35-0000-1000-8000-00805f9b34fb",  # 32-bit UUID outside the 16-bit range
        "2a3",
        "2a355",
        "zz35",
        "",
    ],
)
def test_unknown_uuid(uuid: str) -> None:
    with pytest.raises(UnknownCharacteristicError) as err:
        decode(uuid, b"\x00")
    assert isinstance(err.value, DecodeError)
    assert isinstance(err.value, ValueError)


def test_supported_characteristics_table() -> None:
    assert dict(SUPPORTED_CHARACTERISTICS) == {
        "2a35": "blood_pressure",
        "2a36": "intermediate_cuff_pressure",
        "2a1c": "temperature",
        "2a1e": "intermediate_temperature",
        "2a37": "heart_rate",
        "2a9d": "weight",
        "2a9c": "body_composition",
        "2a18": "glucose",
        "2a34": "glucose_context",
        "2a5e": "plx_spot_check",
        "2a5f": "plx_continuous",
        "2a52": "racp",
        "2a2b": "current_time",
        "2a08": "date_time",
        "2a19": "battery",
    }


def test_bytes_like_inputs() -> None:
    payload = h("00 7800 5000 5D00")
    expected = decode("2a35", payload)
    assert decode("2a35", bytearray(payload)) == expected
    assert decode("2a35", memoryview(payload)) == expected
    with pytest.raises(TypeError):
        decode("2a35", "00780050005d00")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Reading


def test_reading_is_a_frozen_slotted_dataclass() -> None:
    reading = decode("2a35", h("00 7800 5000 5D00"))
    assert isinstance(reading, Reading)
    assert isinstance(reading, BloodPressureReading)
    assert dataclasses.is_dataclass(reading)
    assert type(reading).__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert not hasattr(reading, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.systolic = 1.0  # type: ignore[misc]
    # The fast constructor builds the same object the dataclass __init__ would.
    assert dataclasses.replace(reading) == reading
    assert hash(reading) == hash(dataclasses.replace(reading))


EXPECTED_KEYS: dict[str, set[str]] = {
    "blood_pressure": {
        "systolic",
        "diastolic",
        "mean_arterial_pressure",
        "unit",
        "timestamp",
        "pulse_rate",
        "pulse_rate_unit",
        "user_id",
        "measurement_status",
    },
    "intermediate_cuff_pressure": {
        "cuff_pressure",
        "unit",
        "timestamp",
        "pulse_rate",
        "pulse_rate_unit",
        "user_id",
        "measurement_status",
    },
    "temperature": {"temperature", "unit", "timestamp", "temperature_type"},
    "intermediate_temperature": {"temperature", "unit", "timestamp", "temperature_type"},
    "heart_rate": {
        "heart_rate",
        "unit",
        "sensor_contact",
        "energy_expended",
        "energy_expended_unit",
        "rr_intervals",
        "rr_intervals_unit",
    },
    "weight": {
        "weight",
        "weight_unit",
        "timestamp",
        "user_id",
        "bmi",
        "bmi_unit",
        "height",
        "height_unit",
    },
    "body_composition": {
        "body_fat_percent",
        "body_fat_percent_unit",
        "timestamp",
        "user_id",
        "basal_metabolism",
        "basal_metabolism_unit",
        "muscle_percent",
        "muscle_percent_unit",
        "muscle_mass",
        "muscle_mass_unit",
        "fat_free_mass",
        "fat_free_mass_unit",
        "soft_lean_mass",
        "soft_lean_mass_unit",
        "body_water_mass",
        "body_water_mass_unit",
        "impedance",
        "impedance_unit",
        "weight",
        "weight_unit",
        "height",
        "height_unit",
        "multiple_packets",
    },
    "glucose": {
        "sequence_number",
        "base_time",
        "time_offset",
        "time_offset_unit",
        "timestamp",
        "concentration",
        "unit",
        "type",
        "sample_location",
        "sensor_status_annunciation",
        "context_information_follows",
    },
    "glucose_context": {
        "sequence_number",
        "extended_flags",
        "carbohydrate_id",
        "carbohydrate",
        "carbohydrate_unit",
        "meal",
        "tester",
        "health",
        "exercise_duration",
        "exercise_duration_unit",
        "exercise_duration_overrun",
        "exercise_intensity",
        "exercise_intensity_unit",
        "medication_id",
        "medication",
        "medication_unit",
        "hba1c",
        "hba1c_unit",
    },
    "plx_spot_check": {
        "spo2",
        "spo2_unit",
        "pulse_rate",
        "pulse_rate_unit",
        "timestamp",
        "measurement_status",
        "device_and_sensor_status",
        "pulse_amplitude_index",
        "pulse_amplitude_index_unit",
        "device_clock_set",
    },
    "plx_continuous": {
        "spo2",
        "pulse_rate",
        "spo2_fast",
        "pulse_rate_fast",
        "spo2_slow",
        "pulse_rate_slow",
        "spo2_unit",
        "pulse_rate_unit",
        "measurement_status",
        "device_and_sensor_status",
        "pulse_amplitude_index",
        "pulse_amplitude_index_unit",
    },
    "racp": {
        "op_code",
        "operator",
        "number_of_records",
        "request_op_code",
        "response_code",
        "filter_type",
        "filter_values",
        "operand",
    },
    "current_time": {"timestamp", "day_of_week", "fractions256", "adjust_reason"},
    "date_time": {"timestamp"},
    "battery": {"level", "unit"},
}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_as_dict_keys_are_the_documented_contract(vector: Any) -> None:
    reading = decode(vector.uuid, vector.payload)
    assert set(reading.as_dict()) == {"characteristic", "kind"} | EXPECTED_KEYS[reading.kind]
    # user_id / timestamp / sequence_number exist on every reading.
    assert reading.user_id is None or isinstance(reading.user_id, int)
    assert reading.timestamp is None or isinstance(reading.timestamp, datetime)
    assert reading.sequence_number is None or isinstance(reading.sequence_number, int)
    assert set(reading.status_flags()) <= STATUS_FLAG_NAMES


# ------------------------------------------------ every flag combination, per characteristic

# Bit -> name as the GSS tables number them: the oracle for the decoders' name tables
# (test_gatt_fuzz's reference encoder uses them too).
# Sensor Status Annunciation (GLS 1.0 §3.106), bits 12-15 reserved.
GLUCOSE_STATUS_BITS: dict[int, str] = {
    0: "battery_low",
    1: "sensor_malfunction",
    2: "sample_size_insufficient",
    3: "strip_insertion_error",
    4: "strip_type_incorrect",
    5: "result_too_high",
    6: "result_too_low",
    7: "temperature_too_high",
    8: "temperature_too_low",
    9: "read_interrupted",
    10: "general_device_fault",
    11: "time_fault",
}
# PLX Measurement Status (PLXS 1.0 §3.1.1.3), bits 0-4 reserved.
PLX_MEASUREMENT_BITS: dict[int, str] = {
    5: "measurement_ongoing",
    6: "early_estimated_data",
    7: "validated_data",
    8: "fully_qualified_data",
    9: "data_from_measurement_storage",
    10: "data_for_demonstration",
    11: "data_for_testing",
    12: "calibration_ongoing",
    13: "measurement_unavailable",
    14: "questionable_measurement",
    15: "invalid_measurement",
}
# PLX Device and Sensor Status (PLXS 1.0 §3.1.1.4), bits 16-23 reserved.
PLX_DEVICE_BITS: dict[int, str] = {
    0: "extended_display_update_ongoing",
    1: "equipment_malfunction",
    2: "signal_processing_irregularity",
    3: "inadequate_signal",
    4: "poor_signal",
    5: "low_perfusion",
    6: "erratic_signal",
    7: "nonpulsatile_signal",
    8: "questionable_pulse",
    9: "signal_analysis_ongoing",
    10: "sensor_interference",
    11: "sensor_unconnected",
    12: "unknown_sensor",
    13: "sensor_displaced",
    14: "sensor_malfunction",
    15: "sensor_disconnected",
}

TS_HEX = "E807 03 0F 08 1E 00"  # 0x07E8 = 2024, March 15, 08:30:00
TS_ISO = "2024-03-15T08:30:00"


@pytest.mark.parametrize("flags", range(32))
def test_blood_pressure_every_flag_combination(flags: int) -> None:
    """BLS 1.0 §3.1.1 / GSS Blood Pressure Measurement: flags bits 0-4, RFU 5-7."""
    payload = bytes([flags]) + h("7900 5100 5D00")  # SFLOAT 121, 81, 93
    expected: dict[str, Any] = {
        "systolic": 121.0,
        "diastolic": 81.0,
        "mean_arterial_pressure": 93.0,
        "unit": "kPa" if flags & 0x01 else "mmHg",
        "timestamp": None,
        "pulse_rate": None,
        "user_id": None,
        "measurement_status": None,
    }
    if flags & 0x02:
        payload += h(TS_HEX)
        expected["timestamp"] = TS_ISO
    if flags & 0x04:
        payload += h("4800")  # 72 bpm
        expected["pulse_rate"] = 72.0
    if flags & 0x08:
        payload += h("02")
        expected["user_id"] = 2
    if flags & 0x10:
        payload += h("0400")  # bit 2
        expected["measurement_status"] = ["irregular_pulse"]
    reading = check("2a35", payload, expected, rfu_flags=0xE0)
    assert reading.kind == "blood_pressure"
    assert reading.user_id == expected["user_id"]


@pytest.mark.parametrize("flags", range(32))
def test_intermediate_cuff_pressure_every_flag_combination(flags: int) -> None:
    """BLS 1.0 §3.2: same layout as 0x2A35; diastolic and MAP are unused (NaN)."""
    payload = bytes([flags]) + h("9600 FF07 FF07")  # current cuff pressure 150
    expected: dict[str, Any] = {
        "cuff_pressure": 150.0,
        "unit": "kPa" if flags & 0x01 else "mmHg",
        "timestamp": None,
        "pulse_rate": None,
        "user_id": None,
        "measurement_status": None,
    }
    if flags & 0x02:
        payload += h(TS_HEX)
        expected["timestamp"] = TS_ISO
    if flags & 0x04:
        payload += h("4800")
        expected["pulse_rate"] = 72.0
    if flags & 0x08:
        payload += h("FF")  # unknown user
    if flags & 0x10:
        payload += h("0100")
        expected["measurement_status"] = ["body_movement"]
    reading = check("2a36", payload, expected, rfu_flags=0xE0)
    assert reading.vitals() == []
    assert reading.kind == "intermediate_cuff_pressure"


@pytest.mark.parametrize("uuid", ["2a1c", "2a1e"])
@pytest.mark.parametrize("flags", range(8))
def test_temperature_every_flag_combination(uuid: str, flags: int) -> None:
    """HTS 1.0 §3.1 / §3.2 / GSS Temperature Measurement: flags bits 0-2, RFU 3-7."""
    payload = bytes([flags]) + h("6D0100FF")  # FLOAT 365e-1 = 36.5
    expected: dict[str, Any] = {
        "temperature": 36.5,
        "unit": "°F" if flags & 0x01 else "°C",
        "timestamp": None,
        "temperature_type": None,
    }
    if flags & 0x02:
        payload += h(TS_HEX)
        expected["timestamp"] = TS_ISO
    if flags & 0x04:
        payload += h("09")
        expected["temperature_type"] = "tympanum"
    check(uuid, payload, expected, rfu_flags=0xF8)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0, "reserved"),
        (1, "armpit"),
        (2, "body"),
        (3, "ear"),
        (4, "finger"),
        (5, "gastrointestinal_tract"),
        (6, "mouth"),
        (7, "rectum"),
        (8, "toe"),
        (9, "tympanum"),
        (10, "reserved"),
        (255, "reserved"),
    ],
)
def test_temperature_type_names(code: int, name: str) -> None:
    """GSS Temperature Type (0x2A1D) values."""
    reading = decode("2a1c", h("04 6D0100FF") + bytes([code]))
    assert reading.as_dict()["temperature_type"] == name


@pytest.mark.parametrize("flags", range(32))
def test_heart_rate_every_flag_combination(flags: int) -> None:
    """HRS 1.0 §3.1.1 / GSS Heart Rate Measurement: bit 0 format, 1-2 contact, 3, 4."""
    payload = bytes([flags]) + (h("4800") if flags & 0x01 else h("48"))  # 72 bpm
    expected: dict[str, Any] = {
        "heart_rate": 72,
        # bits 1-2: 0/1 not supported, 2 supported but no contact, 3 contact
        "sensor_contact": ["not_supported", "not_supported", "not_detected", "detected"][
            (flags >> 1) & 3
        ],
        "energy_expended": None,
        "rr_intervals": None,
    }
    if flags & 0x08:
        payload += h("2C01")  # 300 kJ
        expected["energy_expended"] = 300
    if flags & 0x10:
        payload += h("0004 0002")  # 1024/1024 = 1.0 s, 512/1024 = 0.5 s
        expected["rr_intervals"] = [1.0, 0.5]
    reading = decode("2a37", payload)
    as_dict = reading.as_dict()
    for key, value in expected.items():
        assert as_dict[key] == value
    patched = bytes([flags | 0xE0]) + payload[1:]
    assert decode("2a37", patched).as_dict() == as_dict
    with pytest.raises(DecodeError):
        decode("2a37", payload[:-1])
    if flags & 0x10:
        # RR intervals take the rest: one more interval is fine, an odd byte is not.
        assert decode("2a37", payload + h("0001")).as_dict()["rr_intervals"] == [1.0, 0.5, 0.25]
    with pytest.raises(DecodeError):
        decode("2a37", payload + b"\x00")


@pytest.mark.parametrize("flags", range(16))
def test_weight_every_flag_combination(flags: int) -> None:
    """WSS 1.0 §3.2.1 / GSS Weight Measurement: flags bits 0-3, RFU 4-7."""
    imperial = flags & 0x01
    payload = bytes([flags]) + h("5836")  # 13912
    expected: dict[str, Any] = {
        # 13912 x 0.01 lb = 139.12 lb; 13912 x 0.005 kg = 69.56 kg
        "weight": 139.12 if imperial else 69.56,
        "weight_unit": "lb" if imperial else "kg",
        "height_unit": "in" if imperial else "m",
        "timestamp": None,
        "user_id": None,
        "bmi": None,
        "height": None,
    }
    if flags & 0x02:
        payload += h(TS_HEX)
        expected["timestamp"] = TS_ISO
    if flags & 0x04:
        payload += h("04")
        expected["user_id"] = 4
    if flags & 0x08:
        payload += h("F400 D606")  # BMI 244 x 0.1; height 1750
        expected["bmi"] = 24.4
        expected["height"] = 175.0 if imperial else 1.75  # 1750 x 0.1 in / x 0.001 m
    check("2a9d", payload, expected, rfu_flags=0xF0)


_BODY_PARTS: tuple[tuple[int, str, str, Any, Any], ...] = (
    # (flag bit, bytes, as_dict key, SI value, imperial value)
    (0x0002, TS_HEX, "timestamp", TS_ISO, TS_ISO),
    (0x0004, "05", "user_id", 5, 5),
    (0x0008, "0A1A", "basal_metabolism", 6666, 6666),  # 0x1A0A kJ
    (0x0010, "C201", "muscle_percent", 45.0, 45.0),  # 450 x 0.1 %
    (0x0020, "7017", "muscle_mass", 30.0, 60.0),  # 6000 x 0.005 kg / x 0.01 lb
    (0x0040, "1027", "fat_free_mass", 50.0, 100.0),  # 10000
    (0x0080, "2823", "soft_lean_mass", 45.0, 90.0),  # 9000
    (0x0100, "581B", "body_water_mass", 35.0, 70.0),  # 7000
    (0x0200, "8813", "impedance", 500.0, 500.0),  # 5000 x 0.1 Ω
    (0x0400, "B036", "weight", 70.0, 140.0),  # 14000
    (0x0800, "D606", "height", 1.75, 175.0),  # 1750 x 0.001 m / x 0.1 in
)


def test_body_composition_every_flag_combination() -> None:
    """BCS 1.0 §3.2.1 / GSS Body Composition Measurement: all 8192 combinations of bits 0-12."""
    for flags in range(0x2000):
        imperial = flags & 0x0001
        payload = flags.to_bytes(2, "little") + h("C800")  # body fat 200 x 0.1 = 20.0 %
        expected: dict[str, Any] = {
            "body_fat_percent": 20.0,
            "weight_unit": "lb" if imperial else "kg",
            "muscle_mass_unit": "lb" if imperial else "kg",
            "height_unit": "in" if imperial else "m",
            "multiple_packets": bool(flags & 0x1000),
        }
        for bit, data, key, si, imp in _BODY_PARTS:
            if flags & bit:
                payload += h(data)
                expected[key] = imp if imperial else si
            else:
                expected[key] = None
        reading = decode("2a9c", payload)
        as_dict = reading.as_dict()
        for key, value in expected.items():
            assert as_dict[key] == value, (hex(flags), key)
        if flags % 97 == 0:  # length and RFU checks on a spread of combinations
            check("2a9c", payload, expected)
            patched = (flags | 0xE000).to_bytes(2, "little") + payload[2:]
            assert decode("2a9c", patched).as_dict() == as_dict


@pytest.mark.parametrize("flags", range(32))
def test_glucose_every_flag_combination(flags: int) -> None:
    """GLS 1.0 §3.106 / GSS Glucose Measurement: flags bits 0-4, RFU 5-7."""
    payload = bytes([flags]) + h("2A00") + h(TS_HEX)  # sequence 42
    expected: dict[str, Any] = {
        "sequence_number": 42,
        "base_time": TS_ISO,
        "timestamp": TS_ISO,
        "time_offset": None,
        "concentration": None,
        "unit": None,
        "type": None,
        "sample_location": None,
        "sensor_status_annunciation": None,
        "context_information_follows": bool(flags & 0x10),
    }
    if flags & 0x01:
        payload += h("0F00")  # +15 min
        expected["time_offset"] = 15
        expected["timestamp"] = "2024-03-15T08:45:00"
    if flags & 0x02:
        # kg/L: 0xB05F = 95e-5; mol/L: same raw read as mol/L
        payload += h("5FB0 92")  # type 2 capillary plasma, location 9 reserved
        expected["concentration"] = 0.00095
        expected["unit"] = "mol/L" if flags & 0x04 else "kg/L"
        expected["type"] = "capillary_plasma"
        expected["sample_location"] = "reserved"
    if flags & 0x08:
        payload += h("0008")  # bit 11
        expected["sensor_status_annunciation"] = ["time_fault"]
    reading = check("2a18", payload, expected, rfu_flags=0xE0)
    assert reading.sequence_number == 42


_CONTEXT_PARTS: tuple[tuple[int, str, dict[str, Any]], ...] = (
    (0x80, "7F", {"extended_flags": 0x7F}),
    (0x01, "01 3200", {"carbohydrate_id": "breakfast", "carbohydrate": 50.0}),
    (0x02, "05", {"meal": "bedtime"}),
    (0x04, "5F", {"tester": "not_available", "health": "no_health_issues"}),  # lo 15, hi 5
    (
        0x08,
        "FFFF 64",
        {"exercise_duration": 65535, "exercise_duration_overrun": True, "exercise_intensity": 100},
    ),
    (0x10, "05 06F0", {"medication_id": "pre_mixed_insulin", "medication": 0.6}),  # 6e-1
    (0x40, "41F0", {"hba1c": 6.5}),  # 0xF041: exp -1, mantissa 65
)


def test_glucose_context_every_flag_combination() -> None:
    """GLS 1.0 / GSS Glucose Measurement Context: all 256 flag values (bit 5 = units)."""
    for flags in range(256):
        payload = bytes([flags]) + h("0900")  # sequence 9
        expected: dict[str, Any] = {"sequence_number": 9, "exercise_duration_overrun": False}
        for bit, data, values in _CONTEXT_PARTS:
            if flags & bit:
                payload += h(data)
                expected.update(values)
            else:
                expected.update(dict.fromkeys(values))
                if bit == 0x08:
                    expected["exercise_duration_overrun"] = False
        if flags & 0x10:
            expected["medication_unit"] = "L" if flags & 0x20 else "kg"
        else:
            expected["medication_unit"] = None
        as_dict = decode("2a34", payload).as_dict()
        for key, value in expected.items():
            assert as_dict[key] == value, (hex(flags), key)
        if flags % 7 == 0:
            check("2a34", payload, expected)


@pytest.mark.parametrize("flags", range(32))
def test_plx_spot_check_every_flag_combination(flags: int) -> None:
    """PLXS 1.0 §3.1.1 / GSS PLX Spot-Check Measurement: bits 0-4, RFU 5-7."""
    payload = bytes([flags]) + h("6200 4800")  # SpO2 98 %, PR 72 bpm
    expected: dict[str, Any] = {
        "spo2": 98.0,
        "pulse_rate": 72.0,
        "timestamp": None,
        "measurement_status": None,
        "device_and_sensor_status": None,
        "pulse_amplitude_index": None,
        "device_clock_set": not flags & 0x10,
    }
    if flags & 0x01:
        payload += h(TS_HEX)
        expected["timestamp"] = None if flags & 0x10 else TS_ISO
    if flags & 0x02:
        payload += h("00A0")  # bits 13, 15
        expected["measurement_status"] = ["measurement_unavailable", "invalid_measurement"]
    if flags & 0x04:
        payload += h("018000")  # bits 0 and 15
        expected["device_and_sensor_status"] = [
            "extended_display_update_ongoing",
            "sensor_disconnected",
        ]
    if flags & 0x08:
        payload += h("1CF0")  # 28e-1
        expected["pulse_amplitude_index"] = 2.8
    reading = check("2a5e", payload, expected, rfu_flags=0xE0)
    flags_reported = reading.status_flags()
    assert ("clock_not_set" in flags_reported) == bool(flags & 0x10)
    assert ("invalid_measurement" in flags_reported) == bool(flags & 0x02)
    assert ("sensor_disconnected" in flags_reported) == bool(flags & 0x04)
    assert "extended_display_update_ongoing" not in flags_reported


@pytest.mark.parametrize("flags", range(32))
def test_plx_continuous_every_flag_combination(flags: int) -> None:
    """PLXS 1.0 §3.2.1 / GSS PLX Continuous Measurement: bits 0-4, RFU 5-7."""
    payload = bytes([flags]) + h("6100 4800")  # 97 %, 72 bpm
    expected: dict[str, Any] = {
        "spo2": 97.0,
        "pulse_rate": 72.0,
        "spo2_fast": None,
        "pulse_rate_fast": None,
        "spo2_slow": None,
        "pulse_rate_slow": None,
        "measurement_status": None,
        "device_and_sensor_status": None,
        "pulse_amplitude_index": None,
    }
    if flags & 0x01:
        payload += h("6000 4A00")
        expected.update(spo2_fast=96.0, pulse_rate_fast=74.0)
    if flags & 0x02:
        payload += h("6200 4600")
        expected.update(spo2_slow=98.0, pulse_rate_slow=70.0)
    if flags & 0x04:
        payload += h("1F00")  # bits 0-4 are reserved: ignored
        expected["measurement_status"] = []
    if flags & 0x08:
        payload += h("2000FF")  # bit 5 low perfusion; bits 16-23 reserved: ignored
        expected["device_and_sensor_status"] = ["low_perfusion"]
    if flags & 0x10:
        payload += h("23F0")  # 35e-1
        expected["pulse_amplitude_index"] = 3.5
    reading = check("2a5f", payload, expected, rfu_flags=0xE0)
    assert vitals_of(reading) == {Vital.SPO2: 97.0, Vital.PULSE: 72.0}


# --------------------------------------------------------------------------- special values

SPECIAL_SFLOATS = ("FF07", "0008", "FE07", "0208", "0108")  # NaN, NRes, +INF, -INF, reserved
SPECIAL_FLOATS = ("FFFF7F00", "00008000", "FEFF7F00", "02008000", "01008000")

_SPECIAL_CASES: tuple[tuple[str, str, dict[str, tuple[int, Vital | None]]], ...] = (
    (
        "2a35",
        "1E 7900 5100 5D00 " + TS_HEX + " 4800 02 0400",
        {
            "systolic": (1, Vital.SYSTOLIC_BP),
            "diastolic": (3, Vital.DIASTOLIC_BP),
            "mean_arterial_pressure": (5, Vital.MEAN_ARTERIAL_PRESSURE),
            "pulse_rate": (14, Vital.PULSE),
        },
    ),
    ("2a36", "04 9600 FF07 FF07 4800", {"cuff_pressure": (1, None), "pulse_rate": (7, None)}),
    ("2a18", "02 0700 " + TS_HEX + " 5FB0 11", {"concentration": (10, Vital.GLUCOSE)}),
    (
        "2a34",
        "FF 0000 B3 03 6400 04 12 3C00 32 04 0AD0 59F1",
        {"carbohydrate": (5, None), "medication": (13, None), "hba1c": (15, None)},
    ),
    (
        "2a5e",
        "0F 6100 4B00 " + TS_HEX + " 8000 200000 1CF0",
        {
            "spo2": (1, Vital.SPO2),
            "pulse_rate": (3, Vital.PULSE),
            "pulse_amplitude_index": (17, None),
        },
    ),
    (
        "2a5f",
        "1F 6100 4800 6000 4A00 6200 4600 0001 000000 23F0",
        {
            "spo2": (1, Vital.SPO2),
            "pulse_rate": (3, Vital.PULSE),
            "spo2_fast": (5, None),
            "pulse_rate_fast": (7, None),
            "spo2_slow": (9, None),
            "pulse_rate_slow": (11, None),
            "pulse_amplitude_index": (18, None),
        },
    ),
)


@pytest.mark.parametrize(("uuid", "payload", "fields"), _SPECIAL_CASES, ids=lambda x: str(x)[:8])
@pytest.mark.parametrize("special", SPECIAL_SFLOATS)
def test_sfloat_special_values_in_every_field(
    uuid: str, payload: str, fields: dict[str, tuple[int, Vital | None]], special: str
) -> None:
    """IEEE 11073-20601 specials are never readings: None in as_dict, absent from vitals."""
    base = h(payload)
    baseline = decode(uuid, base)
    assert all(baseline.as_dict()[name] is not None for name in fields)
    for name, (offset, vital) in fields.items():
        patched = base[:offset] + h(special) + base[offset + 2 :]
        reading = decode(uuid, patched)
        assert reading.as_dict()[name] is None
        if vital is not None:
            assert vital in vitals_of(baseline)
            assert vital not in vitals_of(reading)


@pytest.mark.parametrize("uuid", ["2a1c", "2a1e"])
@pytest.mark.parametrize("special", SPECIAL_FLOATS)
def test_float_special_values(uuid: str, special: str) -> None:
    reading = decode(uuid, h("00") + h(special))
    assert reading.as_dict()["temperature"] is None
    assert reading.vitals() == []


# --------------------------------------------------------------------------- date time


@pytest.mark.parametrize(
    ("date_hex", "expected"),
    [
        ("E807 02 1D 17 3B 3B", "2024-02-29T23:59:59"),  # leap day, last second
        ("2E06 0A 0F 00 00 00", "1582-10-15T00:00:00"),  # 0x062E = 1582, lowest valid year
        ("0F27 0C 1F 17 3B 3B", "9999-12-31T23:59:59"),  # 0x270F = 9999
        ("0000 03 0F 08 1E 00", None),  # year 0: unknown
        ("E807 00 0F 08 1E 00", None),  # month 0: unknown
        ("E807 03 00 08 1E 00", None),  # day 0: unknown
        ("0000 00 00 00 00 00", None),
    ],
)
def test_date_time_values(date_hex: str, expected: str | None) -> None:
    """GSS Date Time: year 1582-9999 or 0, month 1-12 or 0, day 1-31 or 0 (0 = unknown)."""
    assert decode("2a08", h(date_hex)).as_dict()["timestamp"] == expected
    bp = decode("2a35", h("02 7900 5100 5D00") + h(date_hex))
    assert bp.as_dict()["timestamp"] == expected
    assert (bp.timestamp is None) == (expected is None)


@pytest.mark.parametrize(
    "date_hex",
    [
        "E807 0D 0F 08 1E 00",  # month 13
        "E807 02 1E 08 1E 00",  # 30 February
        "E707 02 1D 08 1E 00",  # 29 February 2023
        "E807 03 20 08 1E 00",  # day 32
        "E807 03 0F 18 1E 00",  # hour 24
        "E807 03 0F 08 3C 00",  # minute 60
        "E807 03 0F 08 1E 3C",  # second 60
        "2D06 03 0F 08 1E 00",  # 1581
        "1027 01 01 00 00 00",  # 10000
        "0000 03 0F 19 00 00",  # unknown year but hour 25
        "0000 0D 00 00 00 00",  # unknown year but month 13
    ],
)
def test_invalid_date_time_is_a_decode_error(date_hex: str) -> None:
    with pytest.raises(DecodeError, match="Date Time") as err:
        decode("2a08", h(date_hex))
    assert err.value.field == "date_time"
    with pytest.raises(DecodeError, match="timestamp"):
        decode("2a35", h("02 7900 5100 5D00") + h(date_hex))


def test_glucose_time_offset_beyond_year_9999() -> None:
    # base 9999-12-31 23:59:00 + 0x7FFF = 32767 minutes
    with pytest.raises(DecodeError, match="time_offset"):
        decode("2a18", h("01 0100 0F27 0C 1F 17 3B 00 FF7F"))


def test_glucose_offset_with_unknown_base_time() -> None:
    reading = decode("2a18", h("01 0100 0000 00 00 00 00 00 0F00"))
    assert reading.timestamp is None
    assert reading.as_dict()["time_offset"] == 15


def test_current_time_fields() -> None:
    """CTS 1.1 §3.1 / GSS Current Time: Exact Time 256 (Day Date Time + Fractions256)."""
    reading = decode("2a2b", h("E407 01 02 03 04 05 00 FF FF"))
    as_dict = reading.as_dict()
    assert as_dict["timestamp"] == "2020-01-02T03:04:05"
    assert as_dict["day_of_week"] is None  # 0 = unknown
    assert as_dict["fractions256"] == 255
    # 0xFF: bits 0-3 defined, 4-7 reserved and ignored
    assert as_dict["adjust_reason"] == [
        "manual_time_update",
        "external_reference_time_update",
        "change_of_time_zone",
        "change_of_dst",
    ]
    assert decode("2a2b", h("E407 01 02 03 04 05 07 00 00")).as_dict()["day_of_week"] == "sunday"
    assert decode("2a2b", h("E407 01 02 03 04 05 08 00 00")).as_dict()["day_of_week"] == (
        "reserved"
    )
    with pytest.raises(DecodeError, match="adjust_reason: needs 1 bytes at offset 9, got 0"):
        decode("2a2b", h("E407 01 02 03 04 05 00 00"))


def test_battery_level() -> None:
    """BAS 1.0 §3.1: 0-100 %, 101-255 reserved -> rejected."""
    assert decode("2a19", h("00")).as_dict() == {
        "characteristic": "2a19",
        "kind": "battery",
        "level": 0,
        "unit": "%",
    }
    assert decode("2a19", h("64")).as_dict()["level"] == 100
    with pytest.raises(DecodeError, match="outside 0..100"):
        decode("2a19", h("65"))
    with pytest.raises(DecodeError, match="empty payload"):
        decode("2a19", b"")
    with pytest.raises(DecodeError, match="trailing"):
        decode("2a19", h("6400"))


# --------------------------------------------------------------------------- RACP


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0, "reserved"),
        (1, "success"),
        (2, "op_code_not_supported"),
        (3, "invalid_operator"),
        (4, "operator_not_supported"),
        (5, "invalid_operand"),
        (6, "no_records_found"),
        (7, "abort_unsuccessful"),
        (8, "procedure_not_completed"),
        (9, "operand_not_supported"),
        (10, "reserved"),
    ],
)
def test_racp_response_codes(code: int, name: str) -> None:
    """GLS 1.0 §3.4 / GSS RACP: Response Code = request op code + response code value."""
    reading = decode("2a52", bytes([6, 0, 2, code]))
    as_dict = reading.as_dict()
    assert as_dict["op_code"] == "response_code"
    assert as_dict["operator"] == "null"
    assert as_dict["request_op_code"] == "delete_stored_records"
    assert as_dict["response_code"] == name


@pytest.mark.parametrize(
    ("operand", "count"),
    [("07", 7), ("0201", 258), ("04030201", 0x01020304)],
)
def test_racp_number_of_records(operand: str, count: int) -> None:
    # uint16 per GLS/PLXS; 1 and 4 bytes accepted like Nordic's parser (captures uint8/uint32)
    assert decode("2a52", h("05 00") + h(operand)).as_dict()["number_of_records"] == count


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("01 01", {"op_code": "report_stored_records", "operator": "all_records"}),
        ("02 05", {"op_code": "delete_stored_records", "operator": "first_record"}),
        ("03 00", {"op_code": "abort_operation", "operator": "null"}),
        ("04 06", {"op_code": "report_number_of_stored_records", "operator": "last_record"}),
        (
            "01 02 01 6400",
            {
                "operator": "less_than_or_equal_to",
                "filter_type": "sequence_number",
                "filter_values": [100],
            },
        ),
        (
            "04 04 01 0A00 1400",
            {"operator": "within_range_of", "filter_values": [10, 20]},
        ),
        (
            "01 03 02 " + TS_HEX,
            {"filter_type": "user_facing_time", "filter_values": [TS_ISO]},
        ),
        (
            "01 04 02 " + TS_HEX + " E807 03 10 08 1E 00",
            {"filter_values": [TS_ISO, "2024-03-16T08:30:00"]},
        ),
        ("01 03 07 AABB", {"filter_type": "reserved", "operand": "aabb"}),
        ("09 01 DEAD", {"op_code": "reserved", "operator": "all_records", "operand": "dead"}),
        ("01 09 DEAD", {"operator": "reserved", "operand": "dead"}),
    ],
)
def test_racp_requests(payload: str, expected: dict[str, Any]) -> None:
    as_dict = decode("2a52", h(payload)).as_dict()
    for key, value in expected.items():
        assert as_dict[key] == value
    json.dumps(as_dict)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("", "op_code"),
        ("06", "operator"),
        ("06 01 01 01", "operator"),  # responses must use the null operator
        ("06 00 01", "response_code"),
        ("06 00 01 01 00", "response_code"),
        ("05 00", "number_of_records"),
        ("05 00 030201", "number_of_records"),
        ("01 01 00", "operand"),  # "all records" takes no operand
        ("01 02", "filter_type"),
        ("01 02 01 64", "filter_values"),
        ("04 04 01 0A00", "filter_values"),
        ("01 03 02 E807 0D 01 00 00 00", "filter_values"),  # month 13
    ],
)
def test_racp_errors(payload: str, field: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode("2a52", h(payload))
    assert err.value.field == field
    assert err.value.characteristic == "2a52"
    assert "0x2A52" in str(err.value)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("uuid", "payload", "field", "fragment"),
    [
        ("2a35", "", "flags", "empty payload, expected at least 7 bytes"),
        ("2a35", "00 7900 5100", "mean_arterial_pressure", "needs 2 bytes at offset 5, got 0"),
        ("2a35", "02 7900 5100 5D00 E807", "timestamp", "needs 7 bytes at offset 7, got 2"),
        ("2a35", "10 7900 5100 5D00 04", "measurement_status", "needs 2 bytes at offset 7"),
        ("2a35", "00 7900 5100 5D00 00", "mean_arterial_pressure", "1 unexpected trailing"),
        ("2a1c", "00 6D0100", "temperature", "needs 4 bytes at offset 1, got 3"),
        ("2a9c", "00", "flags", "needs 2 bytes at offset 0, got 1"),
        ("2a9c", "0004 C800", "weight", "needs 2 bytes at offset 4, got 0"),
        ("2a18", "00 0100 E807", "base_time", "needs 7 bytes at offset 3, got 2"),
        ("2a34", "80 0100", "extended_flags", "needs 1 bytes at offset 3, got 0"),
        ("2a5e", "04 6200 4800 2000", "device_and_sensor_status", "needs 3 bytes"),
        ("2a37", "", "flags", "empty payload"),
        ("2a37", "01 48", "heart_rate", "needs 2 bytes"),
        ("2a37", "08 48 01", "energy_expended", "needs 2 bytes at offset 2, got 1"),
        ("2a37", "10 48", "rr_intervals", "got 0 bytes"),
        ("2a37", "10 48 000400", "rr_intervals", "got 3 bytes"),
        ("2a37", "00 48 00", "heart_rate", "1 unexpected trailing"),
        ("2a2b", "", "date_time", "empty payload, expected at least 10 bytes"),
        ("2a08", "E807 01 01 00 00 00 00", "date_time", "1 unexpected trailing"),
    ],
)
def test_error_messages_name_characteristic_field_and_bytes(
    uuid: str, payload: str, field: str, fragment: str
) -> None:
    with pytest.raises(DecodeError) as err:
        decode(uuid, h(payload))
    message = str(err.value)
    assert f"0x{uuid.upper()}" in message
    assert SUPPORTED_CHARACTERISTICS[uuid] in message
    assert field in message
    assert fragment in message
    assert err.value.field == field
    assert err.value.characteristic == uuid


# --------------------------------------------------------------------------- vitals


def test_blood_pressure_vitals_mmhg_and_kpa() -> None:
    """Vitals are canonical mmHg: kPa x 7.50061683 (vitals.KPA_TO_MMHG)."""
    mmhg = decode("2a35", h("04 7900 5100 5D00 4800"))
    assert vitals_of(mmhg) == {
        Vital.SYSTOLIC_BP: 121.0,
        Vital.DIASTOLIC_BP: 81.0,
        Vital.MEAN_ARTERIAL_PRESSURE: 93.0,
        Vital.PULSE: 72.0,
    }
    kpa = decode("2a35", h("15 BDF0 0B00 9FF0 3C00 1200"))  # 18.9 / 11 / 15.9 kPa
    assert vitals_of(kpa) == {
        Vital.SYSTOLIC_BP: 141.761658087,  # 18.9 x 7.50061683 = 141.761658087
        Vital.DIASTOLIC_BP: 82.50678513,  # 11 x 7.50061683
        Vital.MEAN_ARTERIAL_PRESSURE: 119.259807597,  # 15.9 x 7.50061683 = 119.2598075970
        Vital.PULSE: 60.0,
    }
    assert kpa.as_dict()["systolic"] == 18.9  # as sent, no conversion in as_dict


def test_temperature_vitals() -> None:
    assert vitals_of(decode("2a1c", h("01 DA0300FF"))) == {Vital.TEMPERATURE: 37.0}  # 98.6 °F
    assert vitals_of(decode("2a1c", h("00 6D0100FF"))) == {Vital.TEMPERATURE: 36.5}
    assert decode("2a1e", h("00 6D0100FF")).vitals() == []  # intermediate: not a reading


def test_heart_rate_vitals_need_contact() -> None:
    assert vitals_of(decode("2a37", h("06 48"))) == {Vital.HEART_RATE: 72.0}
    assert vitals_of(decode("2a37", h("00 48"))) == {Vital.HEART_RATE: 72.0}
    no_contact = decode("2a37", h("04 48"))
    assert no_contact.vitals() == []
    assert no_contact.status_flags() == ["no_sensor_contact"]


def test_weight_vitals() -> None:
    si = decode("2a9d", h("08 5836 F400 D606"))
    assert vitals_of(si) == {Vital.WEIGHT: 69.56, Vital.BMI: 24.4, Vital.HEIGHT: 175.0}
    imperial = decode("2a9d", h("09 E83B F400 BC02"))
    assert vitals_of(imperial) == {
        Vital.WEIGHT: 69.562925863,  # 153.36 lb x 0.45359237 = 69.5629258632
        Vital.BMI: 24.4,
        Vital.HEIGHT: 177.8,  # 70.0 in x 2.54
    }
    unsuccessful = decode("2a9d", h("00 FFFF"))
    assert unsuccessful.vitals() == []
    assert unsuccessful.status_flags() == ["measurement_unsuccessful"]


def test_body_composition_vitals() -> None:
    si = decode("2a9c", h("000C C800 B036 D606"))
    assert vitals_of(si) == {Vital.BODY_FAT: 20.0, Vital.WEIGHT: 70.0, Vital.HEIGHT: 175.0}
    imperial = decode("2a9c", h("010C FA00 C43B BC02"))
    assert vitals_of(imperial) == {
        Vital.BODY_FAT: 25.0,
        Vital.WEIGHT: 69.39963261,  # 153.0 lb x 0.45359237
        Vital.HEIGHT: 177.8,
    }
    unsuccessful = decode("2a9c", h("0000 FFFF"))
    assert unsuccessful.vitals() == []
    assert unsuccessful.status_flags() == ["measurement_unsuccessful"]


def test_glucose_vitals() -> None:
    """kg/L -> mg/dL (x 100000) -> mmol/L (/ 18.016); mol/L x 1000."""
    kg_per_l = decode("2a18", h("02 0700 " + TS_HEX + " 5FB0 11"))
    assert vitals_of(kg_per_l) == {Vital.GLUCOSE: 5.273090586}  # 95 / 18.016
    mol_per_l = decode("2a18", h("06 0800 " + TS_HEX + " 37C0 11"))
    assert vitals_of(mol_per_l) == {Vital.GLUCOSE: 5.5}  # 0.0055 x 1000
    assert decode("2a18", h("00 0800 " + TS_HEX)).vitals() == []


@pytest.mark.parametrize("type_location", ["1A", "41", "4A"])
def test_glucose_control_solution_is_not_a_patient_value(type_location: str) -> None:
    reading = decode("2a18", h("02 0700 " + TS_HEX + " 5FB0") + h(type_location))
    assert isinstance(reading, GlucoseReading)
    assert reading.is_control_solution
    assert reading.vitals() == []
    assert "control_solution" in reading.status_flags()


def test_glucose_sensor_status_all_bits() -> None:
    reading = decode("2a18", h("08 0100 " + TS_HEX + " FFFF"))  # bits 12-15 reserved
    assert reading.status_flags() == list(GLUCOSE_STATUS_BITS.values())


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        ("0000", True),
        ("8000", True),  # validated data
        ("0040", True),  # questionable: kept, reported in status_flags
        ("0080", False),  # invalid measurement
        ("0020", False),  # measurement unavailable
        ("0004", False),  # data for demonstration
        ("0008", False),  # data for testing
    ],
)
def test_plx_vitals_withheld_for_non_patient_data(status: str, kept: bool) -> None:
    # status hex is little-endian: "0080" = 0x8000 (bit 15) etc.
    reading = decode("2a5e", h("02 6200 4800") + h(status))
    expected = {Vital.SPO2: 98.0, Vital.PULSE: 72.0} if kept else {}
    assert vitals_of(reading) == expected


def test_plx_status_flag_names() -> None:
    reading = decode("2a5e", h("06 6200 4800 E0FF FFFF00"))
    assert reading.as_dict()["measurement_status"] == list(PLX_MEASUREMENT_BITS.values())
    assert reading.as_dict()["device_and_sensor_status"] == list(PLX_DEVICE_BITS.values())
    flags = reading.status_flags()
    assert "low_perfusion" in flags
    assert "measurement_ongoing" not in flags
    assert "signal_analysis_ongoing" not in flags
    assert set(flags) <= STATUS_FLAG_NAMES


@pytest.mark.parametrize(
    ("status", "measurement_status", "status_flags"),
    [
        ("0000", [], []),
        ("0100", ["body_movement"], ["body_movement"]),
        ("0200", ["cuff_too_loose"], ["cuff_too_loose"]),
        ("0400", ["irregular_pulse"], ["irregular_pulse"]),
        (
            "0800",
            ["pulse_rate_exceeds_upper_limit"],
            ["pulse_rate_out_of_range"],
        ),
        ("1000", ["pulse_rate_below_lower_limit"], ["pulse_rate_out_of_range"]),
        ("1800", ["pulse_rate_range_reserved"], []),  # value 3 is reserved
        ("2000", ["improper_position"], ["improper_position"]),
        ("C0FF", [], []),  # bits 6-15 reserved: ignored
        (
            "2F00",
            [
                "body_movement",
                "cuff_too_loose",
                "irregular_pulse",
                "improper_position",
                "pulse_rate_exceeds_upper_limit",
            ],
            [
                "body_movement",
                "cuff_too_loose",
                "irregular_pulse",
                "improper_position",
                "pulse_rate_out_of_range",
            ],
        ),
    ],
)
def test_blood_pressure_measurement_status(
    status: str, measurement_status: list[str], status_flags: list[str]
) -> None:
    """BLS 1.0 §3.1.1.6 Measurement Status bits 0-5."""
    reading = decode("2a35", h("10 7900 5100 5D00") + h(status))
    assert reading.as_dict()["measurement_status"] == measurement_status
    assert reading.status_flags() == status_flags


def test_readings_without_findings() -> None:
    for uuid, payload in [
        ("2a35", "00 7900 5100 5D00"),
        ("2a1c", "00 6D0100FF"),
        ("2a34", "00 0100"),
        ("2a52", "06 00 01 01"),
        ("2a2b", "E407 01 02 03 04 05 03 80 01"),
        ("2a19", "32"),
    ]:
        assert decode(uuid, h(payload)).status_flags() == []


def test_status_flag_vocabulary_is_closed() -> None:
    assert "irregular_pulse" in STATUS_FLAG_NAMES
    assert "low_perfusion" in STATUS_FLAG_NAMES
    assert "measurement_ongoing" not in STATUS_FLAG_NAMES
    assert all(name == name.lower() and " " not in name for name in STATUS_FLAG_NAMES)


def test_vitals_values_are_finite_floats() -> None:
    for vector in VECTORS:
        for sample in decode(vector.uuid, vector.payload).vitals():
            assert isinstance(sample.value, float)
            assert math.isfinite(sample.value)


def test_every_reading_kind_constructs_through_its_fast_path() -> None:
    """Each decoded object equals one built by the ordinary dataclass constructor."""
    seen: dict[str, Callable[..., Reading]] = {}
    for vector in VECTORS:
        reading = decode(vector.uuid, vector.payload)
        rebuilt = type(reading)(
            **{f.name: getattr(reading, f.name) for f in dataclasses.fields(reading)}
        )
        assert rebuilt == reading
        seen[reading.kind] = type(reading)
    assert set(seen) == set(SUPPORTED_CHARACTERISTICS.values())
