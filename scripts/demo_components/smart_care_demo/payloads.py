"""Bytes a simulated health device sends and parses (pure: no Home Assistant import).

Everything here follows the Bluetooth SIG specifications the way a real device firmware
would, so that Smart Care's own decoder (``custom_components/smart_care/core/gatt/parser.py``)
reads the demo exactly as it reads real hardware: little-endian fields, IEEE 11073-20601
SFLOAT values, BLE Date Time without a zone (the device keeps local wall time).

* Blood Pressure Measurement 0x2A35 (BLS 1.0 §3.1): flags, systolic, diastolic, MAP in
  mmHg, time stamp, pulse rate, user id, measurement status.
* PLX Spot-check Measurement 0x2A5E (PLXS 1.0 §3.1): flags, SpO2, pulse rate, time stamp,
  measurement status.
* Weight Measurement 0x2A9D (WSS 1.0 §3.2): flags, weight (0.005 kg), time stamp, user id,
  BMI and height.
* Glucose Measurement 0x2A18 (GLS 1.0 §3.1): flags, sequence number, base time,
  concentration in mol/L, type and sample location.
* Record Access Control Point 0x2A52 (GLS 1.0 §3.2): number of records and response codes.
* Current Time 0x2A2B (CTS 1.1): the value a client writes to set the device clock.
"""

from __future__ import annotations

from datetime import datetime
import struct
from typing import Final, NamedTuple

# RACP (GLS 1.0 Tables 3.2-3.4).
RACP_REPORT_STORED_RECORDS: Final = 0x01
RACP_REPORT_NUMBER_OF_RECORDS: Final = 0x04
RACP_NUMBER_OF_RECORDS_RESPONSE: Final = 0x05
RACP_RESPONSE_CODE: Final = 0x06
RACP_OPERATOR_ALL: Final = 0x01
RACP_OPERATOR_GREATER_OR_EQUAL: Final = 0x03
RACP_FILTER_SEQUENCE_NUMBER: Final = 0x01
RACP_SUCCESS: Final = 0x01
RACP_OP_CODE_NOT_SUPPORTED: Final = 0x02
RACP_OPERATOR_NOT_SUPPORTED: Final = 0x04
RACP_NO_RECORDS_FOUND: Final = 0x06

# Glucose type / sample location nibbles: capillary whole blood (1), finger (1).
GLUCOSE_CAPILLARY_FINGER: Final = 0x11


def sfloat(value: float, exponent: int = 0) -> bytes:
    """IEEE 11073-20601 SFLOAT: 4-bit exponent, 12-bit mantissa, both two's complement."""
    if not -8 <= exponent <= 7:
        raise ValueError(f"SFLOAT exponent {exponent} out of range")
    mantissa = round(value / 10**exponent)
    if not -2046 <= mantissa <= 2045:  # 0x07FE..0x0802 are special values
        raise ValueError(f"{value} does not fit an SFLOAT with exponent {exponent}")
    return (((exponent & 0x0F) << 12) | (mantissa & 0x0FFF)).to_bytes(2, "little")


def date_time(when: datetime) -> bytes:
    """BLE Date Time: year, month, day, hours, minutes, seconds (local wall time)."""
    return struct.pack(
        "<HBBBBB", when.year, when.month, when.day, when.hour, when.minute, when.second
    )


def blood_pressure(
    systolic: int,
    diastolic: int,
    *,
    when: datetime,
    pulse: int,
    user: int,
    status: int = 0,
) -> bytes:
    """Blood Pressure Measurement (0x2A35), mmHg, with time, pulse, user and status.

    The mean arterial pressure is computed the way cuffs report it (DBP + (SBP - DBP) / 3).
    """
    mean = round(diastolic + (systolic - diastolic) / 3)
    flags = 0x02 | 0x04 | 0x08 | 0x10  # time stamp, pulse, user id, status; unit mmHg
    return (
        bytes((flags,))
        + sfloat(systolic)
        + sfloat(diastolic)
        + sfloat(mean)
        + date_time(when)
        + sfloat(pulse)
        + bytes((user,))
        + status.to_bytes(2, "little")
    )


def plx_spot_check(spo2: int, pulse: int, *, when: datetime) -> bytes:
    """PLX Spot-check Measurement (0x2A5E): SpO2 %, pulse rate, time stamp, status."""
    flags = 0x01 | 0x02  # time stamp, measurement status; device clock is set
    measurement_status = 0x0000  # nothing flagged: a valid, completed measurement
    return (
        bytes((flags,))
        + sfloat(spo2)
        + sfloat(pulse)
        + date_time(when)
        + measurement_status.to_bytes(2, "little")
    )


def weight(kg: float, *, when: datetime, user: int, height_m: float | None = None) -> bytes:
    """Weight Measurement (0x2A9D) in kg (0.005 kg steps), time stamp and user index.

    With ``height_m`` the scale adds BMI (0.1 steps) and height (0.001 m steps), as a
    scale does for a user whose height is in its user data.
    """
    flags = 0x02 | 0x04  # time stamp, user id; SI units
    body = round(kg / 0.005).to_bytes(2, "little") + date_time(when) + bytes((user,))
    if height_m is not None:
        flags |= 0x08
        bmi = kg / (height_m * height_m)
        body += round(bmi * 10).to_bytes(2, "little") + round(height_m * 1000).to_bytes(2, "little")
    return bytes((flags,)) + body


def glucose(sequence_number: int, *, when: datetime, mmol_per_l: float) -> bytes:
    """Glucose Measurement (0x2A18): concentration in mol/L, capillary blood from a finger."""
    flags = 0x02 | 0x04  # concentration + type/location present; unit mol/L
    return (
        bytes((flags,))
        + sequence_number.to_bytes(2, "little")
        + date_time(when)
        + sfloat(mmol_per_l / 1000, -5)
        + bytes((GLUCOSE_CAPILLARY_FINGER,))
    )


def battery_level(percent: int) -> bytes:
    """Battery Level (0x2A19): one byte, 0-100 %."""
    return bytes((max(0, min(100, percent)),))


def racp_number_of_records(count: int) -> bytes:
    """RACP "number of stored records" response."""
    return bytes((RACP_NUMBER_OF_RECORDS_RESPONSE, 0x00)) + count.to_bytes(2, "little")


def racp_response(request_op_code: int, response_code: int) -> bytes:
    """RACP general response: answers request ``request_op_code`` with ``response_code``."""
    return bytes((RACP_RESPONSE_CODE, 0x00, request_op_code, response_code))


class RacpRequest(NamedTuple):
    """A parsed RACP request: op code, operator, and the first sequence number asked for."""

    op_code: int
    operator: int
    first_sequence: int | None


def parse_racp_request(data: bytes) -> RacpRequest:
    """Parse what a client wrote to the RACP (ValueError for anything malformed)."""
    if len(data) < 2:
        raise ValueError("RACP request too short")
    op_code, operator = data[0], data[1]
    first = None
    if operator == RACP_OPERATOR_GREATER_OR_EQUAL:
        if len(data) != 5 or data[2] != RACP_FILTER_SEQUENCE_NUMBER:
            raise ValueError("RACP filter is not a sequence number")
        first = int.from_bytes(data[3:5], "little")
    elif len(data) != 2:
        raise ValueError("unexpected RACP operand")
    return RacpRequest(op_code, operator, first)


def parse_current_time(data: bytes) -> datetime:
    """The local wall time a client wrote to Current Time (0x2A2B), to the second."""
    if len(data) != 10:
        raise ValueError(f"Current Time is 10 bytes, got {len(data)}")
    year, month, day, hour, minute, second = struct.unpack_from("<HBBBBB", data)
    return datetime(year, month, day, hour, minute, second)
