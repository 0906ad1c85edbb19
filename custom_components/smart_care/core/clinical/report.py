"""The visit report's figures, from plain rows (pure; rules in docs/visit-report.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
import statistics
from typing import Any, Final, Protocol

from .assessment import assess_news2
from .news2 import News2Risk
from .vitals import (
    GLUCOSE_MGDL_PER_MMOLL,
    INCH_TO_CM,
    KPA_TO_MMHG,
    LB_TO_KG,
    Vital,
    VitalSample,
    fahrenheit_to_celsius,
)

__all__ = [
    "DEFAULT_PERIOD_DAYS",
    "MIN_HOME_BP",
    "MIN_PART",
    "MIN_RANGE",
    "MIN_TREND",
    "Figure",
    "Measurement",
    "MedicationPlan",
    "ReportPeriod",
    "Targets",
    "build_report",
    "canonical_value",
    "default_period",
]

DEFAULT_PERIOD_DAYS: Final = 28
# ESH 2021 home BP practice guideline: at least 12 readings for the average that counts.
MIN_HOME_BP: Final = 12
# Morning, evening and weekly averages: three days of one reading each at least.
MIN_PART: Final = 6
# Means and ranges of other vitals.
MIN_RANGE: Final = 3
# A trend needs a first and a last value.
MIN_TREND: Final = 2
# Morning is before local noon, evening from noon on (the two ESH sessions of a day).
_NOON: Final = time(12, 0)
# NEWS2 uses values measured within this window of each other (as the live alerts do).
_NEWS2_WINDOW: Final = timedelta(hours=1)


class Measurement(Protocol):
    """One stored value, as the record store gives it (``StoredMeasurement`` fits)."""

    @property
    def row_id(self) -> int:
        """Row id in the measurement log."""

    @property
    def reading_id(self) -> str:
        """Groups the values of one reading (a BP reading gives systolic, diastolic, pulse)."""

    @property
    def vital(self) -> str:
        """Canonical vital name."""

    @property
    def value(self) -> float:
        """The value in ``unit``."""

    @property
    def unit(self) -> str:
        """Unit as stored."""

    @property
    def time(self) -> datetime:
        """Timezone-aware measurement time."""


@dataclass(frozen=True, slots=True)
class Targets:
    """The person's home targets the report measures against."""

    systolic: float = 135.0  # ESH home BP threshold
    diastolic: float = 85.0
    glucose_low: float = 3.9  # international consensus on time in range (mmol/L)
    glucose_high: float = 10.0
    spo2_low: float = 94.0  # BTS target range 94-98 %
    fever: float = 38.0  # °C


@dataclass(frozen=True, slots=True)
class MedicationPlan:
    """One medication of the person's record and its daily dose times."""

    medication_id: str
    text: str
    times: tuple[time, ...]


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """Local dates ``start`` to ``end`` inclusive, in ``tz``."""

    start: date
    end: date
    tz: tzinfo

    def __post_init__(self) -> None:
        """Reject an empty period."""
        if self.end < self.start:
            raise ValueError("end: the period ends before it starts")

    @property
    def start_utc(self) -> datetime:
        """First instant of the period."""
        return datetime.combine(self.start, time(0), self.tz).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """First instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time(0), self.tz).astimezone(UTC)

    @property
    def days(self) -> int:
        """Number of calendar days."""
        return (self.end - self.start).days + 1

    def contains(self, when: datetime) -> bool:
        """Whether an aware instant falls in the period."""
        return self.start_utc <= when < self.end_utc

    def local_date(self, when: datetime) -> date:
        """The household's calendar date of an instant."""
        return when.astimezone(self.tz).date()


def default_period(today: date, tz: tzinfo, days: int = DEFAULT_PERIOD_DAYS) -> ReportPeriod:
    """The ``days`` days before ``today`` (today itself is not complete yet)."""
    return ReportPeriod(today - timedelta(days=days), today - timedelta(days=1), tz)


@dataclass(frozen=True, slots=True)
class Figure:
    """A number with the count it rests on; ``value`` None means not enough data."""

    value: float | None
    n: int
    minimum: int

    @classmethod
    def of(
        cls,
        values: Sequence[float],
        minimum: int,
        compute: Callable[[Sequence[float]], float],
        places: int = 0,
    ) -> Figure:
        """``compute(values)`` rounded half-up, or not enough data."""
        if len(values) < max(minimum, 1):
            return cls(None, len(values), minimum)
        return cls(_round(compute(values), places), len(values), minimum)

    @property
    def enough(self) -> bool:
        """Whether the figure has a value."""
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"value": self.value, "n": self.n, "minimum": self.minimum}


def _round(value: float, places: int) -> float:
    """Half-up rounding (what a hand calculation does), not banker's rounding."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _share(flags: Sequence[float]) -> float:
    return 100.0 * sum(flags) / len(flags)


# Units --------------------------------------------------------------------------------

_CONVERSIONS: Final[Mapping[str, Mapping[str, Callable[[float], float]]]] = {
    Vital.GLUCOSE: {
        "mmol/L": lambda v: v,
        "mg/dL": lambda v: v / GLUCOSE_MGDL_PER_MMOLL,
    },
    Vital.TEMPERATURE: {
        "°C": lambda v: v,
        "Cel": lambda v: v,
        "°F": fahrenheit_to_celsius,
        "[degF]": fahrenheit_to_celsius,
    },
    Vital.WEIGHT: {
        "kg": lambda v: v,
        "lb": lambda v: v * LB_TO_KG,
        "[lb_av]": lambda v: v * LB_TO_KG,
    },
    Vital.HEIGHT: {"cm": lambda v: v, "m": lambda v: v * 100, "in": lambda v: v * INCH_TO_CM},
    Vital.SYSTOLIC_BP: {
        "mmHg": lambda v: v,
        "mm[Hg]": lambda v: v,
        "kPa": lambda v: v * KPA_TO_MMHG,
    },
    Vital.DIASTOLIC_BP: {
        "mmHg": lambda v: v,
        "mm[Hg]": lambda v: v,
        "kPa": lambda v: v * KPA_TO_MMHG,
    },
}


def canonical_value(vital: str, value: float, unit: str) -> float | None:
    """The value in the vital's canonical unit; None for a unit that cannot be converted."""
    table = _CONVERSIONS.get(vital)
    if table is None:
        return value  # vitals with one unit only (%, bpm, /min)
    convert = table.get(unit)
    return None if convert is None else convert(value)


@dataclass(slots=True)
class _Row:
    row_id: int
    reading_id: str
    vital: str
    value: float
    time: datetime


@dataclass(slots=True)
class _Collected:
    rows: dict[str, list[_Row]] = field(default_factory=dict)
    unconverted: int = 0

    def of(self, vital: Vital) -> list[_Row]:
        return self.rows.get(vital.value, [])


def _collect(measurements: Iterable[Measurement], period: ReportPeriod) -> _Collected:
    out = _Collected()
    for m in measurements:
        if not period.contains(m.time):
            continue
        value = canonical_value(m.vital, m.value, m.unit)
        if value is None:
            out.unconverted += 1
            continue
        out.rows.setdefault(m.vital, []).append(
            _Row(m.row_id, m.reading_id, m.vital, value, m.time.astimezone(UTC))
        )
    for rows in out.rows.values():
        rows.sort(key=lambda r: (r.time, r.row_id))
    return out


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


# Blood pressure -----------------------------------------------------------------------


@dataclass(slots=True)
class _BpReading:
    time: datetime
    systolic: float
    diastolic: float
    pulse: float | None
    row_ids: list[int]


def _bp_readings(data: _Collected) -> list[_BpReading]:
    """Pair systolic and diastolic (and pulse) values of the same reading."""
    by_reading: dict[str, dict[str, _Row]] = {}
    for vital in (Vital.SYSTOLIC_BP, Vital.DIASTOLIC_BP, Vital.PULSE):
        for row in data.of(vital):
            by_reading.setdefault(row.reading_id, {})[vital.value] = row
    readings = []
    for parts in by_reading.values():
        sys_row = parts.get(Vital.SYSTOLIC_BP.value)
        dia_row = parts.get(Vital.DIASTOLIC_BP.value)
        if sys_row is None or dia_row is None:
            continue  # a pulse alone (oximeter) or half a reading is not a BP reading
        pulse = parts.get(Vital.PULSE.value)
        readings.append(
            _BpReading(
                sys_row.time,
                sys_row.value,
                dia_row.value,
                None if pulse is None else pulse.value,
                [row.row_id for row in parts.values()],
            )
        )
    readings.sort(key=lambda r: r.time)
    return readings


def _bp_block(readings: Sequence[_BpReading], minimum: int) -> dict[str, Any]:
    return {
        "systolic": Figure.of([r.systolic for r in readings], minimum, _mean).as_dict(),
        "diastolic": Figure.of([r.diastolic for r in readings], minimum, _mean).as_dict(),
    }


def _session(when: datetime, tz: tzinfo) -> str:
    return "morning" if when.astimezone(tz).time() < _NOON else "evening"


def blood_pressure(
    data: _Collected, period: ReportPeriod, targets: Targets
) -> tuple[dict[str, Any], list[int]]:
    """ESC/ESH home blood pressure figures and the rows they rest on."""
    readings = _bp_readings(data)
    first_day = period.local_date(readings[0].time) if readings else None
    kept = [r for r in readings if period.local_date(r.time) != first_day]
    discarded = len(readings) - len(kept)
    morning = [r for r in kept if _session(r.time, period.tz) == "morning"]
    evening = [r for r in kept if _session(r.time, period.tz) == "evening"]
    weeks = []
    week_start = period.start
    while week_start <= period.end:
        week_end = min(week_start + timedelta(days=6), period.end)
        in_week = [r for r in kept if week_start <= period.local_date(r.time) <= week_end]
        weeks.append(
            {"start": week_start.isoformat(), "end": week_end.isoformat()}
            | _bp_block(in_week, MIN_PART)
        )
        week_start += timedelta(days=7)
    above = [
        1.0 if r.systolic >= targets.systolic or r.diastolic >= targets.diastolic else 0.0
        for r in kept
    ]
    pulses = [r.pulse for r in kept if r.pulse is not None]
    figures: dict[str, Any] = {
        "readings": len(readings),
        "first_day": None if first_day is None else first_day.isoformat(),
        "first_day_discarded": discarded,
        "target": {"systolic": targets.systolic, "diastolic": targets.diastolic},
        "overall": _bp_block(kept, MIN_HOME_BP),
        "morning": _bp_block(morning, MIN_PART),
        "evening": _bp_block(evening, MIN_PART),
        "weeks": weeks,
        "above_target": {
            "count": int(sum(above)),
            "share": Figure.of(above, MIN_HOME_BP, _share).as_dict(),
        },
        "pulse": Figure.of(pulses, MIN_HOME_BP, _mean).as_dict(),
        "series": [
            {
                "time": _iso(r.time),
                "systolic": r.systolic,
                "diastolic": r.diastolic,
                "pulse": r.pulse,
                "session": _session(r.time, period.tz),
                "discarded": period.local_date(r.time) == first_day,
            }
            for r in readings
        ],
    }
    return figures, [row_id for r in kept for row_id in r.row_ids]


# Glucose ------------------------------------------------------------------------------


def glucose(data: _Collected, targets: Targets) -> tuple[dict[str, Any], list[int]]:
    """Mean, readings below / in / above the person's range, the lows and highs."""
    rows = data.of(Vital.GLUCOSE)
    values = [r.value for r in rows]
    lows = [r for r in rows if r.value < targets.glucose_low]
    highs = [r for r in rows if r.value > targets.glucose_high]
    n = len(rows)

    def count(part: Sequence[_Row]) -> dict[str, Any]:
        share = Figure.of([1.0] * len(part) + [0.0] * (n - len(part)), MIN_RANGE, _share)
        return {"count": len(part), "share": share.as_dict()}

    figures = {
        "readings": n,
        "range": {"low": targets.glucose_low, "high": targets.glucose_high},
        "mean": Figure.of(values, MIN_RANGE, _mean, 1).as_dict(),
        "below": count(lows),
        "in_range": count(
            [r for r in rows if targets.glucose_low <= r.value <= targets.glucose_high]
        ),
        "above": count(highs),
        "lows": [{"time": _iso(r.time), "value": _round(r.value, 1)} for r in lows],
        "highs": [{"time": _iso(r.time), "value": _round(r.value, 1)} for r in highs],
        "series": [{"time": _iso(r.time), "value": _round(r.value, 1)} for r in rows],
    }
    return figures, [r.row_id for r in rows]


# Weight, SpO2, temperature ---------------------------------------------------------------


def _trend(rows: Sequence[_Row], places: int) -> dict[str, Any]:
    values = [r.value for r in rows]
    return {
        "first": Figure.of(values, MIN_TREND, lambda v: v[0], places).as_dict(),
        "last": Figure.of(values, MIN_TREND, lambda v: v[-1], places).as_dict(),
        "change": Figure.of(values, MIN_TREND, lambda v: v[-1] - v[0], places).as_dict(),
        "first_time": _iso(rows[0].time) if rows else None,
        "last_time": _iso(rows[-1].time) if rows else None,
    }


def weight(data: _Collected, height_cm: float | None) -> tuple[dict[str, Any], list[int]]:
    """Weight trend, and BMI from the person's height (or stored BMI values)."""
    rows = data.of(Vital.WEIGHT)
    heights = data.of(Vital.HEIGHT)
    height = heights[-1].value if heights else height_cm
    if height:
        metres = height / 100.0
        bmi_rows = [
            _Row(r.row_id, r.reading_id, Vital.BMI.value, r.value / metres**2, r.time) for r in rows
        ]
    else:
        bmi_rows = data.of(Vital.BMI)
    figures = {
        "readings": len(rows),
        "weight": _trend(rows, 1),
        "bmi": _trend(bmi_rows, 1),
        "series": [{"time": _iso(r.time), "value": _round(r.value, 1)} for r in rows],
    }
    return figures, [r.row_id for r in rows] + [r.row_id for r in data.of(Vital.BMI)]


def _range(rows: Sequence[_Row], places: int) -> dict[str, Any]:
    values = [r.value for r in rows]
    return {
        "readings": len(rows),
        "min": Figure.of(values, MIN_RANGE, min, places).as_dict(),
        "max": Figure.of(values, MIN_RANGE, max, places).as_dict(),
        "mean": Figure.of(values, MIN_RANGE, _mean, places).as_dict(),
    }


def spo2(data: _Collected, targets: Targets) -> tuple[dict[str, Any], list[int]]:
    """Oxygen saturation range and readings below the target range."""
    rows = data.of(Vital.SPO2)
    below = [r for r in rows if r.value < targets.spo2_low]
    figures = _range(rows, 0) | {
        "target_low": targets.spo2_low,
        "below": [{"time": _iso(r.time), "value": _round(r.value, 0)} for r in below],
    }
    return figures, [r.row_id for r in rows]


def temperature(data: _Collected, targets: Targets) -> tuple[dict[str, Any], list[int]]:
    """Body temperature range and fevers."""
    rows = data.of(Vital.TEMPERATURE)
    fevers = [r for r in rows if r.value >= targets.fever]
    figures = _range(rows, 1) | {
        "fever_from": targets.fever,
        "fevers": [{"time": _iso(r.time), "value": _round(r.value, 1)} for r in fevers],
    }
    return figures, [r.row_id for r in rows]


# NEWS2 episodes ---------------------------------------------------------------------------

_NEWS2_VITALS: Final = (
    Vital.RESPIRATION_RATE,
    Vital.SPO2,
    Vital.SYSTOLIC_BP,
    Vital.PULSE,
    Vital.HEART_RATE,
    Vital.TEMPERATURE,
)


def news2_episodes(data: _Collected) -> tuple[list[dict[str, Any]], list[int]]:
    """Runs of readings whose (partial) NEWS2 reaches low-medium risk or higher.

    At every reading time NEWS2 is scored from the latest value of each parameter taken
    within an hour, as the live alert does. Parameters never measured at home (usually
    respiration rate and consciousness) make an episode partial: its score is a lower bound.
    """
    rows = sorted(
        (r for vital in _NEWS2_VITALS for r in data.of(vital)), key=lambda r: (r.time, r.row_id)
    )
    latest: dict[Vital, VitalSample] = {}
    latest_row: dict[Vital, _Row] = {}
    episodes: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    rested: list[int] = []
    for index, row in enumerate(rows):
        vital = Vital(row.vital)
        latest[vital] = VitalSample(vital, row.value, row.time)
        latest_row[vital] = row
        if index + 1 < len(rows) and rows[index + 1].time == row.time:
            continue  # score once all values of one instant are in
        try:
            result, _finding = assess_news2(latest, row.time, max_age=_NEWS2_WINDOW)
        except ValueError:
            continue
        if result.partial_risk is News2Risk.LOW:
            current = None
            continue
        used = [r.row_id for r in latest_row.values() if row.time - r.time <= _NEWS2_WINDOW]
        if current is None:
            current = {
                "start": _iso(row.time),
                "end": _iso(row.time),
                "peak": result.partial_total,
                "risk": str(result.partial_risk),
                "partial": not result.complete,
                "missing": list(result.missing),
                "n": 0,
            }
            episodes.append(current)
        current["end"] = _iso(row.time)
        current["n"] += 1
        current["partial"] = current["partial"] or not result.complete
        if result.partial_total > current["peak"]:
            # What was not measured is told for the peak score, the one the episode shows.
            current["peak"] = result.partial_total
            current["risk"] = str(result.partial_risk)
            current["missing"] = list(result.missing)
        rested.extend(used)
    return episodes, sorted(set(rested))


# Alerts, schedule, medication, advice ------------------------------------------------------


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def alerts(records: Iterable[Mapping[str, Any]], period: ReportPeriod) -> dict[str, Any]:
    """Alerts opened in the period: what, when, who acknowledged and how long it took."""
    items: list[dict[str, Any]] = []
    waits: list[float] = []
    for record in records:
        opened = _parse(record.get("opened_at"))
        if opened is None or not period.contains(opened):
            continue
        acked = _parse(record.get("acknowledged_at"))
        minutes = None if acked is None else max(0.0, (acked - opened).total_seconds() / 60)
        if minutes is not None:
            waits.append(minutes)
        items.append(
            {
                "code": record.get("code"),
                "kind": record.get("kind"),
                "severity": record.get("peak_severity") or record.get("severity"),
                "vital": record.get("vital"),
                "value": record.get("value"),
                "unit": record.get("unit"),
                "messages": dict(record.get("messages") or {"en": record.get("message", "")}),
                "opened_at": _iso(opened),
                "acknowledged_by": record.get("acknowledged_by"),
                "acknowledged_at": None if acked is None else _iso(acked),
                "minutes_to_acknowledge": None if minutes is None else _round(minutes, 0),
                "resolved_at": record.get("resolved_at"),
                "status": record.get("status"),
            }
        )
    items.sort(key=lambda a: str(a["opened_at"]))
    return {
        "count": len(items),
        "acknowledged": len(waits),
        "median_minutes_to_acknowledge": Figure.of(waits, 1, statistics.median).as_dict(),
        "items": items,
    }


_GROUP_VITALS: Final[Mapping[str, tuple[Vital, ...]]] = {
    "blood_pressure": (Vital.SYSTOLIC_BP,),
    "weight": (Vital.WEIGHT,),
    "glucose": (Vital.GLUCOSE,),
    "spo2": (Vital.SPO2,),
    "temperature": (Vital.TEMPERATURE,),
}


def missed_readings(
    data: _Collected, schedule: Mapping[str, timedelta], period: ReportPeriod, now: datetime
) -> dict[str, Any]:
    """Missed readings per scheduled group.

    The period is cut into windows of the group's longest acceptable gap; a window that
    ended (before now) without a reading is a missed reading.
    """
    out: dict[str, Any] = {}
    end = min(period.end_utc, now)
    for group, gap in schedule.items():
        if gap <= timedelta(0):
            continue
        times = sorted(r.time for v in _GROUP_VITALS.get(group, ()) for r in data.of(v))
        expected = missed = 0
        window = period.start_utc
        while window + gap <= end:
            expected += 1
            if not any(window <= t < window + gap for t in times):
                missed += 1
            window += gap
        out[group] = {
            "every_hours": gap.total_seconds() / 3600,
            "expected": expected,
            "missed": missed,
            "readings": len(times),
        }
    return out


def medication(
    plans: Sequence[MedicationPlan],
    answers: Iterable[Mapping[str, Any]],
    period: ReportPeriod,
    now: datetime,
) -> list[dict[str, Any]]:
    """Per medication: doses due in the period (up to now), taken, skipped and missed.

    A dose without a final answer (none, or only "snoozed") counts as missed.
    """
    by_dose: dict[tuple[str, str], str] = {}
    for answer in answers:
        key = (str(answer.get("medication_id")), str(answer.get("dose_key")))
        by_dose[key] = str(answer.get("status"))
    out = []
    for plan in plans:
        counts = {"taken": 0, "skipped": 0, "missed": 0}
        due = 0
        day = period.start
        while day <= period.end:
            for at in plan.times:
                local = datetime.combine(day, at, period.tz)
                if local.astimezone(UTC) >= now:
                    continue
                due += 1
                status = by_dose.get((plan.medication_id, local.strftime("%Y%m%d%H%M")))
                counts[status if status in ("taken", "skipped") else "missed"] += 1
            day += timedelta(days=1)
        taken = [1.0] * counts["taken"] + [0.0] * (due - counts["taken"])
        out.append(
            {
                "medication_id": plan.medication_id,
                "text": plan.text,
                "times": [t.strftime("%H:%M") for t in plan.times],
                "due": due,
                **counts,
                "adherence": Figure.of(taken, 1, _share).as_dict(),
            }
        )
    return out


def advice(records: Iterable[Mapping[str, Any]], period: ReportPeriod) -> list[dict[str, Any]]:
    """The clinic's advice received in the period, oldest first."""
    out = []
    for record in records:
        received = _parse(record.get("received"))
        if received is None or not period.contains(received):
            continue
        out.append(
            {
                "received": _iso(received),
                "title": record.get("title"),
                "text": record.get("text"),
                "author": record.get("author"),
                "clinic": record.get("clinic"),
            }
        )
    return sorted(out, key=lambda a: a["received"])


# The report ---------------------------------------------------------------------------------


def build_report(
    *,
    period: ReportPeriod,
    now: datetime,
    measurements: Iterable[Measurement],
    targets: Targets | None = None,
    height_cm: float | None = None,
    schedule: Mapping[str, timedelta] | None = None,
    alert_records: Iterable[Mapping[str, Any]] = (),
    medications: Sequence[MedicationPlan] = (),
    answers: Iterable[Mapping[str, Any]] = (),
    advice_records: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The whole report as JSON-able data; ``rests_on`` lists the rows of each section."""
    targets = targets or Targets()
    data = _collect(measurements, period)
    bp, bp_rows = blood_pressure(data, period, targets)
    gl, gl_rows = glucose(data, targets)
    wt, wt_rows = weight(data, height_cm)
    sp, sp_rows = spo2(data, targets)
    tp, tp_rows = temperature(data, targets)
    episodes, news_rows = news2_episodes(data)
    return {
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "days": period.days,
            "time_zone": str(period.tz),
        },
        "generated": _iso(now),
        "blood_pressure": bp,
        "glucose": gl,
        "weight": wt,
        "spo2": sp,
        "temperature": tp,
        "news2_episodes": episodes,
        "alerts": alerts(alert_records, period),
        "missed_readings": missed_readings(data, schedule or {}, period, now),
        "medication": medication(medications, answers, period, now),
        "advice": advice(advice_records, period),
        "unconverted_values": data.unconverted,
        "rests_on": {
            "blood_pressure": bp_rows,
            "glucose": gl_rows,
            "weight": wt_rows,
            "spo2": sp_rows,
            "temperature": tp_rows,
            "news2_episodes": news_rows,
        },
    }
