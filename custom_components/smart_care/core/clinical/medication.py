"""Medication schedules from the free text of a person's record (pure: no Home Assistant).

Notes: docs/modules.md (core/clinical/medication.py).
"""

from __future__ import annotations

from datetime import datetime, time
import hashlib
import re
from typing import Final, NamedTuple

MAX_LINES: Final = 50
MAX_TIMES_PER_LINE: Final = 12

# 8:00, 08:00, 20:30, 08：00 (full-width colon); not part of a longer number ("1:250").
_TIME_RE: Final = re.compile(r"(?<![\d:：])([01]?\d|2[0-3])\s*[:：]\s*([0-5]\d)(?![\d:：])")
_LINE_SPLIT_RE: Final = re.compile(r"[\n\r;；]+")
# Left over around removed times: separators and a trailing "at"-style connector.
_EDGE_RE: Final = re.compile(r"^[\s,，、@\-–—:：/|]+|[\s,，、@\-–—:：/|]+$")
_TRAILING_WORD_RE: Final = re.compile(r"\s+(?:at|um|à|a las|alle|om|于|在)$", re.IGNORECASE)
_SPACES_RE: Final = re.compile(r"\s+")
_MARK: Final = "\x00"
_SEP: Final = r"[\s,，、/&+]*"
_TIME_RUN_RE: Final = re.compile(
    rf"{_SEP}\x00(?:{_SEP}(?:and|und|et|y|e|和|及|或)?{_SEP}\x00)*{_SEP}", re.IGNORECASE
)

ACTION_PREFIX: Final = "SMART_CARE_MED_"
ANSWER_ACTIONS: Final = {"TAKEN": "taken", "SKIP": "skipped", "SNOOZE": "snoozed"}
_ACTION_RE: Final = re.compile(r"^SMART_CARE_MED_(TAKEN|SKIP|SNOOZE)_([0-9a-f]{16})_(\d{12})$")
DOSE_KEY_FORMAT: Final = "%Y%m%d%H%M"


class ScheduledMedication(NamedTuple):
    """One line of the medication list: its text and its daily dose times (maybe none)."""

    text: str
    times: tuple[time, ...]


def parse_medications(text: str | None) -> list[ScheduledMedication]:
    """Parse the free-text medication list, one medication per line (or per ``;``)."""
    result: list[ScheduledMedication] = []
    for raw in _LINE_SPLIT_RE.split(text or ""):
        line = _SPACES_RE.sub(" ", raw).strip()
        if not line:
            continue
        if len(result) >= MAX_LINES:
            break
        times = sorted({time(int(m.group(1)), int(m.group(2))) for m in _TIME_RE.finditer(line)})[
            :MAX_TIMES_PER_LINE
        ]
        name = line
        if times:
            # A run of times with the separators between them ("08:00, 20:00 and 22:00")
            # becomes one space; punctuation inside the name ("Co-amilofruse, 5/40") stays.
            name = _TIME_RUN_RE.sub(" ", _TIME_RE.sub(_MARK, line))
            for _ in range(3):
                name = _EDGE_RE.sub("", name)
                name = _TRAILING_WORD_RE.sub("", name)
            name = _SPACES_RE.sub(" ", name).strip()
            if not name:
                # Only times on the line: keep the line itself as the text.
                name = line
        result.append(ScheduledMedication(name, tuple(times)))
    return result


def normalise(text: str) -> str:
    """The form of a medication text that its id is computed from."""
    return _SPACES_RE.sub(" ", text).strip().casefold()


def medication_id(person_id: str, text: str) -> str:
    """Stable, non-reversible id of one medication of one person (16 hex digits)."""
    digest = hashlib.sha256(f"smartcare-med/1|{person_id}|{normalise(text)}".encode())
    return digest.hexdigest()[:16]


def dose_key(when: datetime) -> str:
    """Key of one scheduled dose: its local date and time to the minute."""
    return when.strftime(DOSE_KEY_FORMAT)


def parse_dose_key(key: str) -> datetime:
    """The naive local date and time of a dose key; ValueError if malformed."""
    if not re.fullmatch(r"\d{12}", key):
        raise ValueError("a dose key is 12 digits: YYYYMMDDHHMM")
    try:
        return datetime.strptime(key, DOSE_KEY_FORMAT)
    except ValueError:  # e.g. month 13; Python's own wording varies by version
        raise ValueError("a dose key is 12 digits: YYYYMMDDHHMM of a real time") from None


def answer_action(answer: str, med_id: str, key: str) -> str:
    """The notification action id of an answer button (TAKEN, SKIP or SNOOZE)."""
    if answer not in ANSWER_ACTIONS:
        raise ValueError(f"answer must be one of {sorted(ANSWER_ACTIONS)}")
    return f"{ACTION_PREFIX}{answer}_{med_id}_{key}"


def parse_answer_action(action: str) -> tuple[str, str, str] | None:
    """(status, medication_id, dose_key) of a medication notification action, else None.

    Status is ``taken``, ``skipped`` or ``snoozed``.
    """
    match = _ACTION_RE.match(action)
    if match is None:
        return None
    try:
        parse_dose_key(match.group(3))
    except ValueError:
        return None
    return ANSWER_ACTIONS[match.group(1)], match.group(2), match.group(3)
