"""The dashboard strategy is served and loaded by the frontend (the browser tests run it)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.dashboard import STRATEGY_URL, async_register_strategy


async def test_strategy_is_served_and_loaded(
    hass: HomeAssistant, loaded_household: MockConfigEntry, hass_client: Any
) -> None:
    assert await async_setup_component(hass, "frontend", {})
    url = await async_register_strategy(hass)
    assert url is not None
    assert url.startswith(f"{STRATEGY_URL}?v=")
    assert url in hass.data[DATA_EXTRA_MODULE_URL].urls
    client = await hass_client()
    response = await client.get(url)
    assert response.status == 200
    body = await response.text()
    assert 'customElements.define("ll-strategy-dashboard-smart-care"' in body
    # Both languages of the generated page.
    assert '"zh-Hans": {' in body
    assert "state_not: NO_READING" in body
