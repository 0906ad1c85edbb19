"""Event entity: every change of a person's alerts, for automations and the logbook."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import Context, callback

from .care.alerts import Alert
from .entity import SmartCarePersonEntity, person_platform

PARALLEL_UPDATES = 0

ALERT_EVENT_TYPES = ["opened", "escalated", "acknowledged", "snoozed", "reopened", "resolved"]

DESCRIPTION = EventEntityDescription(
    key="alert", translation_key="alert", event_types=ALERT_EVENT_TYPES
)


# One alert event entity per person.
async_setup_entry = person_platform(
    lambda data, person: [AlertEventEntity(data, person, DESCRIPTION)]
)


class AlertEventEntity(SmartCarePersonEntity, EventEntity):
    """Fires on each alert change of the person."""

    async def async_added_to_hass(self) -> None:
        """Listen to the alert manager rather than to state refreshes."""
        self.async_on_remove(self.data.alerts.async_add_listener(self._on_alert))

    @callback
    def _on_alert(self, alert: Alert, action: str, context: Context | None) -> None:
        if alert.person_id != self.person.person_id or action not in ALERT_EVENT_TYPES:
            return
        if context is not None:
            self.async_set_context(context)
        self._trigger_event(
            action,
            {
                "alert_id": alert.alert_id,
                "code": alert.code,
                "severity": alert.severity,
                "kind": alert.kind,
                "vital": alert.vital,
                "value": alert.value,
                "unit": alert.unit,
                "threshold": alert.threshold,
                "message": alert.message,
                "status": alert.status,
            },
        )
        self.async_write_ha_state()
