"""The visit report's figures against hand calculations on hand-made series.

Every expected number below is worked out in the comment next to it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.smart_care.core.clinical.report import (
    MedicationPlan,
    ReportPeriod,
    Targets,
    build_report,
    canonical_value,
    default_period,
)
from custom_components.smart_care.core.store.record_store import StoredMeasurement

BERLIN = ZoneInfo("Europe/Berlin")
_ids = itertools.count(1)


def at(day: str, clock: str, tz: ZoneInfo = BERLIN) -> datetime:
    """A local wall-clock time in ``tz``."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=tz)


def row(vital: str, value: float, when: datetime, unit: str, reading: str | None = None) -> Any:
    row_id = next(_ids)
    return StoredMeasurement(
        row_id=row_id,
        reading_id=reading or f"r{row_id}",
        person_id="p1",
        vital=vital,
        value=value,
        unit=unit,
        time=when,
        source="test",
    )


def bp(when: datetime, systolic: float, diastolic: float, pulse: float | None = None) -> list[Any]:
    reading = f"bp{next(_ids)}"
    rows = [
        row("systolic_bp", systolic, when, "mmHg", reading),
        row("diastolic_bp", diastolic, when, "mmHg", reading),
    ]
    if pulse is not None:
        rows.append(row("pulse", pulse, when, "bpm", reading))
    return rows


def day(start: str, offset: int) -> str:
    return (date.fromisoformat(start) + timedelta(days=offset)).isoformat()


# Two weeks, Monday 2 to Sunday 15 March 2026 (no DST change in it).
PERIOD = ReportPeriod(date(2026, 3, 2), date(2026, 3, 15), BERLIN)
AFTER = at("2026-03-16", "09:00")


def bp_series() -> list[Any]:
    rows = bp(at("2026-03-02", "07:00"), 170, 100, 90)  # first day: discarded
    rows += bp(at("2026-03-02", "19:00"), 160, 100, 90)
    for offset in range(1, 7):  # 3..8 March: week 1 after the first day
        rows += bp(at(day("2026-03-02", offset), "07:00"), 140, 90, 70)
        rows += bp(at(day("2026-03-02", offset), "20:00"), 130, 80, 60)
    for offset in range(7, 10):  # 9..11 March; then nothing to the 15th (a gap)
        rows += bp(at(day("2026-03-02", offset), "07:00"), 120, 80, 66)
        rows += bp(at(day("2026-03-02", offset), "20:00"), 124, 76, 64)
    return rows


def other_series() -> list[Any]:
    return [
        # Glucose, one in mg/dL: 90.08 mg/dL / 18.016 = 5.0 mmol/L.
        row("glucose", 5.0, at("2026-03-03", "08:00"), "mmol/L"),
        row("glucose", 6.0, at("2026-03-04", "08:00"), "mmol/L"),
        row("glucose", 3.5, at("2026-03-05", "06:30"), "mmol/L"),
        row("glucose", 12.0, at("2026-03-06", "13:15"), "mmol/L"),
        row("glucose", 90.08, at("2026-03-07", "08:00"), "mg/dL"),
        # Temperature, one in °F: (98.6 - 32) * 5 / 9 = 37.0 °C.
        row("temperature", 98.6, at("2026-03-04", "10:00"), "°F"),
        row("temperature", 36.5, at("2026-03-05", "10:00"), "°C"),
        row("temperature", 38.4, at("2026-03-06", "10:00"), "°C"),
        # Weight, the last in lb: 154.32358 lb * 0.45359237 = 70.0 kg.
        row("weight", 72.0, at("2026-03-02", "07:30"), "kg"),
        row("weight", 71.0, at("2026-03-09", "07:30"), "kg"),
        row("weight", 154.32358, at("2026-03-11", "07:30"), "lb"),
        # SpO2 and an oximeter pulse: a NEWS2 episode on 10 March.
        row("spo2", 97, at("2026-03-05", "10:00"), "%"),
        row("spo2", 91, at("2026-03-10", "09:00"), "%"),  # 3 points (red): low-medium
        row("spo2", 90, at("2026-03-10", "09:30"), "%"),
        row("pulse", 112, at("2026-03-10", "09:30"), "bpm"),  # 3 + 2 = 5: medium
        row("spo2", 97, at("2026-03-10", "10:00"), "%"),  # 0 + 2 (pulse) = 2: over
        # A unit nothing can convert: left out, and counted.
        row("glucose", 5.5, at("2026-03-08", "08:00"), "furlongs"),
    ]


def report(**kwargs: Any) -> dict[str, Any]:
    return build_report(
        period=PERIOD, now=AFTER, measurements=bp_series() + other_series(), **kwargs
    )


def test_home_blood_pressure_esh() -> None:
    bp_fig = report(targets=Targets(systolic=135, diastolic=85))["blood_pressure"]
    assert bp_fig["readings"] == 20
    assert bp_fig["first_day"] == "2026-03-02"
    assert bp_fig["first_day_discarded"] == 2
    # 18 kept: sys (6*140 + 6*130 + 3*120 + 3*124) / 18 = 2352 / 18 = 130.67 -> 131
    #          dia (6*90 + 6*80 + 3*80 + 3*76) / 18 = 1488 / 18 = 82.67 -> 83
    assert bp_fig["overall"] == {
        "systolic": {"value": 131, "n": 18, "minimum": 12},
        "diastolic": {"value": 83, "n": 18, "minimum": 12},
    }
    # Mornings: (6*140 + 3*120) / 9 = 133.3 -> 133; (6*90 + 3*80) / 9 = 86.7 -> 87
    assert bp_fig["morning"]["systolic"]["value"] == 133
    assert bp_fig["morning"]["diastolic"]["value"] == 87
    # Evenings: (6*130 + 3*124) / 9 = 128; (6*80 + 3*76) / 9 = 78.7 -> 79
    assert bp_fig["evening"]["systolic"] == {"value": 128, "n": 9, "minimum": 6}
    assert bp_fig["evening"]["diastolic"]["value"] == 79
    week1, week2 = bp_fig["weeks"]
    assert (week1["start"], week1["end"]) == ("2026-03-02", "2026-03-08")
    assert week1["systolic"] == {"value": 135, "n": 12, "minimum": 6}  # (840 + 780) / 12
    assert week1["diastolic"]["value"] == 85
    assert week2["systolic"] == {"value": 122, "n": 6, "minimum": 6}  # (360 + 372) / 6
    assert week2["diastolic"]["value"] == 78  # (240 + 228) / 6
    # At or above 135/85: the six 140/90 mornings of week 1: 6 / 18 = 33.3 % -> 33
    assert bp_fig["above_target"] == {
        "count": 6,
        "share": {"value": 33, "n": 18, "minimum": 12},
    }
    # Pulse (6*70 + 6*60 + 3*66 + 3*64) / 18 = 1170 / 18 = 65
    assert bp_fig["pulse"] == {"value": 65, "n": 18, "minimum": 12}
    assert [p["discarded"] for p in bp_fig["series"]][:3] == [True, True, False]
    assert bp_fig["series"][0]["session"] == "morning"
    assert bp_fig["series"][1]["session"] == "evening"


def test_a_stricter_target_counts_more_readings_above() -> None:
    # 130/80 ("at or above"): week 1 mornings 140/90 (6) and evenings 130/80 (6), week 2
    # mornings 120/80 (3, diastolic 80); not week 2 evenings 124/76: 15 / 18 = 83.3 % -> 83
    share = report(targets=Targets(systolic=130, diastolic=80))["blood_pressure"]["above_target"]
    assert share == {"count": 15, "share": {"value": 83, "n": 18, "minimum": 12}}


def test_glucose_range_with_mixed_units() -> None:
    fig = report()["glucose"]
    # 5.0, 6.0, 3.5, 12.0 and 90.08 mg/dL = 5.0: mean 31.5 / 5 = 6.3
    assert fig["mean"] == {"value": 6.3, "n": 5, "minimum": 3}
    assert fig["below"] == {"count": 1, "share": {"value": 20, "n": 5, "minimum": 3}}
    assert fig["in_range"]["count"] == 3
    assert fig["in_range"]["share"]["value"] == 60
    assert fig["above"]["count"] == 1
    assert fig["lows"] == [{"time": "2026-03-05T05:30:00+00:00", "value": 3.5}]
    assert fig["highs"] == [{"time": "2026-03-06T12:15:00+00:00", "value": 12.0}]
    assert report()["unconverted_values"] == 1  # the furlongs


def test_weight_bmi_temperature_spo2() -> None:
    full = report(height_cm=170)
    weight = full["weight"]
    assert weight["weight"]["first"]["value"] == 72.0
    assert weight["weight"]["last"] == {"value": 70.0, "n": 3, "minimum": 2}
    assert weight["weight"]["change"]["value"] == -2.0
    # 72 / 1.7^2 = 24.91 -> 24.9; 70 / 2.89 = 24.22 -> 24.2
    assert weight["bmi"]["first"]["value"] == 24.9
    assert weight["bmi"]["last"]["value"] == 24.2
    temp = full["temperature"]
    # 37.0 (from 98.6 °F), 36.5, 38.4: mean 111.9 / 3 = 37.3
    assert temp["min"]["value"] == 36.5
    assert temp["max"]["value"] == 38.4
    assert temp["mean"] == {"value": 37.3, "n": 3, "minimum": 3}
    assert [f["value"] for f in temp["fevers"]] == [38.4]
    spo2 = full["spo2"]
    # 97, 91, 90, 97: mean 375 / 4 = 93.75 -> 94; below 94 %: 91 and 90
    assert (spo2["min"]["value"], spo2["max"]["value"], spo2["mean"]["value"]) == (90, 97, 94)
    assert [b["value"] for b in spo2["below"]] == [91, 90]


def test_news2_episode_is_labelled_partial() -> None:
    full = report()
    assert full["news2_episodes"] == [
        {
            "start": "2026-03-10T08:00:00+00:00",
            "end": "2026-03-10T08:30:00+00:00",
            "peak": 5,
            "risk": "medium",
            "partial": True,
            # Not measured at the peak (09:30), in NEWS2 chart order.
            "missing": [
                "respiration_rate",
                "on_oxygen",
                "systolic_bp",
                "consciousness",
                "temperature_c",
            ],
            "n": 2,
        }
    ]
    # It rests on the two low SpO2 values and the oximeter pulse.
    assert len(full["rests_on"]["news2_episodes"]) == 3


def test_missed_readings_against_the_schedule() -> None:
    # 14 daily windows from local midnight; BP measured 2..11 March: 4 missed.
    # Weight every 7 days: 2-8 March (72 kg) and 9-15 March (71, 70): none missed.
    missed = report(schedule={"blood_pressure": timedelta(hours=24), "weight": timedelta(days=7)})[
        "missed_readings"
    ]
    assert missed["blood_pressure"] == {
        "every_hours": 24.0,
        "expected": 14,
        "missed": 4,
        "readings": 20,
    }
    assert missed["weight"]["expected"] == 2
    assert missed["weight"]["missed"] == 0


def test_missed_readings_count_only_windows_that_have_ended() -> None:
    now = at("2026-03-12", "12:00")  # 10 full days: 2..11 March all measured
    missed = build_report(
        period=PERIOD,
        now=now,
        measurements=bp_series(),
        schedule={"blood_pressure": timedelta(hours=24)},
    )["missed_readings"]["blood_pressure"]
    assert (missed["expected"], missed["missed"]) == (10, 0)


def test_alerts_who_acknowledged_and_how_long_it_took() -> None:
    records = [
        {
            "code": "spo2_low",
            "severity": "urgent",
            "peak_severity": "critical",
            "messages": {"en": "SpO2 low", "zh-Hans": "血氧低"},
            "opened_at": "2026-03-10T08:00:00+00:00",
            "acknowledged_by": "Li Wei",
            "acknowledged_at": "2026-03-10T08:12:30+00:00",
            "status": "resolved",
        },
        {
            "code": "stale_weight",
            "severity": "warning",
            "opened_at": "2026-03-12T06:00:00+00:00",
            "status": "open",
        },
        {"code": "old", "severity": "warning", "opened_at": "2026-02-20T06:00:00+00:00"},
    ]
    fig = report(alert_records=records)["alerts"]
    assert fig["count"] == 2
    assert fig["acknowledged"] == 1
    first = fig["items"][0]
    assert first["severity"] == "critical"  # the worst it reached
    assert first["acknowledged_by"] == "Li Wei"
    assert first["minutes_to_acknowledge"] == 13  # 12.5 min, half up
    assert fig["median_minutes_to_acknowledge"] == {"value": 13, "n": 1, "minimum": 1}
    assert fig["items"][1]["acknowledged_at"] is None


def test_medication_adherence_per_medication() -> None:
    amlo = MedicationPlan("a" * 16, "Amlodipine 5 mg", (time(8, 0),))
    metf = MedicationPlan("b" * 16, "Metformin 500 mg", (time(8, 0), time(20, 0)))
    answers: list[dict[str, Any]] = []
    for offset in range(14):
        key = day("2026-03-02", offset).replace("-", "")
        status = {10: "skipped", 11: "snoozed", 12: None, 13: None}.get(offset, "taken")
        if status:
            answers.append(
                {"medication_id": amlo.medication_id, "dose_key": f"{key}0800", "status": status}
            )
        for clock in ("0800", "2000"):
            s = "missed" if (offset, clock) == (5, "2000") else "taken"
            answers.append(
                {"medication_id": metf.medication_id, "dose_key": key + clock, "status": s}
            )
    a, b = report(medications=[amlo, metf], answers=answers)["medication"]
    # 14 doses: 10 taken, 1 skipped, 1 only snoozed + 2 unanswered = 3 missed; 10/14 = 71 %
    assert (a["due"], a["taken"], a["skipped"], a["missed"]) == (14, 10, 1, 3)
    assert a["adherence"] == {"value": 71, "n": 14, "minimum": 1}
    # 28 doses, one answered "missed": 27/28 = 96.4 % -> 96
    assert (b["due"], b["taken"], b["missed"]) == (28, 27, 1)
    assert b["adherence"]["value"] == 96


def test_doses_not_yet_due_are_not_missed() -> None:
    plan = MedicationPlan("c" * 16, "Aspirin", (time(8, 0), time(20, 0)))
    meds = build_report(
        period=PERIOD, now=at("2026-03-02", "12:00"), measurements=[], medications=[plan]
    )["medication"][0]
    assert (meds["due"], meds["missed"]) == (1, 1)


def test_advice_in_the_period() -> None:
    records = [
        {
            "received": "2026-03-05T09:00:00+00:00",
            "title": "Salt",
            "text": "Less salt",
            "author": "Dr Z",
        },
        {"received": "2026-03-20T09:00:00+00:00", "title": "Later", "text": "x"},
    ]
    assert [a["title"] for a in report(advice_records=records)["advice"]] == ["Salt"]


def test_a_single_reading_is_not_enough_data() -> None:
    rows = [
        *bp(at("2026-03-05", "07:00"), 150, 95, 80),
        row("glucose", 7.0, at("2026-03-05", "08:00"), "mmol/L"),
        row("weight", 70.0, at("2026-03-05", "08:00"), "kg"),
        row("spo2", 96, at("2026-03-05", "08:00"), "%"),
    ]
    full = build_report(period=PERIOD, now=AFTER, measurements=rows)
    bp_fig = full["blood_pressure"]
    assert bp_fig["readings"] == 1
    assert bp_fig["first_day_discarded"] == 1  # the only day is the first day
    assert bp_fig["overall"]["systolic"] == {"value": None, "n": 0, "minimum": 12}
    assert bp_fig["above_target"]["share"]["value"] is None
    assert full["glucose"]["mean"] == {"value": None, "n": 1, "minimum": 3}
    assert full["glucose"]["in_range"]["share"]["value"] is None
    assert full["weight"]["weight"]["change"] == {"value": None, "n": 1, "minimum": 2}
    assert full["spo2"]["mean"]["value"] is None


def test_an_empty_record() -> None:
    full = build_report(period=PERIOD, now=AFTER, measurements=[])
    assert full["blood_pressure"]["first_day"] is None
    assert full["blood_pressure"]["overall"]["systolic"]["value"] is None
    assert full["news2_episodes"] == []
    assert full["glucose"]["lows"] == []


def test_readings_outside_the_period_are_left_out() -> None:
    rows = bp(at("2026-03-01", "23:59"), 200, 120) + bp(at("2026-03-16", "00:00"), 200, 120)
    assert (
        build_report(period=PERIOD, now=AFTER, measurements=rows)["blood_pressure"]["readings"] == 0
    )


def test_dst_change_keeps_days_and_sessions_in_local_time() -> None:
    # Clocks go forward in Berlin on Sunday 29 March 2026 (02:00 -> 03:00).
    period = ReportPeriod(date(2026, 3, 23), date(2026, 4, 5), BERLIN)
    rows: list[Any] = []
    for offset in range(14):
        d = day("2026-03-23", offset)
        rows += bp(at(d, "07:30"), 130, 80)  # morning: 06:30 UTC before, 05:30 UTC after
        rows += bp(at(d, "12:30"), 140, 90)  # evening: 11:30 UTC before, 10:30 UTC after
        rows += bp(at(d, "00:30"), 150, 95)  # just after local midnight: still morning
    fig = build_report(period=period, now=at("2026-04-06", "09:00"), measurements=rows)[
        "blood_pressure"
    ]
    assert fig["first_day_discarded"] == 3  # 23 March, the same three local readings
    # 13 days kept: mornings 26 (07:30 and 00:30), evenings 13 (12:30), on both sides of DST
    assert fig["morning"]["systolic"]["n"] == 26
    assert fig["evening"]["systolic"] == {"value": 140, "n": 13, "minimum": 6}
    # Week 1 (23-29 March) keeps 6 days * 3 readings; week 2 (30 March - 5 April) 7 * 3
    assert [w["systolic"]["n"] for w in fig["weeks"]] == [18, 21]
    # A 00:30 reading after the change is 22:30 UTC of the day before: it counts locally.
    assert fig["series"][-1]["time"] == "2026-04-05T10:30:00+00:00"


def test_dst_gap_dose_time_is_still_due_once() -> None:
    # 02:30 does not exist on 29 March 2026 in Berlin; the dose is still due once that day.
    plan = MedicationPlan("d" * 16, "Night dose", (time(2, 30),))
    period = ReportPeriod(date(2026, 3, 28), date(2026, 3, 30), BERLIN)
    meds = build_report(
        period=period, now=at("2026-04-01", "00:00"), measurements=[], medications=[plan]
    )
    assert meds["medication"][0]["due"] == 3


def test_period_helpers() -> None:
    period = default_period(date(2026, 3, 29), BERLIN)
    assert (period.start, period.end, period.days) == (date(2026, 3, 1), date(2026, 3, 28), 28)
    assert period.end_utc == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="end"):
        ReportPeriod(date(2026, 3, 2), date(2026, 3, 1), BERLIN)


@pytest.mark.parametrize(
    ("vital", "value", "unit", "expected"),
    [
        ("glucose", 180.16, "mg/dL", 10.0),
        ("temperature", 212.0, "°F", 100.0),
        ("weight", 100.0, "lb", 45.359237),
        ("systolic_bp", 16.0, "kPa", 120.0098693),
        ("spo2", 97.0, "%", 97.0),
        ("glucose", 5.0, "g/L", None),
    ],
)
def test_unit_conversion(vital: str, value: float, unit: str, expected: float | None) -> None:
    result = canonical_value(vital, value, unit)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)
