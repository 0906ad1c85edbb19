"""Diagnostics: structure and counts only; everything personal is redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import SmartCareConfigEntry
from .const import (
    CONF_ALIAS,
    CONF_EMERGENCY_CONTACTS,
    CONF_PERSON_ENTITY,
    CONF_PERSON_ID,
    IDENTITY_FIELDS,
)

TO_REDACT = {
    CONF_ALIAS,
    CONF_PERSON_ENTITY,
    CONF_EMERGENCY_CONTACTS,
    CONF_PERSON_ID,
    "title",
    "unique_id",
    *IDENTITY_FIELDS,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SmartCareConfigEntry
) -> dict[str, Any]:
    """Return what helps debugging without naming anyone."""
    household = entry.runtime_data
    counts = await hass.async_add_executor_job(
        lambda: {pid: household.store.count(pid) for pid in household.people}
    )
    people = [
        {
            "subentry": async_redact_data(
                dict(entry.subentries[p.subentry_id].as_dict()), TO_REDACT
            ),
            "measurements": counts[p.person_id],
            "latest_vitals": sorted(p.latest),
        }
        for p in household.people.values()
    ]
    return {
        "entry": {
            "version": entry.version,
            "minor_version": entry.minor_version,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "people": people,
    }
