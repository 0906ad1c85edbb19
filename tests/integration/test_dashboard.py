"""The dashboard strategy: served and loaded by the frontend, and what it generates.

The browser tests run it in Chromium; here Node runs the same module on the registries and
states of a real Home Assistant, and HA's template engine renders its status cards.
"""

from __future__ import annotations

from datetime import timedelta
import json
from pathlib import Path
import shutil
import subprocess
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.template import Template
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.dashboard import STRATEGY_URL, async_register_strategy
from tests.conftest import add_person
from tests.support.blueprint_support import record

COMPONENT_JS = (
    Path(__file__).resolve().parents[2]
    / "custom_components"
    / "smart_care"
    / "frontend"
    / "smart-care-strategy.js"
)


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


# Runs the strategy module as the frontend would (it only needs customElements).
GENERATE = """
globalThis.HTMLElement = class {};
globalThis.customElements = { get: () => undefined, define: () => {} };
const { generateDashboard } = await import(process.argv[1]);
let input = "";
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(generateDashboard(JSON.parse(input))));
"""


def _frontend_hass(hass: HomeAssistant, language: str) -> dict[str, Any]:
    """What the strategy reads from the frontend's hass object, from the real registries."""
    # Smart Care's devices and entities (the strategy looks at nothing else), through the
    # per-entry helpers: HA 2026 no longer allows the registries as mappings.
    entry_ids = [e.entry_id for e in hass.config_entries.async_entries(DOMAIN)]
    device_registry, entity_registry = dr.async_get(hass), er.async_get(hass)
    devices = {
        d.id: {
            "id": d.id,
            "name": d.name,
            "name_by_user": d.name_by_user,
            "model": d.model,
            "identifiers": [list(i) for i in d.identifiers],
        }
        for entry_id in entry_ids
        for d in dr.async_entries_for_config_entry(device_registry, entry_id)
    }
    entities = {
        e.entity_id: {
            "entity_id": e.entity_id,
            "platform": e.platform,
            "device_id": e.device_id,
            "translation_key": e.translation_key,
            "hidden": e.hidden,
        }
        for entry_id in entry_ids
        for e in er.async_entries_for_config_entry(entity_registry, entry_id)
    }
    states = {
        s.entity_id: {
            "state": s.state,
            "attributes": json.loads(json.dumps(s.attributes, default=str)),
        }
        for s in hass.states.async_all()
    }
    return {
        "devices": devices,
        "entities": entities,
        "states": states,
        "locale": {"language": language},
        "language": language,
    }


def _generate(hass: HomeAssistant, language: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "Node.js is needed to run the dashboard strategy"
    done = subprocess.run(
        [node, "--input-type=module", "-e", GENERATE, (COMPONENT_JS).as_uri()],
        input=json.dumps(_frontend_hass(hass, language)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(done.stdout))


def _cards(section: dict[str, Any]) -> list[dict[str, Any]]:
    return list(section["cards"])


def _inner(card: dict[str, Any]) -> dict[str, Any]:
    return dict(card.get("card", card))


async def test_generated_per_person_in_the_viewers_language(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    freezer: FrozenDateTimeFactory,
) -> None:
    # Grandpa measures blood pressure and weight daily, and then stops for more than a day.
    result = await add_person(
        hass,
        loaded_household,
        alias="Grandpa",
        expected_measurements=["blood_pressure", "weight"],
        overdue_hours=24,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    await record(hass, "Grandpa", systolic=128, diastolic=80, weight=71.5)
    freezer.tick(timedelta(hours=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Oma, added in the UI a moment ago, has measured nothing yet.
    result = await add_person(hass, loaded_household, alias="Oma")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    await record(hass, spo2=85)  # Grandma: a critical alert, in HA's language English
    assert hass.config.language == "en"
    for language, alert_words, overdue_line, no_readings in (
        ("en", "Oxygen saturation 85 %", "**Overdue:** blood pressure, weight", "No readings yet"),
        ("zh-Hans", "血氧饱和度 85 %", "**测量逾期:** 血压、体重", "还没有读数"),
    ):
        config = _generate(hass, language)
        (view,) = config["views"]
        *people, household = view["sections"]
        headings = [_cards(s)[0]["heading"] for s in people]
        assert headings == ["Grandma", "Grandpa", "Oma"]
        sections = dict(zip(headings, (_cards(s) for s in people), strict=True))
        # A gauge of a value is shown only once there is a reading: no "Entity is
        # non-numeric" card before the first one.
        gauges = [c for cards in sections.values() for c in cards if _inner(c)["type"] == "gauge"]
        assert gauges
        for card in gauges:
            assert card["type"] == "conditional"
            assert card["conditions"][0]["state_not"] == ["unknown", "unavailable"]
        oma = sections["Oma"]
        assert any(no_readings in c.get("content", "") for c in oma if c["type"] == "markdown")
        assert not any(c["type"] in ("history-graph", "statistics-graph") for c in oma)
        # The status cards, rendered by Home Assistant's own template engine.
        status = {
            heading: Template(
                next(c["content"] for c in cards if c["type"] == "markdown"), hass
            ).async_render()
            for heading, cards in sections.items()
        }
        assert alert_words in status["Grandma"]
        assert overdue_line in status["Grandpa"]
        assert "stale_" not in status["Grandpa"]
        # The household's own part ends with the help text in the viewer's language.
        assert household["cards"][-1]["type"] == "markdown"
    zh_help = _generate(hass, "zh-Hans")["views"][0]["sections"][-1]["cards"][-1]["content"]
    assert "怎样看这一页" in zh_help
