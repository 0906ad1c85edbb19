"""Diagnostics: structure and counts only; everything personal is redacted."""

from __future__ import annotations

from typing import Any, cast

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .const import (
    CLINIC_SECRETS,
    CONF_ALIAS,
    CONF_EMERGENCY_CONTACTS,
    CONF_ENTRY_TYPE,
    CONF_PERSON_ENTITY,
    CONF_PERSON_ID,
    ENTRY_TYPE_DEVICE,
    IDENTITY_FIELDS,
)
from .device.runtime import DeviceConfigEntry
from .types import SmartCareConfigEntry

TO_REDACT = {
    CONF_ALIAS,
    CONF_PERSON_ENTITY,
    CONF_EMERGENCY_CONTACTS,
    CONF_PERSON_ID,
    "title",
    "unique_id",
    *IDENTITY_FIELDS,
    *CLINIC_SECRETS,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ConfigEntry
) -> dict[str, Any]:
    """Return what helps debugging without naming anyone."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_DEVICE:
        return cast(DeviceConfigEntry, entry).runtime_data.diagnostics()
    data = cast(SmartCareConfigEntry, entry).runtime_data
    household = data.household
    counts = await household.record.batch(
        lambda store: {pid: store.count(pid) for pid in household.people}
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
        "clinics": [
            {
                "subentry": async_redact_data(
                    dict(entry.subentries[link.config.subentry_id].as_dict()), TO_REDACT
                ),
                **link.diagnostics(),
            }
            for link in (data.clinic.links.values() if data.clinic else ())
        ],
    }
