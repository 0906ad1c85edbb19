"""The knowledge base: complete in both languages, matched to codes and conditions."""

from __future__ import annotations

import pytest

from custom_components.smart_care.core.clinical.assessment import (
    DEVICE_FLAG_CODES,
    threshold_codes,
)
from custom_components.smart_care.core.clinical.knowledge import (
    LANGUAGES,
    NOTES,
    for_codes,
    for_conditions,
    note,
)
from custom_components.smart_care.core.clinical.vitals import Vital


@pytest.mark.parametrize("entry", NOTES, ids=lambda n: n.topic)
def test_every_note_is_complete(entry: object) -> None:
    for language in LANGUAGES:
        title, body = entry.render(language)  # type: ignore[attr-defined]
        assert title
        assert entry.source in body  # type: ignore[attr-defined]
        assert ("not a diagnosis" in body) or ("并非诊断" in body)
    assert entry.codes or entry.conditions  # type: ignore[attr-defined]


def test_codes_exist_in_the_assessment() -> None:
    known = set(DEVICE_FLAG_CODES.values())
    for vital in Vital:
        known.update(threshold_codes(vital))
    known |= {
        "bp_7day_mean_stage1",
        "systolic_bp_7day_rise",
        "weight_gain_3d",
        "glucose_repeated_lows",
    }
    for entry in NOTES:
        assert entry.codes <= known, entry.topic


def test_matching() -> None:
    assert [n.topic for n in for_codes(["bp_7day_mean_stage1"])] == ["home_bp_above_target"]
    assert for_codes(["nothing"]) == []
    topics = {n.topic for n in for_conditions("Hypertension\n2型糖尿病")}
    assert topics == {"measuring_technique", "foot_care"}
    assert for_conditions("") == []
    # Whole words only: "prediabetes" is not diabetes.
    assert for_conditions("prediabetes") == []
    assert note("fever").render("fr")[0] == "Fever"


# Words that name a condition (every note's keywords, and the usual stems).
CONDITION_WORDS = {k.casefold() for n in NOTES for k in n.conditions} | {
    "diabet",
    "heart failure",
    "copd",
    "hypertens",
    "pulmonary",
}


def test_condition_notes_never_name_a_condition() -> None:
    # They are shown to every HA user: phrased as advice anyone could get (issue 17).
    for entry in NOTES:
        if not entry.conditions:
            continue
        shown = [entry.topic, entry.source, *entry.title.values(), *entry.text.values()]
        for language in ("en", "zh-Hans"):
            shown.extend(entry.render(language))
        for text in shown:
            for word in CONDITION_WORDS:
                assert word not in text.casefold(), (entry.topic, word)
