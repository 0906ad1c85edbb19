"""Offer the bundled automation blueprints to the user's configuration (HA glue).

Notes: docs/modules.md (blueprint_install.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from pathlib import Path
import shutil
from typing import TYPE_CHECKING, Any, cast

from homeassistant.components.repairs import ConfirmRepairFlow
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers import config_validation as cv, issue_registry as ir
from homeassistant.util.json import JsonValueType
import voluptuous as vol

from .const import DOMAIN, ISSUE_INSTALL_BLUEPRINTS
from .household.issues import async_raise_issue

if TYPE_CHECKING:
    from .household.repairs import RepairsFlowResult

_LOGGER = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).parent / "blueprints"
TARGET_PARTS = ("blueprints", "automation", DOMAIN)
SERVICE_INSTALL_BLUEPRINTS = "install_blueprints"
ATTR_OVERWRITE = "overwrite"

INSTALL_SCHEMA = vol.Schema({vol.Optional(ATTR_OVERWRITE, default=False): cv.boolean})


@dataclass(slots=True)
class InstallResult:
    """File names installed (new or replaced), and user files left as they are."""

    installed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def target_dir(hass: HomeAssistant) -> Path:
    """Where Home Assistant looks for this integration's automation blueprints."""
    return Path(hass.config.path(*TARGET_PARTS))


def bundled_names() -> list[str]:
    """The bundled blueprint file names (blocking: reads the directory)."""
    return sorted(p.name for p in BUNDLED_DIR.glob("*.yaml"))


def missing_blueprints(target: Path) -> list[str]:
    """Bundled blueprints not present in ``target`` (blocking)."""
    return [name for name in bundled_names() if not (target / name).exists()]


def install_blueprints(target: Path, overwrite: bool = False) -> InstallResult:
    """Copy the bundled blueprints into ``target`` (blocking)."""
    result = InstallResult()
    target.mkdir(parents=True, exist_ok=True)
    for name in bundled_names():
        source, dest = BUNDLED_DIR / name, target / name
        if dest.exists():
            if dest.read_bytes() == source.read_bytes():
                continue
            if not overwrite:
                result.kept.append(name)
                continue
            result.replaced.append(name)
        # Copy to a temporary name first: HA must never read a half-written blueprint.
        partial = dest.with_name(f".{name}.partial")
        shutil.copyfile(source, partial)
        partial.replace(dest)
        result.installed.append(name)
    return result


async def async_install_blueprints(hass: HomeAssistant, overwrite: bool = False) -> InstallResult:
    """Install the bundled blueprints; refresh automations that use a replaced one."""
    result = await hass.async_add_executor_job(install_blueprints, target_dir(hass), overwrite)
    if result.installed:
        _LOGGER.info("Installed Smart Care blueprints: %s", ", ".join(result.installed))
        ir.async_delete_issue(hass, DOMAIN, ISSUE_INSTALL_BLUEPRINTS)
    if result.replaced and "automation" in hass.config.components:
        # pylint: disable-next=import-outside-toplevel
        from homeassistant.components.automation import automations_with_blueprint
        from homeassistant.components.automation.helpers import async_get_blueprints

        await async_get_blueprints(hass).async_reset_cache()
        if any(automations_with_blueprint(hass, f"{DOMAIN}/{n}") for n in result.replaced):
            await hass.services.async_call("automation", "reload", blocking=True)
    return result


async def async_check_blueprints(hass: HomeAssistant) -> None:
    """Raise the install repair when bundled blueprints are missing from the config."""
    missing = await hass.async_add_executor_job(missing_blueprints, target_dir(hass))
    if not missing:
        ir.async_delete_issue(hass, DOMAIN, ISSUE_INSTALL_BLUEPRINTS)
        return
    async_raise_issue(
        hass,
        ISSUE_INSTALL_BLUEPRINTS,
        ISSUE_INSTALL_BLUEPRINTS,
        {
            "blueprints": ", ".join(missing),
            "folder": "/".join(TARGET_PARTS),
        },
        fixable=True,
    )


class InstallBlueprintsFlow(ConfirmRepairFlow):
    """Confirm, then copy the missing blueprints (user files are never replaced)."""

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Install on confirmation."""
        if user_input is not None:
            await async_install_blueprints(self.hass)
            return self.async_create_entry(data={})
        return await super().async_step_confirm()


async def _async_install_service(call: ServiceCall) -> ServiceResponse:
    # Writes into the configuration directory: administrators only.
    if call.context.user_id:
        user = await call.hass.auth.async_get_user(call.context.user_id)
        if user is None or not user.is_admin:
            raise Unauthorized(context=call.context, permission="admin")
    result = await async_install_blueprints(call.hass, call.data[ATTR_OVERWRITE])
    response: dict[str, Any] = {
        "installed": result.installed,
        "kept": result.kept,
        "folder": str(target_dir(call.hass)),
    }
    return cast(dict[str, JsonValueType], response)


@callback
def async_setup_blueprint_services(hass: HomeAssistant) -> None:
    """Register ``smart_care.install_blueprints`` (admin)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_INSTALL_BLUEPRINTS,
        _async_install_service,
        schema=INSTALL_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
