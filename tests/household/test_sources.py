"""Readings from other HA sensors mapped to a person in the person's form."""

from __future__ import annotations

import logging

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.smart_care.const import DOMAIN, EVENT_ALERT, EVENT_MEASUREMENT
from custom_components.smart_care.core.clinical.vitals import Vital
from custom_components.smart_care.household.sources import to_canonical
from tests.conftest import add_person


@pytest.fixture
async def mapped(hass: HomeAssistant, loaded_household: MockConfigEntry) -> MockConfigEntry:
    hass.states.async_set("sensor.withings_weight", "70.0", {"unit_of_measurement": "kg"})
    result = await add_person(
        hass,
        loaded_household,
        alias="Grandma",
        sources={
            "weight": "sensor.withings_weight",
            "spo2": "sensor.esphome_spo2",
            "temperature": "sensor.ear_thermometer",
            "glucose": "sensor.cgm",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return loaded_household


async def test_sensor_values_reach_the_record(hass: HomeAssistant, mapped: MockConfigEntry) -> None:
    hass.states.async_set("sensor.withings_weight", "154.32", {"unit_of_measurement": "lb"})
    hass.states.async_set("sensor.esphome_spo2", "96", {"unit_of_measurement": "%"})
    hass.states.async_set("sensor.ear_thermometer", "100.4", {"unit_of_measurement": "°F"})
    hass.states.async_set("sensor.cgm", "126", {"unit_of_measurement": "mg/dL"})
    await hass.async_block_till_done()
    assert float(hass.states.get("sensor.grandma_weight").state) == pytest.approx(70.0, abs=0.01)
    assert hass.states.get("sensor.grandma_oxygen_saturation").state == "96.0"
    assert float(hass.states.get("sensor.grandma_body_temperature").state) == pytest.approx(38.0)
    assert float(hass.states.get("sensor.grandma_blood_glucose").state) == pytest.approx(
        7.0, abs=0.01
    )
    person_id = next(iter(mapped.runtime_data.household.people))
    history = await hass.async_add_executor_job(
        mapped.runtime_data.household.store.history, person_id
    )
    assert {m.source for m in history} >= {"sensor:sensor.withings_weight", "sensor:sensor.cgm"}


async def test_bad_sensor_values_are_ignored(
    hass: HomeAssistant, mapped: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    hass.states.async_set("sensor.esphome_spo2", "130", {"unit_of_measurement": "%"})
    hass.states.async_set("sensor.esphome_spo2", "unavailable")
    hass.states.async_set("sensor.esphome_spo2", "abc")
    hass.states.async_set("sensor.withings_weight", "70", {"unit_of_measurement": "m³"})
    await hass.async_block_till_done()
    assert hass.states.get("sensor.grandma_oxygen_saturation").state == "unknown"
    assert "Ignored a spo2 value from sensor.esphome_spo2" in caplog.text
    assert "cannot be converted" in caplog.text
    assert await hass.async_add_executor_job(mapped.runtime_data.household.store.count) == 0


async def test_own_sensor_cannot_be_a_source(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    result = await add_person(
        hass, loaded_household, alias="Grandpa", sources={"weight": "sensor.grandma_weight"}
    )
    assert result["errors"] == {"sources": "source_is_smart_care"}


def test_to_canonical() -> None:
    assert to_canonical(Vital.SYSTOLIC_BP, 16.0, "kPa") == pytest.approx(120.0, abs=0.1)
    assert to_canonical(Vital.SPO2, 97.0, "%") == 97.0
    assert to_canonical(Vital.WEIGHT, 70.0, None) == 70.0
    with pytest.raises(ValueError, match="cannot be converted"):
        to_canonical(Vital.WEIGHT, 70.0, "W")


async def test_a_reading_and_what_it_changes_share_one_context(
    hass: HomeAssistant, mapped: MockConfigEntry
) -> None:
    """The reading's events and states carry one context, caused by the sensor's change."""
    seen: list[Event] = []
    for event_type in (EVENT_MEASUREMENT, EVENT_ALERT, EVENT_STATE_CHANGED):
        hass.bus.async_listen(event_type, callback(lambda event: seen.append(event)))
    source = Context()
    hass.states.async_set(
        "sensor.ear_thermometer", "39.4", {"unit_of_measurement": "°C"}, context=source
    )
    await hass.async_block_till_done()
    ours = [e for e in seen if e.context is not source]
    measurement = next(e for e in ours if e.event_type == EVENT_MEASUREMENT)
    alert = next(e for e in ours if e.event_type == EVENT_ALERT)
    temperature = next(
        e for e in ours if e.data.get("entity_id") == "sensor.grandma_body_temperature"
    )
    problem = next(
        e for e in ours if e.data.get("entity_id") == "binary_sensor.grandma_vital_signs_abnormal"
    )
    context = measurement.context
    assert context.parent_id == source.id  # the logbook links the reading to the sensor
    assert alert.context is context
    assert temperature.context is context
    assert problem.context is context
    assert temperature.data["new_state"].context is context


async def test_a_recorded_measurement_carries_the_service_call_context(
    hass: HomeAssistant, mapped: MockConfigEntry, hass_admin_user: MockUser
) -> None:
    changed: list[Event] = []
    hass.bus.async_listen(EVENT_STATE_CHANGED, callback(lambda event: changed.append(event)))
    call = Context(user_id=hass_admin_user.id)
    await hass.services.async_call(
        DOMAIN,
        "record_measurement",
        {"person": "Grandma", "pulse": 64},
        blocking=True,
        context=call,
    )
    pulse = hass.states.get("sensor.grandma_pulse")
    assert pulse is not None
    assert pulse.state == "64.0"
    assert pulse.context is call  # "changed by" the user in the logbook
    assert [e.context for e in changed if e.data["entity_id"] == "sensor.grandma_pulse"] == [call]
