"""The visit report for the clinics (glue): queued as a FHIR document through the outbox.

``care/report.py`` builds the report; this queues it for every link whose consent includes
the summary scope (the outbox turns it into a ``Composition`` document Bundle with
``core/fhir_report.py``). Handed to the report service by ``__init__``.
"""

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
