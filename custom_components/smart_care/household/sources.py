"""Readings from other Home Assistant sensors (e.g. a Withings weight, an ESPHome SpO2)."""

from __future__ import annotations

from collections.abc import Callable
import logging
from typing import TYPE_CHECKING

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Context, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util.unit_conversion import (
    BaseUnitConverter,
    BloodGlucoseConcentrationConverter,
    DistanceConverter,
    MassConverter,
    PressureConverter,
    TemperatureConverter,
)

from ..core.clinical.plausibility import ImplausibleValueError
from ..core.clinical.vitals import CANONICAL_UNIT, Vital, VitalSample

if TYPE_CHECKING:
    from .runtime import Household, Person

_LOGGER = logging.getLogger(__name__)

# Vitals whose sensors may use another unit, and HA's converter for them.
CONVERTERS: dict[Vital, type[BaseUnitConverter]] = {
    Vital.SYSTOLIC_BP: PressureConverter,
    Vital.DIASTOLIC_BP: PressureConverter,
    Vital.TEMPERATURE: TemperatureConverter,
    Vital.WEIGHT: MassConverter,
    Vital.HEIGHT: DistanceConverter,
    Vital.GLUCOSE: BloodGlucoseConcentrationConverter,
}
# HA spells a few canonical units differently.
HA_UNIT = {"°C": "°C", "kg": "kg", "cm": "cm", "mmHg": "mmHg", "mmol/L": "mmol/L"}


def to_canonical(vital: Vital, value: float, unit: str | None) -> float:
    """Convert a sensor value to the vital's canonical unit (ValueError if impossible)."""
    converter = CONVERTERS.get(vital)
    target = CANONICAL_UNIT[vital]
    if converter is None or unit in (None, target):
        return value
    if unit not in converter.VALID_UNITS:
        raise ValueError(f"unit {unit!r} cannot be converted to {target}")
    return converter.convert(value, unit, HA_UNIT[target])


@callback
def async_track_sources(hass: HomeAssistant, household: Household) -> Callable[[], None]:
    """Follow every person's mapped sensors; return a function that stops."""
    by_entity: dict[str, list[tuple[Person, Vital]]] = {}
    for person in household.people.values():
        for vital_key, entity_id in person.sources.items():
            by_entity.setdefault(entity_id, []).append((person, Vital(vital_key)))
    if not by_entity:
        return lambda: None

    async def _changed(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE, ""):
            return
        for person, vital in by_entity.get(event.data["entity_id"], []):
            try:
                value = to_canonical(
                    vital, float(state.state), state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
                )
                await household.async_record(
                    person,
                    [VitalSample(vital, round(value, 3), state.last_updated)],
                    f"sensor:{event.data['entity_id']}",
                    # Caused by the sensor's change: the logbook links the two.
                    context=Context(parent_id=event.context.id),
                )
            except (ValueError, ImplausibleValueError) as err:
                _LOGGER.warning(
                    "Ignored a %s value from %s: %s", vital.value, event.data["entity_id"], err
                )

    return async_track_state_change_event(hass, list(by_entity), _changed)
