"""Sensors: a person's latest vital signs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    UnitOfBloodGlucoseConcentration,
    UnitOfLength,
    UnitOfMass,
    UnitOfPressure,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .clinic.sensor import async_setup_clinic_sensors
from .const import (
    CONF_ENTRY_TYPE,
    CONF_GLUCOSE_UNIT,
    ENTRY_TYPE_DEVICE,
    GLUCOSE_MMOL,
    SIGNAL_ALERTS_UPDATED,
    SIGNAL_KNOWLEDGE,
    SIGNAL_PERSON_UPDATED,
    SIGNAL_VITAL_UPDATED,
)
from .core.clinical.vitals import Vital
from .device.runtime import DeviceConfigEntry
from .device.sensor import async_setup_device_sensors
from .entity import SmartCarePersonEntity, async_add_person_entities
from .household.runtime import Person
from .types import SmartCareConfigEntry, SmartCareData

PARALLEL_UPDATES = 0

BPM = "bpm"
BREATHS_PER_MIN = "breaths/min"


@dataclass(frozen=True, kw_only=True)
class VitalSensorDescription(SensorEntityDescription):
    """A sensor showing the latest value of one vital."""

    vital: Vital


VITAL_SENSORS: tuple[VitalSensorDescription, ...] = (
    VitalSensorDescription(
        key="systolic_bp",
        translation_key="systolic_bp",
        vital=Vital.SYSTOLIC_BP,
        device_class=SensorDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.MMHG,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    VitalSensorDescription(
        key="diastolic_bp",
        translation_key="diastolic_bp",
        vital=Vital.DIASTOLIC_BP,
        device_class=SensorDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.MMHG,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    VitalSensorDescription(
        key="pulse",
        translation_key="pulse",
        vital=Vital.PULSE,
        native_unit_of_measurement=BPM,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    VitalSensorDescription(
        key="heart_rate",
        translation_key="heart_rate",
        vital=Vital.HEART_RATE,
        native_unit_of_measurement=BPM,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    VitalSensorDescription(
        key="spo2",
        translation_key="spo2",
        vital=Vital.SPO2,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    VitalSensorDescription(
        key="respiration_rate",
        translation_key="respiration_rate",
        vital=Vital.RESPIRATION_RATE,
        native_unit_of_measurement=BREATHS_PER_MIN,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    VitalSensorDescription(
        key="temperature",
        translation_key="temperature",
        vital=Vital.TEMPERATURE,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
    VitalSensorDescription(
        key="weight",
        translation_key="weight",
        vital=Vital.WEIGHT,
        device_class=SensorDeviceClass.WEIGHT,
        native_unit_of_measurement=UnitOfMass.KILOGRAMS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
    VitalSensorDescription(
        key="height",
        translation_key="height",
        vital=Vital.HEIGHT,
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.CENTIMETERS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
    ),
    VitalSensorDescription(
        key="bmi",
        translation_key="bmi",
        vital=Vital.BMI,
        native_unit_of_measurement="kg/m²",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
    VitalSensorDescription(
        key="body_fat",
        translation_key="body_fat",
        vital=Vital.BODY_FAT,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
    ),
    VitalSensorDescription(
        key="glucose",
        translation_key="glucose",
        vital=Vital.GLUCOSE,
        device_class=SensorDeviceClass.BLOOD_GLUCOSE_CONCENTRATION,
        native_unit_of_measurement=UnitOfBloodGlucoseConcentration.MILLIMOLE_PER_LITER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
)


HEALTH_STATUS_OPTIONS = ["normal", "info", "warning", "urgent", "critical"]


@dataclass(frozen=True, kw_only=True)
class PersonSensorDescription(SensorEntityDescription):
    """A sensor computed from the person's record and alerts."""

    value_fn: Callable[[SmartCareData, Person], StateType | datetime]
    attrs_fn: Callable[[SmartCareData, Person], dict[str, Any]] | None = None
    # The signals whose news can change what it shows (each reading sends some).
    follows: tuple[str, ...]


def _news2_attrs(data: SmartCareData, person: Person) -> dict[str, Any]:
    result = data.alerts.news2.get(person.person_id)
    if result is None:
        return {}
    return {
        "complete": result.complete,
        # Translated in the UI: says in words whether some signs were not measured.
        "completeness": "complete" if result.complete else "partial",
        "label": result.label,
        "risk": None if result.risk is None else str(result.risk),
        "partial_risk": str(result.partial_risk),
        "max_possible_total": result.max_possible_total,
        "missing": list(result.missing),
        "scores": dict(result.scores),
    }


def _news2_value(data: SmartCareData, person: Person) -> int | None:
    result = data.alerts.news2.get(person.person_id)
    if result is None or not result.scores:
        return None
    # Home devices rarely give all seven parameters: the known part is shown, and the
    # attributes say whether it is complete and what is missing.
    return result.partial_total


def _health_status(data: SmartCareData, person: Person) -> str:
    level = data.alerts.highest_level(person.person_id)
    return "normal" if level is None else str(level)


def _alert_list(data: SmartCareData, person: Person) -> dict[str, Any]:
    return {
        "alerts": [
            {
                "alert_id": a.alert_id,
                "code": a.code,
                "severity": a.severity,
                "status": a.status,
                # The family's text in the system language (both shipped languages below).
                "message": a.message_in(data.household.hass.config.language),
                "messages": dict(a.messages),
                "time": a.time,
            }
            for a in data.alerts.active_alerts(person.person_id)
        ]
    }


def _advice_title(data: SmartCareData, person: Person) -> str | None:
    delivered = data.knowledge.latest.get(person.person_id)
    if delivered is None:
        return None
    return delivered.note.render(data.household.hass.config.language)[0]


def _advice_attrs(data: SmartCareData, person: Person) -> dict[str, Any]:
    delivered = data.knowledge.latest.get(person.person_id)
    if delivered is None:
        return {}
    language = data.household.hass.config.language
    text = delivered.note.text.get(language, delivered.note.text["en"])
    return {
        "topic": delivered.note.topic,
        "text": text,
        "source": delivered.note.source,
        "time": delivered.time.isoformat(),
    }


PERSON_SENSORS: tuple[PersonSensorDescription, ...] = (
    PersonSensorDescription(
        key="last_measurement",
        translation_key="last_measurement",
        follows=(SIGNAL_PERSON_UPDATED,),
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data, person: person.last_measurement,
    ),
    PersonSensorDescription(
        key="early_warning_score",
        translation_key="early_warning_score",
        follows=(SIGNAL_ALERTS_UPDATED,),  # NEWS2 is the alert manager's
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_news2_value,
        attrs_fn=_news2_attrs,
    ),
    PersonSensorDescription(
        key="health_advice",
        translation_key="health_advice",
        follows=(SIGNAL_KNOWLEDGE,),
        value_fn=_advice_title,
        attrs_fn=_advice_attrs,
    ),
    PersonSensorDescription(
        key="health_status",
        translation_key="health_status",
        follows=(SIGNAL_ALERTS_UPDATED,),
        device_class=SensorDeviceClass.ENUM,
        options=HEALTH_STATUS_OPTIONS,
        value_fn=_health_status,
        attrs_fn=_alert_list,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmartCareConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One set of sensors per person, each attached to the person's subentry."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_DEVICE:
        await async_setup_device_sensors(hass, cast(DeviceConfigEntry, entry), async_add_entities)
        return
    data = entry.runtime_data
    glucose_unit = entry.options.get(CONF_GLUCOSE_UNIT, GLUCOSE_MMOL)

    def _entities(person: Person) -> list[SensorEntity]:
        entities: list[SensorEntity] = [
            VitalSensor(data, person, description, glucose_unit) for description in VITAL_SENSORS
        ]
        entities.extend(PersonSensor(data, person, description) for description in PERSON_SENSORS)
        return entities

    async_add_person_entities(hass, entry, async_add_entities, _entities)
    async_setup_clinic_sensors(data.clinic, async_add_entities)


class VitalSensor(SmartCarePersonEntity, SensorEntity):
    """Latest value of one vital sign."""

    entity_description: VitalSensorDescription

    def __init__(
        self,
        data: SmartCareData,
        person: Person,
        description: VitalSensorDescription,
        glucose_unit: str,
    ) -> None:
        """Show glucose in the household's unit; HA converts from mmol/L."""
        super().__init__(data, person, description)
        if description.vital is Vital.GLUCOSE:
            self._attr_suggested_unit_of_measurement = glucose_unit

    def _signals(self) -> Iterable[str]:
        """Only readings of its own vital change what it shows."""
        return (
            SIGNAL_VITAL_UPDATED.format(self.person.person_id, self.entity_description.vital.value),
        )

    @property
    def native_value(self) -> float | None:
        """Latest stored value."""
        latest = self.person.latest.get(self.entity_description.vital.value)
        return None if latest is None else latest.value


class PersonSensor(SmartCarePersonEntity, SensorEntity):
    """A value derived from the person's record."""

    entity_description: PersonSensorDescription

    def __init__(
        self, data: SmartCareData, person: Person, description: PersonSensorDescription
    ) -> None:
        """Follow only the signals that can change this value."""
        super().__init__(data, person, description)
        self._follows = description.follows

    @property
    def native_value(self) -> StateType | datetime:
        """Computed value."""
        return self.entity_description.value_fn(self.data, self.person)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details without personal data."""
        if self.entity_description.attrs_fn is None:
            return None
        return self.entity_description.attrs_fn(self.data, self.person)
