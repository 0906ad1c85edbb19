"""The demo's simulated devices speak the same bytes as real ones.

Every payload the demo devices send is decoded here by Smart Care's own decoder
(``core.gatt.parser``), and every value Smart Care writes to them (``core.gatt.racp``) is parsed by
the demo: if either side drifts from the Bluetooth specifications, this fails before the
demo silently shows nothing. Also keeps the demo story and the dashboards honest.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from custom_components.smart_care.core.clinical.plausibility import check_set
from custom_components.smart_care.core.clinical.vitals import Vital
from custom_components.smart_care.core.gatt import (
    BloodPressureReading,
    GlucoseReading,
    PlxSpotCheckReading,
    RacpReading,
    WeightReading,
    decode,
    racp,
)
from tests.support.module_loader import load_module

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo_components" / "smart_care_demo"
WHEN = datetime(2026, 3, 14, 7, 31, 5)


def _load(name: str) -> ModuleType:
    """A pure module of the demo component, without importing its HA package."""
    return load_module(f"smart_care_demo_{name}", DEMO / f"{name}.py")


payloads = _load("payloads")
scenario = _load("scenario")


def test_blood_pressure_decodes_with_user_time_and_pulse() -> None:
    reading = decode("2a35", payloads.blood_pressure(186, 112, when=WHEN, pulse=104, user=2))
    assert isinstance(reading, BloodPressureReading)
    assert (reading.systolic, reading.diastolic, reading.pulse_rate) == (186, 112, 104)
    assert reading.mean_arterial_pressure == 137
    assert reading.user_id == 2
    assert reading.timestamp == WHEN
    assert reading.status_flags() == []
    assert {s.vital for s in reading.vitals()} >= {
        Vital.SYSTOLIC_BP,
        Vital.DIASTOLIC_BP,
        Vital.PULSE,
    }


def test_spot_check_decodes() -> None:
    reading = decode("2a5e", payloads.plx_spot_check(89, 106, when=WHEN))
    assert isinstance(reading, PlxSpotCheckReading)
    assert (reading.spo2, reading.pulse_rate, reading.timestamp) == (89, 106, WHEN)
    assert reading.status_flags() == []
    assert {s.vital: s.value for s in reading.vitals()} == {Vital.SPO2: 89, Vital.PULSE: 106}


@pytest.mark.parametrize(("kg", "height"), [(58.7, 1.56), (71.9, 1.70), (72.35, None)])
def test_weight_decodes_with_user_bmi_and_height(kg: float, height: float | None) -> None:
    reading = decode("2a9d", payloads.weight(kg, when=WHEN, user=1, height_m=height))
    assert isinstance(reading, WeightReading)
    assert reading.weight == pytest.approx(kg, abs=0.005)
    assert reading.user_id == 1
    assert reading.timestamp == WHEN
    if height is None:
        assert reading.bmi is None
    else:
        assert reading.height == pytest.approx(height)
        assert reading.bmi == pytest.approx(kg / height**2, abs=0.05)


@pytest.mark.parametrize("mmol", [3.2, 5.6, 7.2, 9.15, 14.0])
def test_glucose_decodes_in_mmol_per_litre(mmol: float) -> None:
    reading = decode("2a18", payloads.glucose(42, when=WHEN, mmol_per_l=mmol))
    assert isinstance(reading, GlucoseReading)
    assert reading.sequence_number == 42
    assert reading.timestamp == WHEN
    (sample,) = reading.vitals()
    assert sample.vital is Vital.GLUCOSE
    assert sample.value == pytest.approx(mmol, abs=0.01)


def test_racp_answers_decode() -> None:
    count = decode("2a52", payloads.racp_number_of_records(28))
    assert isinstance(count, RacpReading)
    assert count.number_of_records == 28
    done = decode("2a52", payloads.racp_response(payloads.RACP_REPORT_STORED_RECORDS, 0x01))
    assert isinstance(done, RacpReading)
    assert done.response_code == "success"
    none = decode("2a52", payloads.racp_response(payloads.RACP_REPORT_STORED_RECORDS, 0x06))
    assert isinstance(none, RacpReading)
    assert none.response_code == "no_records_found"


def test_demo_devices_understand_what_smart_care_writes() -> None:
    assert payloads.parse_racp_request(racp.report_stored_records(None)) == (1, 1, None)
    assert payloads.parse_racp_request(racp.report_number_of_records(5)) == (4, 3, 6)
    assert payloads.parse_racp_request(racp.report_stored_records(5)) == (1, 3, 6)
    assert payloads.parse_current_time(racp.current_time(WHEN)) == WHEN
    with pytest.raises(ValueError, match="too short"):
        payloads.parse_racp_request(b"\x01")


def test_sfloat_refuses_what_it_cannot_carry() -> None:
    assert payloads.sfloat(120) == b"\x78\x00"
    assert payloads.sfloat(0.0072, -4) == bytes((72, 0xC0))
    with pytest.raises(ValueError, match="does not fit"):
        payloads.sfloat(5000)
    with pytest.raises(ValueError, match="exponent"):
        payloads.sfloat(1, 9)


def _encode(m: Any, when: datetime) -> tuple[str, bytes]:
    user = scenario.PEOPLE[m.person].user
    height = scenario.PEOPLE[m.person].height_m
    if m.device == "cuff":
        s, d, p = (round(v) for v in m.values)
        return "2a35", payloads.blood_pressure(s, d, when=when, pulse=p, user=user)
    if m.device == "oximeter":
        spo2, pulse = (round(v) for v in m.values)
        return "2a5e", payloads.plx_spot_check(spo2, pulse, when=when)
    if m.device == "scale":
        return "2a9d", payloads.weight(m.values[0], when=when, user=user, height_m=height)
    return "2a18", payloads.glucose(1, when=when, mmol_per_l=m.values[0])


def test_every_story_measurement_is_a_plausible_device_reading() -> None:
    steps = [*scenario.memory(WHEN), *scenario.timeline(fast=False, rounds=8)]
    assert len(steps) > 100
    for step in steps:
        uuid, data = _encode(step, step.when or WHEN)
        reading = decode(uuid, data)
        samples = reading.vitals()
        assert samples, step
        check_set({s.vital: s.value for s in samples})
        if step.device in ("cuff", "scale"):
            assert reading.user_id == scenario.PEOPLE[step.person].user


def test_story_memory_is_normal_and_in_the_past() -> None:
    memory = scenario.memory(WHEN)
    assert all(m.when is not None and m.when < WHEN.replace(hour=0, minute=0) for m in memory)
    assert not [m for m in memory if m.abnormal]
    systolic = [m.values[0] for m in memory if m.device == "cuff"]
    assert max(systolic) < 140  # no old reading raises (or would raise) an alarm
    assert all(5.0 <= m.values[0] <= 10.0 for m in memory if m.device == "meter")


def test_abnormal_episode_within_the_first_minutes() -> None:
    episode = [m for m in scenario.timeline(fast=False, rounds=1) if m.abnormal]
    assert {m.device for m in episode} == {"cuff", "oximeter"}
    assert all(m.person == "grandma" and m.at <= 150 for m in episode)
    cuff = next(m for m in episode if m.device == "cuff")
    assert cuff.values[:2] == (186, 112)
    fast = [m for m in scenario.timeline(fast=True, rounds=1) if m.abnormal]
    assert max(m.at for m in fast) <= 15


def _shape(node: Any) -> Any:
    """A dashboard without its words: card types, entities, actions, layout."""
    if isinstance(node, dict):
        return {
            k: _shape(v)
            for k, v in node.items()
            if k not in ("title", "heading", "name", "content")
        }
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


def test_dashboards_have_the_same_cards_in_both_languages() -> None:
    english = yaml.safe_load((ROOT / "docs" / "dashboard.yaml").read_text(encoding="utf-8"))
    chinese = yaml.safe_load((ROOT / "docs" / "dashboard.zh-Hans.yaml").read_text(encoding="utf-8"))
    assert _shape(english) == _shape(chinese)
    text = (ROOT / "docs" / "dashboard.zh-Hans.yaml").read_text(encoding="utf-8")
    assert "收缩压" in text
    assert "确认奶奶的警报" in text


def test_dashboard_uses_only_core_cards_and_the_documented_script() -> None:
    core = {
        "conditional",
        "entities",
        "gauge",
        "grid",
        "heading",
        "history-graph",
        "markdown",
        "statistics-graph",
        "tile",
    }
    dashboard = yaml.safe_load((ROOT / "docs" / "dashboard.yaml").read_text(encoding="utf-8"))
    seen: set[str] = set()
    actions: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str) and "cards" not in node.get("type", ""):
                seen.add(node["type"])
            if "perform_action" in node:
                actions.add(node["perform_action"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dashboard)
    seen.discard("sections")
    seen.discard("entity")  # heading badges
    assert seen <= core, seen - core
    assert not any(t.startswith("custom:") for t in seen)
    script = yaml.safe_load((ROOT / "docs" / "dashboard-script.yaml").read_text(encoding="utf-8"))
    assert actions == {f"script.{name}" for name in script}
    # The page documents the very script the demo installs.
    doc = (ROOT / "docs" / "dashboard.md").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "dashboard-script.yaml").read_text(encoding="utf-8").strip() in doc
