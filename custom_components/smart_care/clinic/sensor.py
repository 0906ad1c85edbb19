"""Sensors of a clinic link: what waits to be delivered, and when delivery last worked."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..const import DOMAIN, SIGNAL_CLINIC_UPDATED
from ..household.value_sensor import ValueSensorDescription
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


class ClinicSensor(SensorEntity):
    """One delivery value of a clinic link, on the link's device."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: ClinicSensorDescription

    def __init__(self, link: ClinicLink, description: ClinicSensorDescription) -> None:
        """Attach to the link's device."""
        self.link = link
        self.entity_description = description
        self._attr_unique_id = f"clinic_{link.link_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"clinic_{link.link_id}")},
            name=link.config.name,
            manufacturer="Smart Care",
            model="Clinic link (FHIR R4)",
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def native_value(self) -> int | datetime | None:
        """Current value."""
        return self.entity_description.value_fn(self.link)

    async def async_added_to_hass(self) -> None:
        """Follow the link's delivery state."""
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, SIGNAL_CLINIC_UPDATED.format(self.link.link_id), self._updated
            )
        )

    @callback
    def _updated(self) -> None:
        self.async_write_ha_state()
