"""Device registry lookups that work on HA 2025.4 and 2026.x alike.

HA 2026 deprecates ``async_get_device``, mapping access to ``registry.devices`` and
``DeviceEntry.config_entries_subentries`` (and raises when test code uses them); their
replacements do not exist on 2025.4. Each helper uses the new API where HA has it.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr


def find_device(
    hass: HomeAssistant,
    *,
    identifier: tuple[str, str] | None = None,
    connection: tuple[str, str] | None = None,
) -> dr.DeviceEntry | None:
    """The one device with this identifier or connection, or None."""
    registry = dr.async_get(hass)
    identifiers = {identifier} if identifier else None
    connections = {connection} if connection else None
    if hasattr(registry, "async_get_devices"):  # HA >= 2026
        found = registry.async_get_devices(identifiers=identifiers, connections=connections)
        assert len(found) <= 1, found
        return found[0] if found else None
    return registry.async_get_device(identifiers=identifiers, connections=connections)


def all_devices(hass: HomeAssistant) -> list[dr.DeviceEntry]:
    """Every device entry (HA 2026 iterates entries, 2025.4 iterates ids)."""
    registry = dr.async_get(hass)
    return [
        item if isinstance(item, dr.DeviceEntry) else registry.devices[item]
        for item in registry.devices
    ]


def in_subentry(device: dr.DeviceEntry, entry_id: str, subentry_id: str) -> bool:
    """Whether the device belongs to this config subentry."""
    if hasattr(device, "config_subentry_id"):  # HA >= 2026: one config entry per device
        return device.config_entry_id == entry_id and device.config_subentry_id == subentry_id
    return subentry_id in device.config_entries_subentries.get(entry_id, set())
