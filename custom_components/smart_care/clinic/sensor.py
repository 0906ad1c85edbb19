"""Sensors of a clinic link: what waits to be delivered, and when delivery last worked."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..const import DOMAIN, SIGNAL_CLINIC_UPDATED
from ..household.value_sensor import ValueSensor, ValueSensorDescription
from .bridge import ClinicBridge, ClinicLink

ClinicSensorDescription = ValueSensorDescription[ClinicLink]

CLINIC_SENSORS: tuple[ClinicSensorDescription, ...] = (
    ClinicSensorDescription(
        key="pending",
        translation_key="clinic_pending",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda link: link.pending,
    ),
    ClinicSensorDescription(
        key="last_sync",
        translation_key="clinic_last_sync",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda link: link.last_success,
    ),
)


def async_setup_clinic_sensors(
    bridge: ClinicBridge | None, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add each clinic link's sensors, attached to the link's subentry."""
    if bridge is None:
        return
    for link in bridge.links.values():
        async_add_entities(
            [ClinicSensor(link, description) for description in CLINIC_SENSORS],
            config_subentry_id=link.config.subentry_id,
        )


class ClinicSensor(ValueSensor[ClinicLink]):
    """One delivery value of a clinic link, on the link's device."""

    def __init__(self, link: ClinicLink, description: ClinicSensorDescription) -> None:
        """Attach to the link's device."""
        super().__init__(
            link,
            description,
            f"clinic_{link.link_id}_{description.key}",
            DeviceInfo(
                identifiers={(DOMAIN, f"clinic_{link.link_id}")},
                name=link.config.name,
                manufacturer="Smart Care",
                model="Clinic link (FHIR R4)",
                entry_type=DeviceEntryType.SERVICE,
            ),
        )

    async def async_added_to_hass(self) -> None:
        """Follow the link's delivery state."""
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, SIGNAL_CLINIC_UPDATED.format(self.source.link_id), self._updated
            )
        )

    @callback
    def _updated(self) -> None:
        self.async_write_ha_state()
