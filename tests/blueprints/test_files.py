"""The blueprints as data, their bundled copies, the install service and the install repair."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.smart_care.const import DOMAIN
from tests.support.blueprint_support import (
    BLUEPRINT_FILES,
    BLUEPRINTS,
    BUNDLED,
    ROOT,
    config_dir_fixture,  # noqa: F401  (autouse fixture)
)

EXPECTED = {
    "daily_checkin.yaml",
    "doctor_alert.yaml",
    "emergency_escalation.yaml",
    "family_alert.yaml",
    "measurement_reminder.yaml",
    "medication_reminder.yaml",
}
SOURCE = "https://github.com/smart-care/smart-care/blob/main/blueprints/automation/smart_care/"
RAW = (
    "https://raw.githubusercontent.com/smart-care/smart-care/main/blueprints/automation/smart_care/"
)


def test_the_blueprints_are_all_there() -> None:
    assert set(BLUEPRINT_FILES) == EXPECTED


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found = [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _walk(value, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_valid_automation_blueprint(name: str) -> None:
    data = load_yaml(BLUEPRINTS / name)
    blueprint = Blueprint(data, expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA)
    meta = blueprint.metadata
    assert meta["name"].startswith("Smart Care – ")
    assert len(meta["description"]) > 200
    assert meta["source_url"] == SOURCE + name
    assert meta["homeassistant"] == {"min_version": "2025.4.0"}
    assert blueprint.validate() is None  # this HA is new enough
    for key, spec in blueprint.inputs.items():
        assert spec["name"], key
        assert "selector" in spec, key
    # The current form: triggers/conditions/actions, `trigger:` and `action:` keys only.
    assert {"triggers", "actions"} <= set(data)
    assert not {"trigger", "condition", "action"} & set(data)
    for where, node in _walk({k: v for k, v in data.items() if k != "blueprint"}):
        if isinstance(node, dict):
            assert "platform" not in node, where
            assert "service" not in node, where
            assert "service_template" not in node, where
    # Every selector-less default that is a template is still a string HA can render.
    assert blueprint.yaml()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_copy_is_identical(name: str) -> None:
    assert (BUNDLED / name).read_bytes() == (BLUEPRINTS / name).read_bytes()


def test_no_other_bundled_files() -> None:
    assert {p.name for p in BUNDLED.iterdir()} == EXPECTED


def test_docs_have_an_import_link_per_blueprint() -> None:
    docs = (ROOT / "docs" / "blueprints.md").read_text(encoding="utf-8")
    for name in EXPECTED:
        url = quote(RAW + name, safe="")
        assert (
            f"https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url={url}" in docs
        )


async def test_install_repair_and_service(
    hass: HomeAssistant,
    household_entry: MockConfigEntry,
    config_dir: Path,
    hass_client: Any,
    hass_admin_user: MockUser,
    hass_read_only_user: MockUser,
) -> None:
    target = config_dir / "blueprints" / "automation" / "smart_care"
    target.mkdir(parents=True)
    edited = b"# my own version\n" + (BLUEPRINTS / "family_alert.yaml").read_bytes()
    (target / "family_alert.yaml").write_bytes(edited)

    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "install_blueprints")
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "blueprints": ", ".join(sorted(EXPECTED - {"family_alert.yaml"})),
        "folder": "blueprints/automation/smart_care",
    }

    # The repair: one confirmation, then the missing ones are copied; edits are kept.
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": "install_blueprints"}
    )
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    assert flow["description_placeholders"]["folder"] == "blueprints/automation/smart_care"
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"
    assert {p.name for p in target.iterdir()} == EXPECTED
    assert (target / "family_alert.yaml").read_bytes() == edited
    assert ir.async_get(hass).async_get_issue(DOMAIN, "install_blueprints") is None

    # Home Assistant's own blueprint loader reads every installed file.
    assert await async_setup_component(hass, "automation", {})
    from homeassistant.components.automation.helpers import async_get_blueprints

    loaded = await async_get_blueprints(hass).async_get_blueprints()
    assert {
        path.removeprefix("smart_care/") for path in loaded if path.startswith("smart_care/")
    } == EXPECTED
    assert all(isinstance(bp, Blueprint) for bp in loaded.values())

    # The service: admins only; keeps user files unless asked to overwrite.
    async def install(user: MockUser, **data: Any) -> Any:
        return await hass.services.async_call(
            DOMAIN,
            "install_blueprints",
            data,
            blocking=True,
            return_response=True,
            context=Context(user_id=user.id),
        )

    with pytest.raises(Unauthorized):
        await install(hass_read_only_user)
    response = await install(hass_admin_user)
    assert response["installed"] == []
    assert response["kept"] == ["family_alert.yaml"]
    response = await install(hass_admin_user, overwrite=True)
    assert response["installed"] == ["family_alert.yaml"]
    assert (target / "family_alert.yaml").read_bytes() == (
        BUNDLED / "family_alert.yaml"
    ).read_bytes()

    # Nothing missing any more: a restart raises no issue.
    assert await hass.config_entries.async_reload(household_entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, "install_blueprints") is None
