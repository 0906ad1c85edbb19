"""Record Access Control Point (0x2A52) both ways, and the Current Time a client writes (pure).

Notes: docs/modules.md (core/gatt/racp.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import struct
from typing import Any, Final

from .base import DATE_TIME_FMT, DecodeError, Decoder, Layout, Reading, fast_new, read_date_time
from .const import RACP
from .values import enum_name

__all__ = [
    "ADJUST_EXTERNAL_REFERENCE",
    "ADJUST_MANUAL",
    "MAX_SEQUENCE_NUMBER",
    "RacpReading",
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


# --- decoding what the device answers (0x2A52)


_RACP_OP_CODES: Final = (
    "reserved",
    "report_stored_records",
    "delete_stored_records",
    "abort_operation",
    "report_number_of_stored_records",
    "number_of_stored_records_response",
    "response_code",
)
_RACP_OPERATORS: Final = (
    "null",
    "all_records",
    "less_than_or_equal_to",
    "greater_than_or_equal_to",
    "within_range_of",
    "first_record",
    "last_record",
)
_RACP_RESPONSE_CODES: Final = (
    "reserved",
    "success",
    "op_code_not_supported",
    "invalid_operator",
    "operator_not_supported",
    "invalid_operand",
    "no_records_found",
    "abort_unsuccessful",
    "procedure_not_completed",
    "operand_not_supported",
)
# GLS 1.0 §4.12.2 filter types; other services reuse 0x01 for their own key.
_RACP_FILTER_TYPES: Final = ("reserved", "sequence_number", "user_facing_time")


@dataclass(frozen=True, slots=True, kw_only=True)
class RacpReading(Reading):
    """Record Access Control Point (0x2A52) request or response.

    Responses: "number_of_stored_records_response" sets ``number_of_records``;
    "response_code" sets ``request_op_code`` and ``response_code``. Requests with
    operators 2..4 set ``filter_type`` and ``filter_values`` (ints for sequence numbers,
    datetimes for user facing time); an operand that cannot be interpreted (reserved op
    code or filter type) is kept as hex in ``operand``.
    """

    op_code: str
    operator: str
    number_of_records: int | None = None
    request_op_code: str | None = None
    response_code: str | None = None
    filter_type: str | None = None
    filter_values: tuple[int | datetime | None, ...] | None = None
    operand: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        values = None
        if self.filter_values is not None:
            values = [v.isoformat() if isinstance(v, datetime) else v for v in self.filter_values]
        return {
            **Reading.as_dict(self),
            "op_code": self.op_code,
            "operator": self.operator,
            "number_of_records": self.number_of_records,
            "request_op_code": self.request_op_code,
            "response_code": self.response_code,
            "filter_type": self.filter_type,
            "filter_values": values,
            "operand": self.operand,
        }


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_RACP: Final = fast_new(RacpReading)


_U16 = struct.Struct("<H")
_RACP_LABEL: Final = "racp (0x2A52)"
# Name of every possible byte value, reserved ones included: one index, no branch.
_RACP_OP_NAMES: Final = tuple(enum_name(_RACP_OP_CODES, code) for code in range(256))
_RACP_OPERATOR_NAMES: Final = tuple(enum_name(_RACP_OPERATORS, code) for code in range(256))
_RACP_RESPONSE_NAMES: Final = tuple(enum_name(_RACP_RESPONSE_CODES, code) for code in range(256))
_DT_STRUCT = struct.Struct("<" + DATE_TIME_FMT)
_RACP_LAYOUT = Layout(RACP, "racp", "", ())  # only for Date Time error messages


def _racp_error(field: str, detail: str) -> DecodeError:
    return DecodeError(f"{_RACP_LABEL}: {field}: {detail}", characteristic=RACP, field=field)


def _decode_racp(data: bytes) -> Reading:
    size = len(data)
    if size < 2:
        if size == 0:
            raise _racp_error("op_code", "empty payload, expected at least 2 bytes")
        raise _racp_error("operator", "needs 1 byte at offset 1, got 0")
    op, operator = data[0], data[1]
    op_name = _RACP_OP_NAMES[op]
    operator_name = _RACP_OPERATOR_NAMES[operator]
    if op in (5, 6) and operator != 0:
        raise _racp_error("operator", f"must be null (0) in a {op_name}, got {operator}")
    if op == 6 and size == 4:  # the common answer, built without the generic path
        return _NEW_RACP(
            characteristic=RACP,
            kind="racp",
            op_code="response_code",
            operator="null",
            request_op_code=_RACP_OP_NAMES[data[2]],
            response_code=_RACP_RESPONSE_NAMES[data[3]],
        )
    operand = data[2:]
    fields: dict[str, Any] = {}
    if op == 5:
        # Field size is per service: uint16 in GLS/CGMS/PLXS; 1 and 4 bytes are accepted
        # as Nordic's RACP parser does.
        if len(operand) not in (1, 2, 4):
            raise _racp_error(
                "number_of_records", f"needs 1, 2 or 4 bytes at offset 2, got {len(operand)}"
            )
        fields["number_of_records"] = int.from_bytes(operand, "little")
    elif op == 6:
        if len(operand) != 2:
            raise _racp_error(
                "response_code",
                f"needs 2 bytes (request op code, response code) at offset 2, got {len(operand)}",
            )
        fields["request_op_code"] = _RACP_OP_NAMES[operand[0]]
        fields["response_code"] = _RACP_RESPONSE_NAMES[operand[1]]
    elif op in (1, 2, 3, 4) and operator in (0, 1, 5, 6):
        if operand:
            raise _racp_error(
                "operand",
                f"operator {operator_name} takes no operand, got {len(operand)} bytes",
            )
    elif op in (1, 2, 4) and operator in (2, 3, 4):
        _racp_filter(operator, bytes(operand), fields)
    elif operand:
        # Reserved op code or operator: nothing more can be known about the operand.
        fields["operand"] = bytes(operand).hex()
    return _NEW_RACP(
        characteristic=RACP, kind="racp", op_code=op_name, operator=operator_name, **fields
    )


def _racp_filter(operator: int, operand: bytes, fields: dict[str, Any]) -> None:
    count = 2 if operator == 4 else 1
    if not operand:
        raise _racp_error("filter_type", "needs 1 byte at offset 2, got 0")
    filter_type = operand[0]
    fields["filter_type"] = enum_name(_RACP_FILTER_TYPES, filter_type)
    if filter_type == 1:
        size = 2
    elif filter_type == 2:
        size = 7
    else:
        fields["operand"] = operand[1:].hex()
        return
    if len(operand) != 1 + size * count:
        raise _racp_error(
            "filter_values",
            f"needs {size * count} bytes at offset 3, got {len(operand) - 1}",
        )
    values: list[int | datetime | None] = []
    for k in range(count):
        start = 1 + k * size
        if size == 2:
            values.append(_U16.unpack_from(operand, start)[0])
        else:
            raw = _DT_STRUCT.unpack_from(operand, start)
            values.append(read_date_time(_RACP_LAYOUT, "filter_values", raw, 0))
    fields["filter_values"] = tuple(values)


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    RACP: ("racp", _decode_racp),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset(())
