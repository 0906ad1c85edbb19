"""The start every Smart Care repairs flow shares: one "confirm" form on the loaded household."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import RepairsFlow

from .runtime import get_household

if TYPE_CHECKING:
    # HA 2026 (the only HA on Python 3.14 we support) types repairs flows with their own result.
    if sys.version_info >= (3, 14):
        from homeassistant.components.repairs import RepairsFlowResult
    else:
        from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult

    from .runtime import Household

__all__ = ["HouseholdRepairFlow", "RepairsFlowResult"]


class HouseholdRepairFlow(RepairsFlow):
    """A repair answered in one "confirm" form, while the household is loaded."""

    # Why the flow stops when the household (or what the repair is about) is gone.
    gone_reason = "household_not_loaded"

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start (the repairs manager passes the issue, not a form, here)."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Show or answer the form."""
        household = get_household(self.hass)
        if household is None:
            return self.async_abort(reason=self.gone_reason)
        return await self.async_confirm(household, user_input)

    async def async_confirm(
        self, household: Household, user_input: dict[str, Any] | None
    ) -> RepairsFlowResult:
        """The repair's own form and answer."""
        raise NotImplementedError
