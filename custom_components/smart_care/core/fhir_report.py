"""The visit report as a FHIR R4 document Bundle with a Composition (docs/visit-report.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any, Final

from .fhir import (
    LOINC_SYSTEM,
    PSEUDONYM_SYSTEM,
    FhirResource,
    _digest,
    fhir_datetime,
    full_url,
    full_url_for,
    identifier_query,
)

__all__ = ["VISIT_REPORT_SYSTEM", "document_entry", "visit_report_document"]

VISIT_REPORT_SYSTEM: Final = "urn:smartcare:visit-report"
_XHTML: Final = "http://www.w3.org/1999/xhtml"
# LOINC 11503-0 "Medical records" would fit any record; the report summarises an episode
# of home monitoring between two visits.
_DOC_TYPE: Final = ("34133-9", "Summary of episode note")
# Section: (LOINC code, display, English title).
_SECTIONS: Final[Mapping[str, tuple[str, str, str]]] = {
    "blood_pressure": (
        "85354-9",
        "Blood pressure panel with all children optional",
        "Home blood pressure",
    ),
    "glucose": ("2339-0", "Glucose [Mass/volume] in Blood", "Blood glucose"),
    "weight": ("29463-7", "Body weight", "Weight and BMI"),
    "spo2": (
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "Oxygen saturation",
    ),
    "temperature": ("8310-5", "Body temperature", "Body temperature"),
    "news2_episodes": ("", "", "NEWS2 episodes"),
    "alerts": ("", "", "Alerts"),
    "medication": ("10160-0", "History of Medication use Narrative", "Medication adherence"),
    "advice": ("18776-5", "Plan of care note", "Advice from the clinic"),
}


def _value(figure: Mapping[str, Any], unit: str = "") -> str:
    if figure["value"] is None:
        return f"not enough data ({figure['n']} readings, needs {figure['minimum']})"
    return f"{figure['value']:g}{(' ' + unit) if unit else ''} ({figure['n']} readings)"


def _bp_pair(block: Mapping[str, Any]) -> str:
    sys_fig, dia_fig = block["systolic"], block["diastolic"]
    if sys_fig["value"] is None or dia_fig["value"] is None:
        return _value(sys_fig)
    return f"{sys_fig['value']:g}/{dia_fig['value']:g} mmHg ({sys_fig['n']} readings)"


def _narratives(report: Mapping[str, Any]) -> dict[str, list[str]]:
    bp = report["blood_pressure"]
    gl = report["glucose"]
    wt = report["weight"]
    sp = report["spo2"]
    tp = report["temperature"]
    target = f"{bp['target']['systolic']:g}/{bp['target']['diastolic']:g}"
    lines: dict[str, list[str]] = {
        "blood_pressure": [
            f"ESC/ESH home monitoring; first day ({bp['first_day']}, "
            f"{bp['first_day_discarded']} readings) not counted.",
            f"Average: {_bp_pair(bp['overall'])}",
            f"Mornings: {_bp_pair(bp['morning'])}; evenings: {_bp_pair(bp['evening'])}",
            f"At or above {target} mmHg: {_value(bp['above_target']['share'], '%')}",
            f"Pulse: {_value(bp['pulse'], '/min')}",
            *(f"Week {w['start']} to {w['end']}: {_bp_pair(w)}" for w in bp["weeks"]),
        ],
        "glucose": [
            f"Mean: {_value(gl['mean'], 'mmol/L')}",
            f"Below {gl['range']['low']:g}: {gl['below']['count']}; in range: "
            f"{gl['in_range']['count']}; above {gl['range']['high']:g}: {gl['above']['count']}",
            *(f"Low {g['value']:g} mmol/L at {g['time']}" for g in gl["lows"]),
            *(f"High {g['value']:g} mmol/L at {g['time']}" for g in gl["highs"]),
        ],
        "weight": [
            f"First {_value(wt['weight']['first'], 'kg')}, "
            f"last {_value(wt['weight']['last'], 'kg')}, "
            f"change {_value(wt['weight']['change'], 'kg')}; BMI last {_value(wt['bmi']['last'])}",
        ],
        "spo2": [
            f"Lowest {_value(sp['min'], '%')}, highest {_value(sp['max'], '%')}, "
            f"mean {_value(sp['mean'], '%')}; below {sp['target_low']:g} %: {len(sp['below'])}",
        ],
        "temperature": [
            f"Lowest {_value(tp['min'], '°C')}, highest {_value(tp['max'], '°C')}; "
            f"fevers ({tp['fever_from']:g} °C or higher): {len(tp['fevers'])}",
        ],
        "news2_episodes": [
            f"{e['start']} to {e['end']}: peak {e['peak']} ({e['risk']})"
            + (f", partial ({', '.join(e['missing'])} not measured)" if e["partial"] else "")
            for e in report["news2_episodes"]
        ],
        "alerts": [
            f"{a['opened_at']}: {a['code']} ({a['severity']}), "
            + (
                f"acknowledged after {a['minutes_to_acknowledge']:g} min"
                if a["minutes_to_acknowledge"] is not None
                else "not acknowledged"
            )
            for a in report["alerts"]["items"]
        ],
        "medication": [
            f"{m['text']}: {m['taken']} of {m['due']} doses taken, {m['skipped']} skipped, "
            f"{m['missed']} missed; adherence {_value(m['adherence'], '%')}"
            for m in report["medication"]
        ],
        "advice": [f"{a['received']}: {a['title']}" for a in report["advice"]],
    }
    return lines


def _div(lines: Sequence[str]) -> str:
    if not lines:
        return f'<div xmlns="{_XHTML}"><p>None in this period.</p></div>'
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<div xmlns="{_XHTML}"><ul>{items}</ul></div>'


def visit_report_document(
    report: Mapping[str, Any],
    *,
    person_pseudonym: str,
    patient: Mapping[str, Any],
    author: Mapping[str, Any],
    section_resources: Mapping[str, Mapping[str, FhirResource]],
) -> FhirResource:
    """The ``document`` Bundle: Composition first, then everything it references.

    ``section_resources`` gives, per report section, the Observations (and their Devices)
    by fullUrl, built the way readings are sent; their references (Patient, Devices) must
    resolve to ``patient``, ``author`` or each other.
    """
    period = report["period"]
    patient_url = full_url(patient)
    author_url = full_url(author)
    key = _digest(person_pseudonym, period["start"], period["end"])
    composition_url = full_url_for(VISIT_REPORT_SYSTEM + ":composition", key)
    narratives = _narratives(report)
    resources: dict[str, FhirResource] = {patient_url: dict(patient), author_url: dict(author)}
    sections = []
    for name, (code, display, title) in _SECTIONS.items():
        refs = []
        for url, resource in section_resources.get(name, {}).items():
            resources.setdefault(url, dict(resource))
            if resource.get("resourceType") == "Observation":
                refs.append({"reference": url})
        section: dict[str, Any] = {
            "title": title,
            "text": {"status": "generated", "div": _div(narratives.get(name, []))},
        }
        if code:  # no LOINC section code for NEWS2 episodes or home alerts: title only
            section["code"] = {
                "coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}]
            }
        if refs:
            section["entry"] = refs
        sections.append(section)
    generated = datetime.fromisoformat(report["generated"])
    composition: FhirResource = {
        "resourceType": "Composition",
        "identifier": {"system": VISIT_REPORT_SYSTEM, "value": key},
        "status": "final",
        "type": {
            "coding": [{"system": LOINC_SYSTEM, "code": _DOC_TYPE[0], "display": _DOC_TYPE[1]}],
            "text": "Home monitoring visit report",
        },
        "subject": {"reference": patient_url},
        "date": fhir_datetime(generated),
        "author": [{"reference": author_url}],
        "title": f"Home monitoring visit report {period['start']} to {period['end']}",
        "event": [{"period": {"start": period["start"], "end": period["end"]}}],
        "section": sections,
    }
    entries = [{"fullUrl": composition_url, "resource": composition}]
    entries += [{"fullUrl": url, "resource": resource} for url, resource in resources.items()]
    return {
        "resourceType": "Bundle",
        # Tagged with the pseudonym: an erasure finds the person's documents by it
        # (``DELETE Bundle?_tag=...``), as it finds their Observations by the patient.
        "meta": {"tag": [{"system": PSEUDONYM_SYSTEM, "code": person_pseudonym}]},
        "identifier": {"system": VISIT_REPORT_SYSTEM, "value": key},
        "type": "document",
        "timestamp": fhir_datetime(generated),
        "entry": entries,
    }


def document_entry(document: Mapping[str, Any]) -> dict[str, Any]:
    """Transaction entry ``PUT Bundle?identifier=...``: the same weeks' report is replaced."""
    identifier = document["identifier"]
    system, value = str(identifier["system"]), str(identifier["value"])
    return {
        "fullUrl": full_url_for(VISIT_REPORT_SYSTEM, value),
        "resource": dict(document),
        "request": {"method": "PUT", "url": f"Bundle?{identifier_query(system, value)}"},
    }
