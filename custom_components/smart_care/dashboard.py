"""The Smart Care dashboard strategy: served to the frontend, generated there per viewer.

Notes: docs/modules.md (dashboard.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.http import (  # type: ignore[attr-defined,unused-ignore]
    StaticPathConfig,  # re-exported, not listed as exported on HA 2026
)
from homeassistant.core import HomeAssistant

STRATEGY_FILE = Path(__file__).parent / "frontend" / "smart-care-strategy.js"
STRATEGY_URL = "/smart_care_static/smart-care-strategy.js"
STRATEGY_TYPE = "custom:smart-care"


async def async_register_strategy(hass: HomeAssistant) -> str | None:
    """Serve the strategy and have the frontend load it; the URL it loads, if any."""
    if "http" not in hass.config.components:  # no web server to serve it from
        return None
    await hass.http.async_register_static_paths(
        [StaticPathConfig(STRATEGY_URL, str(STRATEGY_FILE), cache_headers=False)]
    )
    if "frontend" not in hass.config.components:
        return None
    from homeassistant.components.frontend import add_extra_js_url

    # A new version of the file is a new URL: browsers never keep a stale strategy.
    digest = await hass.async_add_executor_job(_digest)
    url = f"{STRATEGY_URL}?v={digest}"
    add_extra_js_url(hass, url)
    return url


def _digest() -> str:
    return hashlib.sha256(STRATEGY_FILE.read_bytes()).hexdigest()[:12]
