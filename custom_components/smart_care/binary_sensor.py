"""Binary sensors: abnormal vital signs and overdue measurements, per person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined,unused-ignore]
    BinarySensorDeviceClass,  # re-exported, not listed as exported on HA 2026
    BinarySensorEntity,
    BinarySensorEntityDescription,
)

from .care.alerts import Alert
from .const import SIGNAL_ALERTS_UPDATED
from .core.clinical.assessment import FindingKind, Level
from .entity import SmartCarePersonEntity, person_platform

PARALLEL_UPDATES = 0

_VITAL_KINDS = {FindingKind.THRESHOLD.value, FindingKind.NEWS2.value, FindingKind.TREND.value}


@dataclass(frozen=True, kw_only=True)
class AlertBinarySensorDescription(BinarySensorEntityDescription):
    """On while the person has a matching unresolved alert."""

    matches: Callable[[Alert], bool]


BINARY_SENSORS: tuple[AlertBinarySensorDescription, ...] = (
    AlertBinarySensorDescription(
        key="vital_signs_abnormal",
        translation_key="vital_signs_abnormal",
        device_class=BinarySensorDeviceClass.PROBLEM,
        matches=lambda a: a.kind in _VITAL_KINDS and Level(a.severity) >= Level.WARNING,
    ),
    AlertBinarySensorDescription(
        key="measurement_overdue",
        translation_key="measurement_overdue",
        device_class=BinarySensorDeviceClass.PROBLEM,
        matches=lambda a: a.kind == FindingKind.STALE.value,
    ),
)


# Two problem sensors per person.
async_setup_entry = person_platform(
    lambda data, person: [AlertBinarySensor(data, person, d) for d in BINARY_SENSORS]
)


class AlertBinarySensor(SmartCarePersonEntity, BinarySensorEntity):
    """A problem sensor driven by the person's unresolved alerts."""

    entity_description: AlertBinarySensorDescription
    # Only the person's alerts change what it shows.
    _follows = (SIGNAL_ALERTS_UPDATED,)

    @property
    def is_on(self) -> bool:
        """True while a matching alert is unresolved."""
        return any(
            self.entity_description.matches(alert)
            for alert in self.data.alerts.active_alerts(self.person.person_id)
        )

    @property
    def extra_state_attributes(self) -> dict[str, list[str]]:
        """Codes of the matching alerts (no personal data)."""
        return {
            "codes": [
                alert.code
                for alert in self.data.alerts.active_alerts(self.person.person_id)
                if self.entity_description.matches(alert)
            ]
        }
