"""The medication list parser and the reminder ids (pure)."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from custom_components.smart_care.core.clinical.medication import (
    MAX_LINES,
    ScheduledMedication,
    answer_action,
    dose_key,
    medication_id,
    parse_answer_action,
    parse_dose_key,
    parse_medications,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Metformin 500 mg 08:00, 20:00", [("Metformin 500 mg", [(8, 0), (20, 0)])]),
        ("Amlodipine 5 mg at 8:00", [("Amlodipine 5 mg", [(8, 0)])]),
        ("08:00 Levothyroxine 50 µg", [("Levothyroxine 50 µg", [(8, 0)])]),
        # Chinese input: full-width colon and the enumeration comma.
        ("二甲双胍 500mg 08：00、20：00", [("二甲双胍 500mg", [(8, 0), (20, 0)])]),
        ("阿司匹林 100mg 于 07:30", [("阿司匹林 100mg", [(7, 30)])]),
        # Punctuation inside the name stays; separators between times go.
        (
            "Co-amilofruse 5/40 mg, 1 tablet 07:30 and 19:30",
            [("Co-amilofruse 5/40 mg, 1 tablet", [(7, 30), (19, 30)])],
        ),
        # Times are sorted and de-duplicated.
        ("Vitamin D 20:00 08:00 20:00", [("Vitamin D", [(8, 0), (20, 0)])]),
    ],
)
def test_parses_name_and_times(
    text: str, expected: list[tuple[str, list[tuple[int, int]]]]
) -> None:
    assert parse_medications(text) == [
        ScheduledMedication(name, tuple(time(h, m) for h, m in times)) for name, times in expected
    ]


def test_unparseable_lines_are_kept_without_times() -> None:
    text = (
        "Metformin 500 mg 08:00, 20:00\n"
        "\n"
        "Paracetamol 500 mg when needed\n"
        "Insulin 1:250 ratio\n"  # a ratio, not a time
        "Aspirin 100 mg 25:00\n"  # no such hour
        "  Amlodipine   5 mg   08:00  "
    )
    meds = parse_medications(text)
    assert [(m.text, len(m.times)) for m in meds] == [
        ("Metformin 500 mg", 2),
        ("Paracetamol 500 mg when needed", 0),
        ("Insulin 1:250 ratio", 0),
        ("Aspirin 100 mg 25:00", 0),
        ("Amlodipine 5 mg", 1),
    ]


def test_semicolons_separate_medications() -> None:
    meds = parse_medications("Aspirin 100 mg 08:00; Simvastatin 20 mg 22:00；维生素D 12:00")
    assert [(m.text, m.times) for m in meds] == [
        ("Aspirin 100 mg", (time(8, 0),)),
        ("Simvastatin 20 mg", (time(22, 0),)),
        ("维生素D", (time(12, 0),)),
    ]


def test_a_line_of_only_times_keeps_its_text() -> None:
    assert parse_medications("08:00, 20:00") == [
        ScheduledMedication("08:00, 20:00", (time(8, 0), time(20, 0)))
    ]


@pytest.mark.parametrize("text", [None, "", "\n \n", ";;"])
def test_empty(text: str | None) -> None:
    assert parse_medications(text) == []


def test_bounded() -> None:
    assert len(parse_medications("\n".join(f"Med {i} 08:00" for i in range(500)))) == MAX_LINES
    (med,) = parse_medications("Many " + " ".join(f"{h:02d}:00" for h in range(24)))
    assert len(med.times) == 12


def test_medication_id_is_stable_per_person_and_hides_the_text() -> None:
    one = medication_id("person-a", "Metformin 500 mg")
    assert one == medication_id("person-a", "  metformin   500 MG ")
    assert one != medication_id("person-b", "Metformin 500 mg")
    assert one != medication_id("person-a", "Metformin 1000 mg")
    assert len(one) == 16
    assert int(one, 16) >= 0
    assert "metformin" not in one


def test_dose_key_round_trip() -> None:
    when = datetime(2025, 4, 15, 8, 0)
    assert dose_key(when) == "202504150800"
    assert parse_dose_key("202504150800") == when
    for bad in ("2025041508", "20250415080x", "202513150800"):
        with pytest.raises(ValueError, match="a dose key is 12 digits"):
            parse_dose_key(bad)


def test_answer_actions_round_trip() -> None:
    med = medication_id("p", "Metformin 500 mg")
    for button, status in (("TAKEN", "taken"), ("SKIP", "skipped"), ("SNOOZE", "snoozed")):
        action = answer_action(button, med, "202504150800")
        assert action == f"SMART_CARE_MED_{button}_{med}_202504150800"
        assert parse_answer_action(action) == (status, med, "202504150800")
    with pytest.raises(ValueError, match="answer must be one of"):
        answer_action("MAYBE", med, "202504150800")


@pytest.mark.parametrize(
    "action",
    [
        "SMART_CARE_ACK_abc",
        "SMART_CARE_MED_TAKEN_short_202504150800",
        "SMART_CARE_MED_EATEN_0123456789abcdef_202504150800",
        "SMART_CARE_MED_TAKEN_0123456789abcdef_202513150800",
        "SMART_CARE_MED_TAKEN_0123456789abcdef_202504150800_extra",
        "",
    ],
)
def test_other_actions_are_not_answers(action: str) -> None:
    assert parse_answer_action(action) is None
