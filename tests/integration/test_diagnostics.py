"""Diagnostics help debugging and name nobody."""

from __future__ import annotations

import logging

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.const import DOMAIN
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_TEXT, add_person

SENTINELS = (SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH, "Grandma", "notify.family")


async def test_diagnostics_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await async_setup_component(hass, "diagnostics", {})
    await hass.services.async_call(
        DOMAIN, "record_measurement", {"person": "Grandma", "spo2": 97}, blocking=True
    )
    diag = await get_diagnostics_for_config_entry(hass, hass_client, loaded_household)
    text = str(diag)
    for sentinel in SENTINELS:
        assert sentinel not in text
    (person,) = diag["people"]
    assert person["measurements"] == 1
    assert person["latest_vitals"] == ["spo2"]
    assert person["subentry"]["data"]["alias"] == "**REDACTED**"
    assert person["subentry"]["title"] == "**REDACTED**"
    assert diag["entry"]["options"]["glucose_unit"] == "mmol/L"
    # Nothing personal was logged on the way either (the alias is a display name, also kept out).
    for sentinel in (SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH):
        assert sentinel not in caplog.text


async def test_removing_person_logs_no_identity(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await add_person(hass, loaded_household, alias="Uncle", id_number=SENTINEL_ID)
    (subentry_id,) = loaded_household.subentries
    hass.config_entries.async_remove_subentry(loaded_household, subentry_id)
    await hass.async_block_till_done()
    assert "Removed the health record" in caplog.text
    assert SENTINEL_ID not in caplog.text
