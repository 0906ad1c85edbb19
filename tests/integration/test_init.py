"""Setup, unload, reload and persistence of the household."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.household.runtime import record_path
from tests.support.device_lookup import in_subentry


async def test_setup_unload_reload(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    entry = loaded_household
    assert entry.state is ConfigEntryState.LOADED
    path = record_path(hass, entry.entry_id)
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert hass.states.get("sensor.grandma_systolic_blood_pressure") is not None

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.grandma_systolic_blood_pressure") is not None

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    state = hass.states.get("sensor.grandma_systolic_blood_pressure")
    assert state is not None
    assert state.state == "unavailable"


async def test_person_device_linked_to_subentry(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)
    entity = entity_registry.async_get("sensor.grandma_weight")
    assert entity is not None
    assert entity.config_subentry_id == grandma
    device = device_registry.async_get(entity.device_id)
    assert device is not None
    assert device.name == "Grandma"
    assert in_subentry(device, loaded_household.entry_id, grandma)
    assert any(domain == DOMAIN for domain, _ in device.identifiers)


async def test_remove_entry_deletes_record(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    path = record_path(hass, loaded_household.entry_id)
    assert path.exists()
    assert await hass.config_entries.async_remove(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert not path.exists()
