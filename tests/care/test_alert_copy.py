"""The alert's cheap copies: as_record is asdict, a snapshot shares nothing mutable."""

from __future__ import annotations

from dataclasses import asdict, fields

from custom_components.smart_care.care.alerts import Alert


def _alert() -> Alert:
    return Alert(
        alert_id="a1",
        person_id="p1",
        person="Grandma",
        code="temperature_high",
        kind="threshold",
        severity="warning",
        vital="temperature",
        value=38.4,
        unit="°C",
        threshold=38.0,
        message="Temperature 38.4 °C is above 38.0 °C",
        time="2026-12-03T10:00:00+00:00",
        opened_at="2026-12-03T10:00:00+00:00",
        updated_at="2026-12-03T10:00:00+00:00",
        placeholders={"value": "38.4"},
        messages={"en": "high", "zh-Hans": "高"},
        titles={"en": "Grandma: warning"},
    )


def test_as_record_is_asdict() -> None:
    alert = _alert()
    record = alert.as_record()
    assert record == asdict(alert)
    record["messages"]["en"] = "changed"
    assert alert.messages["en"] == "high"


def test_snapshot_shares_nothing_that_changes_in_place() -> None:
    alert = _alert()
    before = alert.snapshot()
    assert asdict(before) == asdict(alert)
    # Every field is either immutable or one of the copied maps.
    for f in fields(Alert):
        value = getattr(alert, f.name)
        if isinstance(value, dict):
            assert getattr(before, f.name) is not value, f.name
        else:
            assert isinstance(value, str | int | float | type(None)), f.name
    alert.messages["en"] = "changed"
    alert.placeholders["value"] = "39.0"
    alert.titles["zh-Hans"] = "新"
    alert.status = "acknowledged"
    assert before.messages["en"] == "high"
    assert before.placeholders == {"value": "38.4"}
    assert "zh-Hans" not in before.titles
    assert before.status == "open"
