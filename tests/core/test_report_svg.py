"""The report's charts: valid SVG with every reading and the person's limits drawn."""

from __future__ import annotations

from datetime import date
from typing import Any
import xml.etree.ElementTree as ET

from custom_components.smart_care.core.clinical.report import Targets, build_report
from custom_components.smart_care.core.clinical.report_svg import HEIGHT, bp_chart, glucose_chart

from .test_report import AFTER, PERIOD, bp_series, other_series

NS = {"svg": "http://www.w3.org/2000/svg"}
BP_TEXTS = {
    "title": "Blood pressure <home>",
    "systolic": "Systolic",
    "diastolic": "Diastolic",
    "target": "Target",
    "discarded": "First day (not counted)",
}


def _classes(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def _report() -> dict[str, Any]:
    return build_report(
        period=PERIOD,
        now=AFTER,
        measurements=bp_series() + other_series(),
        targets=Targets(systolic=135, diastolic=85),
    )


def test_bp_chart_has_every_reading_and_both_targets() -> None:
    svg = bp_chart(_report()["blood_pressure"], PERIOD, BP_TEXTS)
    root = ET.fromstring(svg)  # parses as XML (the title's "<home>" is escaped)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("svg:title", NS).text == "Blood pressure <home>"
    systolic = _classes(root, "systolic")
    points = [e for e in systolic if "point" in e.get("class", "").split()]
    assert len(points) == 20  # every reading, the two discarded ones included
    assert sorted(float(p.get("data-value")) for p in points)[-2:] == [160.0, 170.0]
    assert len(_classes(root, "discarded")) == 4  # 2 readings x systolic and diastolic
    limits = {e.get("class"): float(e.get("data-value")) for e in _classes(root, "limit")}
    assert limits == {"limit systolic": 135.0, "limit diastolic": 85.0}
    # The 135 line sits above the 85 line, and every point is inside the plot.
    y = {e.get("class"): float(e.get("y1")) for e in _classes(root, "limit")}
    assert y["limit systolic"] < y["limit diastolic"]
    for p in points:
        assert 0 < float(p.get("cy")) < HEIGHT
    # Two series lines (kept readings only) and a date label per week.
    assert len(_classes(root, "series")) == 2
    assert [t.text for t in _classes(root, "date")] == ["2026-03-02", "2026-03-09"]


def test_glucose_chart_draws_the_range_and_marks_readings_outside() -> None:
    svg = glucose_chart(
        _report()["glucose"],
        PERIOD,
        {"title": "Glucose", "low": "Low", "high": "High"},
        format_date=lambda d: f"{d.month}月{d.day}日",
    )
    root = ET.fromstring(svg)
    points = _classes(root, "point")
    assert len(points) == 5
    outside = sorted(float(p.get("data-value")) for p in _classes(root, "outside"))
    assert outside == [3.5, 12.0]
    limits = {e.get("class"): float(e.get("data-value")) for e in _classes(root, "limit")}
    assert limits == {"limit glucose-high": 10.0, "limit glucose-low": 3.9}
    assert len(_classes(root, "range")) == 1
    assert _classes(root, "date")[0].text == "3月2日"


def test_charts_of_an_empty_period_still_parse() -> None:
    empty = build_report(period=PERIOD, now=AFTER, measurements=[])
    for svg in (
        bp_chart(empty["blood_pressure"], PERIOD, BP_TEXTS),
        glucose_chart(empty["glucose"], PERIOD, {"title": "G", "low": "L", "high": "H"}),
    ):
        root = ET.fromstring(svg)
        assert _classes(root, "point") == []
        assert len(_classes(root, "limit")) == 2
    assert date(2026, 3, 2) == PERIOD.start
