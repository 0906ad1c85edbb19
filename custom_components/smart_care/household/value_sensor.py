"""The description a sensor of one running object (a clinic link, a device) is built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription
from homeassistant.helpers.device_registry import DeviceInfo


@dataclass(frozen=True, kw_only=True)
class ValueSensorDescription[T](SensorEntityDescription):
    """A sensor showing ``value_fn(source)``, available while ``available_fn(source)``."""

    value_fn: Callable[[T], int | datetime | None]
    available_fn: Callable[[T], bool] = lambda source: True


class ValueSensor[T](SensorEntity):
    """A sensor showing one value of ``source``, as its description says."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: ValueSensorDescription[T]

    def __init__(
        self,
        source: T,
        description: ValueSensorDescription[T],
        unique_id: str,
        device_info: DeviceInfo,
    ) -> None:
        """Attach to ``source``'s device."""
        self.source, self.entity_description = source, description
        self._attr_unique_id, self._attr_device_info = unique_id, device_info

    @property
    def available(self) -> bool:
        """What ``available_fn`` says (a last known value stays available by default)."""
        return self.entity_description.available_fn(self.source)

    @property
    def native_value(self) -> int | datetime | None:
        """Current value."""
        return self.entity_description.value_fn(self.source)
