"""The description a sensor of one running object (a clinic link, a device) is built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import SensorEntityDescription


@dataclass(frozen=True, kw_only=True)
class ValueSensorDescription[T](SensorEntityDescription):
    """A sensor showing ``value_fn(source)``, available while ``available_fn(source)``."""

    value_fn: Callable[[T], int | datetime | None]
    available_fn: Callable[[T], bool] = lambda source: True
