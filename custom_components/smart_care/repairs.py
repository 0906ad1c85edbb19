"""Repairs: give a reading that could not be attributed to the right person."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir, selector
import voluptuous as vol

from .blueprint_install import InstallBlueprintsFlow
from .clinic.bridge import get_bridge
from .clinic.flow import ClinicReauthFlow
from .const import DOMAIN, ISSUE_CLINIC_AUTH, ISSUE_INSTALL_BLUEPRINTS
from .household.repairs import HouseholdRepairFlow

if TYPE_CHECKING:
    from .household.repairs import RepairsFlowResult
    from .household.runtime import Household

CONF_PERSON = "person"


class AssignReadingFlow(HouseholdRepairFlow):
    """Ask which person a held reading belongs to."""

    def __init__(self, reading_id: str) -> None:
        """Remember the reading."""
        self.reading_id = reading_id

    async def async_confirm(
        self, household: Household, user_input: dict[str, Any] | None
    ) -> RepairsFlowResult:
        """Pick the person; the reading keeps its original time."""
        if not household.people:
            return self.async_abort(reason=self.gone_reason)
        if user_input is not None:
            person = household.people.get(user_input[CONF_PERSON])
            if person is not None:
                try:
                    await household.async_assign(self.reading_id, person)
                except KeyError:
                    return self.async_abort(reason="reading_gone")
                return self.async_create_entry(data={})
        options = [
            selector.SelectOptionDict(value=p.person_id, label=p.alias)
            for p in household.people.values()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_PERSON): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options)
                )
            }
        )
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        placeholders = dict(issue.translation_placeholders or {}) if issue else {}
        return self.async_show_form(
            step_id="confirm", data_schema=schema, description_placeholders=placeholders
        )


class QuarantineFlow(RepairsFlow):
    """A reading or item the clinic refused: send it again, or discard it (audited)."""

    def __init__(self, link_id: str, qid: int) -> None:
        """Remember which quarantined entry."""
        self.link_id = link_id
        self.qid = qid

    def _placeholders(self) -> dict[str, str]:
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        return dict(issue.translation_placeholders or {}) if issue else {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Offer the two choices."""
        return self.async_show_menu(
            step_id="init",
            menu_options=["retry", "discard"],
            description_placeholders=self._placeholders(),
        )

    async def _release(self, retry: bool) -> RepairsFlowResult:
        bridge = get_bridge(self.hass)
        link = bridge.links.get(self.link_id) if bridge else None
        if link is None:
            return self.async_abort(reason="household_not_loaded")
        if not await link.async_release(self.qid, retry=retry):
            return self.async_abort(reason="quarantine_gone")
        return self.async_create_entry(data={})

    async def async_step_retry(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Queue it again (e.g. after the clinic changed its server)."""
        return await self._release(True)

    async def async_step_discard(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Confirm, then drop it from the clinic outbox (it stays in the home record)."""
        if user_input is None:
            return self.async_show_form(
                step_id="discard", description_placeholders=self._placeholders()
            )
        return await self._release(False)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the flow for a held reading."""
    if issue_id == ISSUE_INSTALL_BLUEPRINTS:
        return InstallBlueprintsFlow()
    assert data is not None
    if issue_id.startswith(ISSUE_CLINIC_AUTH.format("")):
        return ClinicReauthFlow(str(data["subentry_id"]))
    if "qid" in data:
        return QuarantineFlow(str(data["link_id"]), int(str(data["qid"])))
    return AssignReadingFlow(str(data["reading_id"]))
