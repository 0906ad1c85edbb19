"""RACP requests and Current Time values: exact bytes, and read back by our own decoder."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.smart_care.core.gatt import CurrentTimeReading, RacpReading, decode
from custom_components.smart_care.core.gatt.racp import (
    ADJUST_MANUAL,
    abort_operation,
    current_time,
    report_number_of_records,
    report_stored_records,
)


def test_report_all_records_when_nothing_seen() -> None:
    # op 0x01 report stored records, operator 0x01 all records, no operand.
    assert report_stored_records() == bytes.fromhex("0101")
    assert report_number_of_records(None) == bytes.fromhex("0401")


def test_resume_after_last_sequence_number() -> None:
    # op 0x01, operator 0x03 (>=), filter 0x01 sequence number, 42 = 0x002A little-endian.
    assert report_stored_records(41) == bytes.fromhex("0103012a00")
    # 0x1234 + 1 = 0x1235 -> 35 12.
    assert report_number_of_records(0x1234) == bytes.fromhex("0403013512")
    assert report_stored_records(0) == bytes.fromhex("0103010100")


def test_last_possible_sequence_number_asks_for_all() -> None:
    # No uint16 follows 0xFFFF: ask for everything, the store drops what it holds.
    assert report_stored_records(0xFFFF) == bytes.fromhex("0101")
    assert report_stored_records(0xFFFE) == bytes.fromhex("010301ffff")


def test_negative_sequence_number_rejected() -> None:
    with pytest.raises(ValueError, match="sequence number"):
        report_stored_records(-1)


def test_abort() -> None:
    assert abort_operation() == bytes.fromhex("0300")


@pytest.mark.parametrize("last_seen", [None, 0, 41, 0xFFFE])
def test_requests_decode_back(last_seen: int | None) -> None:
    reading = decode("2a52", report_stored_records(last_seen))
    assert isinstance(reading, RacpReading)
    assert reading.op_code == "report_stored_records"
    if last_seen is None:
        assert reading.operator == "all_records"
    else:
        assert reading.operator == "greater_than_or_equal_to"
        assert reading.filter_type == "sequence_number"
        assert reading.filter_values == (last_seen + 1,)
    count = decode("2a52", report_number_of_records(last_seen))
    assert isinstance(count, RacpReading)
    assert count.op_code == "report_number_of_stored_records"


def test_current_time_bytes() -> None:
    # 2025-03-03 (a Monday) 21:06:07.5 local: year 2025 = 0x07E9 -> e9 07, month 03, day 03,
    # 21 = 0x15, 06, 07, day of week 1 (Monday), 0.5 s = 128/256 -> 0x80,
    # adjust reason 0x02 (external reference time update).
    value = current_time(datetime(2025, 3, 3, 21, 6, 7, 500_000))
    assert value == bytes.fromhex("e9070303150607018002")


def test_current_time_ignores_zone_and_masks_reason() -> None:
    aware = datetime(2024, 12, 29, 0, 0, 0, tzinfo=UTC)  # a Sunday -> 7
    assert current_time(aware, ADJUST_MANUAL | 0xF0) == bytes.fromhex("e8070c1d000000070001")


def test_current_time_decodes_back() -> None:
    when = datetime(2031, 7, 15, 8, 30, 59, 999_999)
    reading = decode("2a2b", current_time(when))
    assert isinstance(reading, CurrentTimeReading)
    assert reading.timestamp == when.replace(microsecond=0)
    assert reading.day_of_week == "tuesday"
    assert reading.fractions256 == 255
    assert reading.adjust_reason == ("external_reference_time_update",)


def test_current_time_year_out_of_range() -> None:
    with pytest.raises(ValueError, match="year"):
        current_time(datetime(1500, 1, 1))
