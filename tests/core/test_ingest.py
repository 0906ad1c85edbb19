"""The pure ingest rules: a reading's time, its identity and whose it is (core/ingest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from custom_components.smart_care.core import ingest

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 3, 14, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def test_device_time_is_local_and_stored_in_utc() -> None:
    when, ahead = ingest.reading_time(datetime(2026, 3, 14, 8, 55), RECEIVED, SHANGHAI)
    assert (when, ahead) == (datetime(2026, 3, 14, 0, 55, tzinfo=UTC), False)
    assert when.tzinfo is UTC


def test_a_clock_too_far_ahead_is_not_trusted() -> None:
    limit = RECEIVED + ingest.CLOCK_AHEAD_LIMIT
    just_inside = limit.astimezone(SHANGHAI).replace(tzinfo=None)
    assert ingest.reading_time(just_inside, RECEIVED, SHANGHAI) == (limit, False)
    beyond = just_inside + timedelta(seconds=1)
    assert ingest.reading_time(beyond, RECEIVED, SHANGHAI) == (RECEIVED, True)
    assert ingest.reading_time(None, RECEIVED, SHANGHAI) == (RECEIVED, False)


def test_memory_readings_are_history() -> None:
    assert not ingest.from_memory(RECEIVED - ingest.MEMORY_AGE, RECEIVED)
    assert ingest.from_memory(RECEIVED - ingest.MEMORY_AGE - timedelta(seconds=1), RECEIVED)


def test_dedupe_identity_is_pinned() -> None:
    # Stored reading ids derive from these strings: changing them duplicates re-sent readings.
    stamp = datetime(2026, 3, 14, 8, 55)
    assert ingest.dedupe_prefix("AA", "glucose", 7, stamp) == "AA|glucose|seq7|2026-03-14T08:55:00"
    assert ingest.dedupe_prefix("AA", "glucose", 7, None) == "AA|glucose|seq7|"
    assert ingest.dedupe_prefix("AA", "weight", None, stamp) == "AA|weight|2026-03-14T08:55:00"
    assert ingest.dedupe_prefix("AA", "weight", None, None) is None
    assert ingest.reading_id("AA|weight|x") == ingest.reading_id("AA|weight|x")
    assert ingest.reading_id(None) != ingest.reading_id(None)


class Card:
    """A medical-card claim the rule may take (and must take only when it reaches it)."""

    def __init__(self, person: str | None = None) -> None:
        self.person = person
        self.taken = False

    def take(self) -> str | None:
        self.taken = True
        return self.person


def _attribute(
    people: list[str],
    card: Card | None = None,
    *,
    user_id: int | None = None,
    user_map: dict[int, str] | None = None,
    owner: str | None = None,
    weight: float | None = None,
    last_weights: dict[str, float] | None = None,
) -> tuple[str | None, str, str | None]:
    return ingest.attribute(
        people,
        user_id=user_id,
        user_map=user_map or {},
        take_claim=(card or Card()).take,
        owner=owner,
        weight=weight,
        last_weights=last_weights or {},
    )


def test_attribution_order() -> None:
    two = ["nana", "grandpa"]
    by_index = _attribute(two, Card("grandpa"), user_id=1, user_map={1: "nana"})
    assert by_index == ("nana", "user_index", None)
    assert _attribute(two, Card("grandpa"), owner="nana") == ("grandpa", "medical_card", None)
    assert _attribute(two, owner="nana") == ("nana", "device_owner", None)
    assert _attribute(["nana"]) == ("nana", "only_person", None)
    assert _attribute(two) == (None, "pending", None)


def test_a_card_claim_is_kept_when_the_user_index_decides() -> None:
    card = Card("grandpa")
    _attribute(["nana", "grandpa"], card, user_id=1, user_map={1: "nana"})
    assert not card.taken
    _attribute(["nana", "grandpa"], card, owner="nana")
    assert card.taken


def test_weight_match_needs_a_clear_winner() -> None:
    two = ["nana", "grandpa"]
    apart = {"nana": 52.0, "grandpa": 78.0}
    assert _attribute(two, weight=53.0, last_weights=apart) == ("nana", "weight_match", None)
    close = {"nana": 52.0, "aunt": 54.5}
    assert _attribute(["nana", "aunt"], weight=53.0, last_weights=close)[1:] == ("pending", "nana")
    assert _attribute(["nana", "aunt"], weight=90.0, last_weights=close)[1:] == ("pending", None)
