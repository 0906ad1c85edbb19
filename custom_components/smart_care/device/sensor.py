"""Sensors of a Bluetooth health device: battery, signal strength, last reading.

Notes: docs/modules.md (device/sensor.py).
"""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import PERCENTAGE, SIGNAL_STRENGTH_DECIBELS_MILLIWATT, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..household.value_sensor import ValueSensor, ValueSensorDescription
from .runtime import DeviceConfigEntry, DeviceRuntime

DeviceSensorDescription = ValueSensorDescription[DeviceRuntime]

DEVICE_SENSORS: tuple[DeviceSensorDescription, ...] = (
    DeviceSensorDescription(
        key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime: runtime.battery,
    ),
    DeviceSensorDescription(
        key="signal_strength",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda runtime: runtime.rssi,
        # Only meaningful while the device advertises.
        available_fn=lambda runtime: runtime.present,
    ),
    DeviceSensorDescription(
        key="last_reading",
        translation_key="last_reading",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda runtime: runtime.last_reading,
    ),
)


async def async_setup_device_sensors(
    hass: HomeAssistant,
    entry: DeviceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The device's own sensors."""
    runtime = entry.runtime_data
    async_add_entities(DeviceSensor(runtime, description) for description in DEVICE_SENSORS)


class DeviceSensor(ValueSensor[DeviceRuntime]):
    """One value of a Bluetooth health device (signal strength only while it advertises)."""

    def __init__(self, runtime: DeviceRuntime, description: DeviceSensorDescription) -> None:
        """Attach to the device's registry entry (by its Bluetooth address)."""
        super().__init__(
            runtime,
            description,
            f"{runtime.address}_{description.key}",
            DeviceInfo(connections={(CONNECTION_BLUETOOTH, runtime.address)}, name=runtime.name),
        )

    async def async_added_to_hass(self) -> None:
        """Follow the device."""
        self.async_on_remove(self.source.async_add_listener(self.async_write_ha_state))
