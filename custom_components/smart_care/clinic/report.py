"""The visit report for the clinics: queued as a FHIR document (docs/visit-report.md)."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant

from ..const import SCOPE_DAILY_SUMMARY
from ..core.outbox import KIND_REPORT
from .bridge import get_bridge


async def async_send_visit_report(
    hass: HomeAssistant, person_id: str, report: dict[str, Any]
) -> int:
    """Queue the report for every clinic with the summary scope; return how many."""
    bridge = get_bridge(hass)
    if bridge is None:
        return 0
    links = bridge.links_with(SCOPE_DAILY_SUMMARY)
    period = report["period"]
    # One document per person and period: a newer report of the same weeks replaces it.
    key = f"{person_id}|{period['start']}|{period['end']}"
    payload = {"person_id": person_id, "report": report}
    for link in links:
        await link.async_enqueue([(KIND_REPORT, key, person_id, payload)])
    return len(links)
