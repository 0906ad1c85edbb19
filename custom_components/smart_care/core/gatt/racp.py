"""Values a client writes to a health device: RACP requests and Current Time (pure).

Notes: docs/modules.md (core/gatt/racp.py).
"""

from __future__ import annotations

from datetime import datetime
import struct
from typing import Final

__all__ = [
    "ADJUST_EXTERNAL_REFERENCE",
    "ADJUST_MANUAL",
    "MAX_SEQUENCE_NUMBER",
    "abort_operation",
    "current_time",
    "report_number_of_records",
    "report_stored_records",
]

# RACP op codes and operators (GLS 1.0 Table 3.2 / 3.3).
OP_REPORT_STORED_RECORDS: Final = 0x01
OP_ABORT_OPERATION: Final = 0x03
OP_REPORT_NUMBER_OF_RECORDS: Final = 0x04
OPERATOR_NULL: Final = 0x00
OPERATOR_ALL_RECORDS: Final = 0x01
OPERATOR_GREATER_OR_EQUAL: Final = 0x03
FILTER_SEQUENCE_NUMBER: Final = 0x01
MAX_SEQUENCE_NUMBER: Final = 0xFFFF

# Current Time adjust reason bits (CTS 1.1 §3.1.2.1).
ADJUST_MANUAL: Final = 0x01
ADJUST_EXTERNAL_REFERENCE: Final = 0x02

_CURRENT_TIME = struct.Struct("<HBBBBBBBB")


def _request(op_code: int, last_seen: int | None) -> bytes:
    if last_seen is None or last_seen >= MAX_SEQUENCE_NUMBER:
        # Nothing seen yet, or no sequence number can follow the last one: ask for all and
        # let the record store drop the ones it already holds.
        return bytes((op_code, OPERATOR_ALL_RECORDS))
    if last_seen < 0:
        raise ValueError(f"sequence number must be 0..{MAX_SEQUENCE_NUMBER}, got {last_seen}")
    return bytes((op_code, OPERATOR_GREATER_OR_EQUAL, FILTER_SEQUENCE_NUMBER)) + (
        last_seen + 1
    ).to_bytes(2, "little")


def report_stored_records(last_seen: int | None = None) -> bytes:
    """RACP "report stored records" newer than sequence number ``last_seen`` (all if None)."""
    return _request(OP_REPORT_STORED_RECORDS, last_seen)


def report_number_of_records(last_seen: int | None = None) -> bytes:
    """RACP "report number of stored records" newer than ``last_seen`` (all if None)."""
    return _request(OP_REPORT_NUMBER_OF_RECORDS, last_seen)


def abort_operation() -> bytes:
    """RACP "abort operation": stops a record transfer in progress."""
    return bytes((OP_ABORT_OPERATION, OPERATOR_NULL))


def current_time(local: datetime, adjust_reason: int = ADJUST_EXTERNAL_REFERENCE) -> bytes:
    """Current Time (0x2A2B) value setting a device clock to the wall time ``local``.

    BLE Date Time has no zone, so devices keep local time: pass the local wall-clock time
    (any ``tzinfo`` is ignored). Fractions are in 1/256 s.
    """
    if not 1582 <= local.year <= 9999:
        raise ValueError(f"year {local.year} cannot be sent as a BLE Date Time")
    return _CURRENT_TIME.pack(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.isoweekday(),
        local.microsecond * 256 // 1_000_000,
        adjust_reason & 0x0F,
    )
