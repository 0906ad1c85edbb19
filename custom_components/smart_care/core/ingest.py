"""Pure rules of taking in a device reading: its time, its identity, whose it is.

Notes: docs/modules.md (core/ingest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
import uuid

# A medical-card scan claims the next reading within this window.
CLAIM_WINDOW = timedelta(minutes=5)
# A shared scale's reading is attributed by weight only when exactly one person's last
# weight is this close and nobody else is within twice the distance.
WEIGHT_MATCH_KG = 2.0
WEIGHT_MATCH_RELATIVE = 0.03
# A device reading measured this long before it arrived came from the device's memory.
MEMORY_AGE = timedelta(minutes=15)
# A device clock more than this far ahead is not trusted; the receipt time is used.
CLOCK_AHEAD_LIMIT = timedelta(minutes=10)


def reading_time(
    timestamp: datetime | None, received: datetime, zone: tzinfo
) -> tuple[datetime, bool]:
    """(when the reading was taken, whether the device clock was too far ahead).

    BLE Date Time has no zone: it is the device's local time, ``zone``.
    """
    if timestamp is None:
        return received, False
    stamped = timestamp.replace(tzinfo=zone).astimezone(UTC)
    if stamped > received + CLOCK_AHEAD_LIMIT:
        return received, True
    return stamped, False


def from_memory(taken: datetime, received: datetime) -> bool:
    """Whether a reading came from the device's memory (history, not the current state)."""
    return received - taken > MEMORY_AGE


def dedupe_prefix(
    device: str, kind: str, sequence_number: int | None, timestamp: datetime | None
) -> str | None:
    """What makes a device reading the same when the device sends it again (None: nothing)."""
    if sequence_number is not None:
        # The device time too: a meter reset starts its sequence numbers again.
        stamp = "" if timestamp is None else timestamp.isoformat()
        return f"{device}|{kind}|seq{sequence_number}|{stamp}"
    if timestamp is not None:
        return f"{device}|{kind}|{timestamp.isoformat()}"
    return None


def reading_id(prefix: str | None) -> str:
    """A stable id for a reading that can be recognised again, else a random one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, prefix).hex if prefix else uuid.uuid4().hex


def weight_guess(last_weights: Mapping[str, float], weight: float) -> tuple[str | None, str | None]:
    """(confident person, best guess) from the people's last known weights."""
    distances = sorted((abs(last - weight), person) for person, last in last_weights.items())
    if not distances:
        return None, None
    best_distance, best = distances[0]
    tolerance = max(WEIGHT_MATCH_KG, weight * WEIGHT_MATCH_RELATIVE)
    if best_distance > tolerance:
        return None, None
    if len(distances) > 1 and distances[1][0] <= 2 * tolerance:
        return None, best
    return best, best


def attribute(
    people: Collection[str],
    *,
    user_id: int | None,
    user_map: Mapping[int, str],
    take_claim: Callable[[], str | None],
    owner: str | None,
    weight: float | None,
    last_weights: Mapping[str, float],
) -> tuple[str | None, str, str | None]:
    """(person or None, how, best guess).

    In this order: the device's user index, a medical card scanned just before (taken only
    when reached), the device owner, the only person, a weight match; else pending.
    """
    if user_id is not None and user_id in user_map and user_map[user_id] in people:
        return user_map[user_id], "user_index", None
    if (claimed := take_claim()) is not None:
        return claimed, "medical_card", None
    if owner is not None and owner in people:
        return owner, "device_owner", None
    if len(people) == 1:
        return next(iter(people)), "only_person", None
    if weight is not None:
        confident, guess = weight_guess(last_weights, weight)
        if confident is not None:
            return confident, "weight_match", None
        return None, "pending", guess
    return None, "pending", None
