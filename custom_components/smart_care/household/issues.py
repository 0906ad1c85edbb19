"""The one way Smart Care raises a repair issue: its domain, not persistent unless asked."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from ..const import DOMAIN


@callback
def async_raise_issue(
    hass: HomeAssistant,
    issue_id: str,
    translation_key: str,
    placeholders: dict[str, str] | None = None,
    *,
    severity: ir.IssueSeverity = ir.IssueSeverity.WARNING,
    fixable: bool = False,
    persistent: bool = False,
    data: dict[str, str | int | float | None] | None = None,
) -> None:
    """Create or update a Smart Care repair issue (kept until fixed or deleted)."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=fixable,
        is_persistent=persistent,
        severity=severity,
        translation_key=translation_key,
        translation_placeholders=placeholders,
        data=data,
    )
