"""Hand-checked characteristic payloads shared by the decoder tests and the benchmark.

Each vector: characteristic (short UUID), payload, the values ``Reading.as_dict()`` must give
(a subset of its keys) and where the bytes come from. The arithmetic is written next to every
value. SFLOAT raw 0xEMMM: exponent E (4-bit two's complement), mantissa MMM (12-bit);
FLOAT raw bytes m0 m1 m2 e: mantissa m2m1m0 (24-bit), exponent e (8-bit); both no bias.

Sources:
- GSS = Bluetooth GATT Specification Supplement; the field tables are also in the SIG's
  GATT XML (github.com/oesmith/gatt-xml, org.bluetooth.characteristic.*.xml).
- "Nordic capture" = byte arrays from NordicSemiconductor/Android-BLE-Common-Library,
  ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/... (path given).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["VECTORS", "Vector"]


@dataclass(frozen=True)
class Vector:
    """One hand-checked payload."""

    name: str
    uuid: str
    payload: bytes
    expected: dict[str, Any]
    source: str


def _v(name: str, uuid: str, hex_payload: str, source: str, **expected: Any) -> Vector:
    return Vector(name, uuid, bytes.fromhex(hex_payload.replace(" ", "")), expected, source)


_BP = "BLS 1.0 §3.1 / GSS §3.31 Blood Pressure Measurement"
_ICP = "BLS 1.0 §3.2 / GSS Intermediate Cuff Pressure"
_HT = "HTS 1.0 §3.1 / GSS Temperature Measurement"
_HR = "HRS 1.0 §3.1 / GSS Heart Rate Measurement"
_WS = "WSS 1.0 §3.2 / GSS Weight Measurement"
_BC = "BCS 1.0 §3.2 / GSS Body Composition Measurement"
_GL = "GLS 1.0 §3.106 / GSS Glucose Measurement"
_GC = "GLS 1.0 / GSS Glucose Measurement Context"
_PS = "PLXS 1.0 §3.1 / GSS PLX Spot-Check Measurement"
_PC = "PLXS 1.0 §3.2 / GSS PLX Continuous Measurement"
_RA = "GLS 1.0 §3.4 / GSS Record Access Control Point"
_CT = "CTS 1.1 §3.1 / GSS Current Time (Exact Time 256 + Adjust Reason)"
_DT = "GSS Date Time"
_BA = "BAS 1.0 §3.1 / GSS Battery Level"
_NORDIC = "Nordic capture "

VECTORS: tuple[Vector, ...] = (
    # --- Blood pressure ----------------------------------------------------------------
    _v(
        "bp_mmhg_all_fields",
        "2a35",
        # flags 0x1E: mmHg, timestamp, pulse, user, status
        "1E 8A00 5800 7800 0000 04 11 14 29 3B 3C00 01 2700",
        _NORDIC + "bps/BloodPressureMeasurementDataCallbackTest.java (full); " + _BP,
        systolic=138.0,  # 0x008A: exp 0, mantissa 138
        diastolic=88.0,  # 0x0058 = 88
        mean_arterial_pressure=120.0,  # 0x0078 = 120
        unit="mmHg",
        timestamp=None,  # year 0x0000 = unknown -> None (04-17 20:41:59 without a year)
        pulse_rate=60.0,  # 0x003C = 60
        user_id=1,
        # 0x0027 = bits 0,1,2,5; pulse-range bits 3-4 = 0 (within range)
        measurement_status=[
            "body_movement",
            "cuff_too_loose",
            "irregular_pulse",
            "improper_position",
        ],
    ),
    _v(
        "bp_kpa_pulse_status",
        "2a35",
        # flags 0x15: kPa, pulse, status
        "15 BDF0 0B00 9FF0 3C00 1200",
        _NORDIC + "bps/BloodPressureMeasurementDataCallbackTest.java (some); " + _BP,
        systolic=18.9,  # 0xF0BD: exp 0xF = -1, mantissa 0x0BD = 189 -> 18.9
        diastolic=11.0,  # 0x000B = 11
        mean_arterial_pressure=15.9,  # 0xF09F: exp -1, mantissa 159 -> 15.9
        unit="kPa",
        pulse_rate=60.0,
        user_id=None,
        # 0x0012: bit 1 cuff too loose; bits 3-4 = (0x12 >> 3) & 3 = 2 -> below lower limit
        measurement_status=["cuff_too_loose", "pulse_rate_below_lower_limit"],
    ),
    _v(
        "bp_timestamp_user_unknown_map_nan",
        "2a35",
        # flags 0x0A: mmHg, timestamp, user
        "0A 7800 5000 FF07 E807 03 0F 08 1E 00 FF",
        _BP + " (special values: SFLOAT NaN 0x07FF, User ID 0xFF = unknown user)",
        systolic=120.0,  # 0x0078
        diastolic=80.0,  # 0x0050
        mean_arterial_pressure=None,  # 0x07FF NaN
        timestamp="2024-03-15T08:30:00",  # 0x07E8 = 2024, 3, 15, 8, 30 (0x1E), 0
        user_id=None,  # 0xFF unknown user
        measurement_status=None,
    ),
    _v(
        "bp_mmhg_typical",
        "2a35",
        # flags 0x1E: mmHg, timestamp, pulse, user, status
        "1E 7900 5100 5D00 E807 03 0F 08 1E 00 4800 01 0000",
        _BP,
        systolic=121.0,  # 0x0079
        diastolic=81.0,  # 0x0051
        mean_arterial_pressure=93.0,  # 0x005D
        unit="mmHg",
        timestamp="2024-03-15T08:30:00",
        pulse_rate=72.0,  # 0x0048
        user_id=1,
        measurement_status=[],  # 0x0000: status present, nothing set
    ),
    _v(
        "intermediate_cuff_pressure",
        "2a36",
        # flags 0x04: mmHg, pulse; diastolic and MAP unused (NaN)
        "04 9600 FF07 FF07 4800",
        _ICP,
        cuff_pressure=150.0,  # 0x0096 = 150
        unit="mmHg",
        pulse_rate=72.0,  # 0x0048 = 72
    ),
    # --- Health thermometer ------------------------------------------------------------
    _v(
        "temperature_celsius_timestamp_type",
        "2a1c",
        "06 B00E00FE DC07 0C 05 0B 32 1B 04",
        _NORDIC + "ht/TemperatureMeasurementDataCallbackTest.java; " + _HT,
        temperature=37.6,  # FLOAT mantissa 0x000EB0 = 3760, exponent 0xFE = -2 -> 37.60
        unit="°C",
        timestamp="2012-12-05T11:50:27",  # 0x07DC = 2012, 12, 5, 11, 50 (0x32), 27 (0x1B)
        temperature_type="finger",  # 4
    ),
    _v(
        "temperature_36_5",
        "2a1c",
        "00 6D0100FF",
        _HT,
        temperature=36.5,  # mantissa 0x00016D = 365, exponent -1 -> 36.5 exactly
        unit="°C",
        timestamp=None,
        temperature_type=None,
    ),
    _v(
        "temperature_fahrenheit",
        "2a1c",
        "01 DA0300FF",
        _HT,
        temperature=98.6,  # mantissa 0x0003DA = 986, exponent -1 -> 98.6 (°F)
        unit="°F",
    ),
    _v(
        "temperature_nan",
        "2a1c",
        "00 FFFF7F00",
        _HT + " (FLOAT NaN 0x007FFFFF)",
        temperature=None,
        unit="°C",
    ),
    _v(
        "intermediate_temperature",
        "2a1e",
        "04 6D0100FF 06",
        "HTS 1.0 §3.2 / GSS Intermediate Temperature",
        temperature=36.5,  # 365e-1
        temperature_type="mouth",  # 6
    ),
    # --- Heart rate --------------------------------------------------------------------
    _v(
        "hr_uint8_minimal",
        "2a37",
        "00 55",
        _NORDIC + "hr/HeartRateMeasurementDataCallbackTest.java (simple); " + _HR,
        heart_rate=85,  # 0x55
        sensor_contact="not_supported",
        energy_expended=None,
        rr_intervals=None,
    ),
    _v(
        "hr_no_contact",
        "2a37",
        "04 FF",
        _NORDIC + "hr/HeartRateMeasurementDataCallbackTest.java (noContact); " + _HR,
        heart_rate=255,
        sensor_contact="not_detected",  # bits 1-2 = 0b10: supported, not detected
    ),
    _v(
        "hr_uint8_energy_rr",
        "2a37",
        "1E 55 3200 2100",
        _NORDIC + "hr/HeartRateMeasurementDataCallbackTest.java (uint8); " + _HR,
        heart_rate=85,
        sensor_contact="detected",  # bits 1-2 = 0b11
        energy_expended=50,  # 0x0032 kJ
        rr_intervals=[0.0322265625],  # 0x0021 = 33 / 1024 s
    ),
    _v(
        "hr_uint16_energy_three_rr",
        "2a37",
        "1F 0101 3201 0100 0201 FFFF",
        _NORDIC + "hr/HeartRateMeasurementDataCallbackTest.java (uint16); " + _HR,
        heart_rate=257,  # 0x0101
        sensor_contact="detected",
        energy_expended=306,  # 0x0132
        # 1/1024, 258/1024, 65535/1024 s
        rr_intervals=[0.0009765625, 0.251953125, 63.9990234375],
    ),
    # --- Weight scale ------------------------------------------------------------------
    _v(
        "weight_si_all_fields",
        "2a9d",
        # flags 0x0E: SI, timestamp, user, BMI+height
        "0E 5836 E407 01 02 03 04 05 01 F400 D606",
        _WS,
        weight=69.56,  # 0x3658 = 13912 x 0.005 kg
        weight_unit="kg",
        timestamp="2020-01-02T03:04:05",  # 0x07E4 = 2020
        user_id=1,
        bmi=24.4,  # 0x00F4 = 244 x 0.1
        height=1.75,  # 0x06D6 = 1750 x 0.001 m
        height_unit="m",
    ),
    _v(
        "weight_imperial_bmi_height",
        "2a9d",
        # flags 0x09: imperial, BMI+height
        "09 E83B F400 BC02",
        _WS,
        weight=153.36,  # 0x3BE8 = 15336 x 0.01 lb
        weight_unit="lb",
        bmi=24.4,
        height=70.0,  # 0x02BC = 700 x 0.1 in
        height_unit="in",
    ),
    _v(
        "weight_unsuccessful",
        "2a9d",
        "00 FFFF",
        _WS + " (0xFFFF = measurement unsuccessful)",
        weight=None,
        weight_unit="kg",
    ),
    # --- Body composition --------------------------------------------------------------
    _v(
        "body_composition_si_all_fields",
        "2a9c",
        # flags 0x1FFE: every optional field + multiple packets, SI
        "FE1F C800 E407 01 02 03 04 05 03 0A1A C201 7017 1027 2823 581B 8813 B036 D606",
        _BC,
        body_fat_percent=20.0,  # 0x00C8 = 200 x 0.1 %
        timestamp="2020-01-02T03:04:05",
        user_id=3,
        basal_metabolism=6666,  # 0x1A0A kJ
        muscle_percent=45.0,  # 0x01C2 = 450 x 0.1 %
        muscle_mass=30.0,  # 0x1770 = 6000 x 0.005 kg
        fat_free_mass=50.0,  # 0x2710 = 10000 x 0.005 kg
        soft_lean_mass=45.0,  # 0x2328 = 9000 x 0.005 kg
        body_water_mass=35.0,  # 0x1B58 = 7000 x 0.005 kg
        impedance=500.0,  # 0x1388 = 5000 x 0.1 Ω
        weight=70.0,  # 0x36B0 = 14000 x 0.005 kg
        height=1.75,  # 0x06D6 = 1750 x 0.001 m
        weight_unit="kg",
        height_unit="m",
        multiple_packets=True,
    ),
    _v(
        "body_composition_imperial_weight_height",
        "2a9c",
        # flags 0x0C01: imperial, weight, height
        "010C FA00 C43B BC02",
        _BC,
        body_fat_percent=25.0,  # 0x00FA = 250 x 0.1 %
        weight=153.0,  # 0x3BC4 = 15300 x 0.01 lb
        weight_unit="lb",
        height=70.0,  # 700 x 0.1 in
        height_unit="in",
        multiple_packets=False,
    ),
    _v(
        "body_composition_unsuccessful",
        "2a9c",
        "0000 FFFF",
        _BC + " (body fat 0xFFFF = measurement unsuccessful)",
        body_fat_percent=None,
    ),
    # --- Glucose -----------------------------------------------------------------------
    _v(
        "glucose_nordic_all_fields",
        "2a18",
        # flags 0x1B: time offset, concentration+type/location, kg/L, status, context follows
        "1B 0100 E307 02 1B 0B 0A 1E FBFF 1E00 12 0501",
        _NORDIC + "glucose/GlucoseMeasurementDataCallbackTest.java; " + _GL,
        sequence_number=1,
        base_time="2019-02-27T11:10:30",  # 0x07E3 = 2019, 2, 27 (0x1B), 11, 10, 30
        time_offset=-5,  # 0xFFFB sint16
        timestamp="2019-02-27T11:05:30",  # base - 5 min
        concentration=30.0,  # 0x001E = 30 (kg/L as sent; the capture is synthetic)
        unit="kg/L",
        type="capillary_plasma",  # low nibble 2
        sample_location="finger",  # high nibble 1
        # 0x0105 = bits 0, 2, 8 (the capture's comment says "device fault" for bit 2; the
        # spec says bit 2 is "sample size insufficient")
        sensor_status_annunciation=[
            "battery_low",
            "sample_size_insufficient",
            "temperature_too_low",
        ],
        context_information_follows=True,
    ),
    _v(
        "glucose_95_mg_dl",
        "2a18",
        # flags 0x02: concentration in kg/L, no offset
        "02 0700 E807 03 0F 08 1E 00 5FB0 11",
        _GL,
        sequence_number=7,
        timestamp="2024-03-15T08:30:00",
        concentration=0.00095,  # 0xB05F: exp 0xB = -5, mantissa 0x05F = 95 -> 95e-5 kg/L
        unit="kg/L",
        type="capillary_whole_blood",
        sample_location="finger",
        sensor_status_annunciation=None,
        context_information_follows=False,
    ),
    _v(
        "glucose_mol_per_litre",
        "2a18",
        # flags 0x06: concentration in mol/L
        "06 0800 E807 03 0F 08 1E 00 37C0 11",
        _GL,
        concentration=0.0055,  # 0xC037: exp 0xC = -4, mantissa 55 -> 55e-4 mol/L
        unit="mol/L",
    ),
    # --- Glucose measurement context ---------------------------------------------------
    _v(
        "glucose_context_all_fields",
        "2a34",
        # flags 0xFF: all fields, medication in litres, extended flags present
        "FF 0000 B3 03 6400 04 12 3C00 32 04 0AD0 59F1",
        _GC + " (layout as in " + _NORDIC.strip() + " glucose/GlucoseMeasurementContext"
        "DataCallbackTest.java full)",
        sequence_number=0,
        extended_flags=0xB3,
        carbohydrate_id="dinner",  # 3
        carbohydrate=100.0,  # 0x0064 = 100 (kg as sent)
        meal="casual",  # 4
        tester="health_care_professional",  # low nibble 2
        health="minor_health_issues",  # high nibble 1
        exercise_duration=60,  # 0x003C s
        exercise_intensity=50,  # %
        medication_id="long_acting_insulin",  # 4
        medication=0.01,  # 0xD00A: exp -3, mantissa 10 -> 0.010 L
        medication_unit="L",
        hba1c=34.5,  # 0xF159: exp -1, mantissa 345
    ),
    _v(
        "glucose_context_medication_kg",
        "2a34",
        "10 0200 01 05A0",
        _GC,
        sequence_number=2,
        medication_id="rapid_acting_insulin",
        medication=5e-06,  # 0xA005: exp 0xA = -6, mantissa 5 -> 5 mg as kg
        medication_unit="kg",
        meal=None,
    ),
    # --- Pulse oximeter ----------------------------------------------------------------
    _v(
        "plx_spot_check_minimal",
        "2a5e",
        "00 6200 4800",
        _PS,
        spo2=98.0,  # 0x0062
        pulse_rate=72.0,  # 0x0048
        timestamp=None,
        measurement_status=None,
        device_and_sensor_status=None,
        pulse_amplitude_index=None,
    ),
    _v(
        "plx_spot_check_all_fields",
        "2a5e",
        # flags 0x0F: timestamp, measurement status, device+sensor status, PAI
        "0F 6100 4B00 E507 06 01 0C 00 00 8000 200000 1CF0",
        _PS,
        spo2=97.0,
        pulse_rate=75.0,
        timestamp="2021-06-01T12:00:00",
        measurement_status=["validated_data"],  # 0x0080 = bit 7
        device_and_sensor_status=["low_perfusion"],  # 0x000020 = bit 5
        pulse_amplitude_index=2.8,  # 0xF01C: exp -1, mantissa 28
        device_clock_set=True,
    ),
    _v(
        "plx_spot_check_clock_not_set",
        "2a5e",
        # flags 0x11: timestamp present, device clock not set
        "11 6100 4B00 D007 01 01 00 00 00",
        _PS + " (flag bit 4: device clock is not set)",
        spo2=97.0,  # 0x0061
        pulse_rate=75.0,  # 0x004B
        timestamp=None,  # sent as 2000-01-01 00:00:00, withheld: the clock is not set
        device_clock_set=False,
    ),
    _v(
        "plx_continuous_all_fields",
        "2a5f",
        # flags 0x1F: fast, slow, measurement status, device+sensor status, PAI
        "1F 6100 4800 6000 4A00 6200 4600 0001 000000 23F0",
        _PC,
        spo2=97.0,
        pulse_rate=72.0,
        spo2_fast=96.0,
        pulse_rate_fast=74.0,
        spo2_slow=98.0,
        pulse_rate_slow=70.0,
        measurement_status=["fully_qualified_data"],  # 0x0100 = bit 8
        device_and_sensor_status=[],
        pulse_amplitude_index=3.5,  # 0xF023: exp -1, mantissa 35
    ),
    _v(
        "plx_continuous_pr_nres",
        "2a5f",
        "00 6200 0008",
        _PC + " (SFLOAT NRes 0x0800)",
        spo2=98.0,
        pulse_rate=None,
    ),
    # --- Record access control point --------------------------------------------------
    _v(
        "racp_response_success",
        "2a52",
        "06 00 01 01",
        _NORDIC + "RecordAccessControlPointDataCallbackTest.java; " + _RA,
        op_code="response_code",
        operator="null",
        request_op_code="report_stored_records",
        response_code="success",
    ),
    _v(
        "racp_response_no_records",
        "2a52",
        "06 00 01 06",
        _NORDIC + "RecordAccessControlPointDataCallbackTest.java; " + _RA,
        request_op_code="report_stored_records",
        response_code="no_records_found",
    ),
    _v(
        "racp_number_of_records",
        "2a52",
        "05 00 0201",
        _NORDIC + "RecordAccessControlPointDataCallbackTest.java (uint16); " + _RA,
        op_code="number_of_stored_records_response",
        number_of_records=258,  # 0x0102
    ),
    _v(
        "racp_request_sequence_filter",
        "2a52",
        "01 03 01 0A00",
        _RA + " (report records with sequence number >= 10)",
        op_code="report_stored_records",
        operator="greater_than_or_equal_to",
        filter_type="sequence_number",
        filter_values=[10],
    ),
    # --- Time and battery --------------------------------------------------------------
    _v(
        "current_time",
        "2a2b",
        "E407 01 02 03 04 05 03 80 01",
        _CT,
        timestamp="2020-01-02T03:04:05",
        day_of_week="wednesday",  # 3
        fractions256=128,  # 0x80 = 0.5 s
        adjust_reason=["manual_time_update"],  # bit 0
    ),
    _v(
        "date_time",
        "2a08",
        "DC07 0C 05 0B 32 1B",
        _DT,
        timestamp="2012-12-05T11:50:27",
    ),
    _v("battery_level", "2a19", "32", _BA, level=50),  # 0x32 = 50 %
)
