"""List fields of a person's private profile: one item per entry, migrated from older text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..const import CONF_ALLERGIES, CONF_CONDITIONS, CONF_MEDICATIONS

if TYPE_CHECKING:
    from ..core.store.record_store import RecordStore

# Conditions, allergies and medications: a list of entries (before: one text, one per line).
LIST_FIELDS = (CONF_CONDITIONS, CONF_ALLERGIES, CONF_MEDICATIONS)


def as_items(value: Any) -> list[str]:
    """The entries of a list field, whether stored as a list or as the older text."""
    if value is None:
        return []
    raw = value.splitlines() if isinstance(value, str) else [str(item) for item in value]
    return [item.strip() for item in raw if item.strip()]


def as_text(value: Any) -> str:
    """A list field as one text, one entry per line (what the parsers of the core read)."""
    return "\n".join(as_items(value))


def migrate_profiles(store: RecordStore) -> int:
    """Rewrite profiles whose list fields are still text; return how many changed (idempotent)."""
    changed = 0
    for person_id in store.person_ids():
        profile = store.get_profile(person_id)
        if not profile or not any(isinstance(profile.get(key), str) for key in LIST_FIELDS):
            continue
        for key in LIST_FIELDS:
            if isinstance(profile.get(key), str):
                if items := as_items(profile[key]):
                    profile[key] = items
                else:
                    del profile[key]
        store.put_profile(person_id, profile)
        changed += 1
    return changed
