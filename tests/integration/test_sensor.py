"""Manual measurements reach the record and the person's sensors."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import DATA_DISPATCHER
from homeassistant.helpers.entity import Entity
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import (
    DOMAIN,
    EVENT_ALERT,
    EVENT_MEASUREMENT,
    SIGNAL_PERSON_UPDATED,
    SIGNAL_VITAL_UPDATED,
)
from custom_components.smart_care.core.clinical.vitals import Vital
from custom_components.smart_care.sensor import VITAL_SENSORS
from tests.conftest import add_person
from tests.support.device_lookup import find_device


async def _record(hass: HomeAssistant, **data: object) -> dict[str, object]:
    response = await hass.services.async_call(
        DOMAIN, "record_measurement", data, blocking=True, return_response=True
    )
    await hass.async_block_till_done()
    assert isinstance(response, dict)
    return response


async def test_record_blood_pressure(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    events: list[Event] = []
    hass.bus.async_listen(EVENT_MEASUREMENT, callback(lambda event: events.append(event)))
    response = await _record(hass, person="grandma", systolic=142, diastolic=91, pulse=77)
    assert response["stored"] == 3
    state = hass.states.get("sensor.grandma_systolic_blood_pressure")
    assert state is not None
    assert state.state == "142.0"
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "mmHg"
    assert state.attributes["state_class"] == "measurement"
    assert hass.states.get("sensor.grandma_diastolic_blood_pressure").state == "91.0"
    assert hass.states.get("sensor.grandma_pulse").state == "77.0"
    last = hass.states.get("sensor.grandma_last_measurement")
    assert last is not None
    assert last.state not in ("unknown", "unavailable")
    assert {e.data["vital"] for e in events} == {"systolic_bp", "diastolic_bp", "pulse"}
    assert all("Grandma" not in str(e.data) for e in events)


async def test_units_are_converted(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await _record(
        hass,
        person="Grandma",
        temperature=100.4,
        temperature_unit="°F",
        weight=154.32,
        weight_unit="lb",
        glucose=126,
        glucose_unit="mg/dL",
    )
    assert hass.states.get("sensor.grandma_body_temperature").state == "38.0"
    assert float(hass.states.get("sensor.grandma_weight").state) == pytest.approx(70.0, abs=0.01)
    glucose = hass.states.get("sensor.grandma_blood_glucose")
    assert glucose.attributes[ATTR_UNIT_OF_MEASUREMENT] == "mmol/L"
    assert float(glucose.state) == pytest.approx(7.0, abs=0.01)


async def test_glucose_shown_in_household_unit(
    hass: HomeAssistant, household_entry: MockConfigEntry
) -> None:
    household_entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        data={"entry_type": "household"},
        options={"glucose_unit": "mg/dL", "share_location_in_emergency": False},
    )
    household_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    await add_person(hass, household_entry, alias="Dad")
    await _record(hass, person="Dad", glucose=5.5)
    glucose = hass.states.get("sensor.dad_blood_glucose")
    assert glucose.attributes[ATTR_UNIT_OF_MEASUREMENT] == "mg/dL"
    assert float(glucose.state) == pytest.approx(99.1, abs=0.1)


async def test_record_by_device(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    person_id = loaded_household.subentries[grandma].data["person_id"]
    device = find_device(hass, identifier=(DOMAIN, person_id))
    assert device is not None
    await _record(hass, device_id=device.id, spo2=97)
    assert hass.states.get("sensor.grandma_oxygen_saturation").state == "97.0"


async def test_past_reading_goes_to_log_not_state(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await _record(hass, person="Grandma", weight=70)
    earlier = dt_util.now() - timedelta(days=2)
    response = await _record(hass, person="Grandma", weight=72, time=earlier.isoformat())
    assert response["stored"] == 1
    assert hass.states.get("sensor.grandma_weight").state == "70.0"
    person_id = loaded_household.subentries[grandma].data["person_id"]
    history = await hass.async_add_executor_job(
        loaded_household.runtime_data.household.store.history, person_id
    )
    assert [m.value for m in history] == [72.0, 70.0]


async def test_same_reading_twice_is_stored_once(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    when = (dt_util.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()
    first = await _record(hass, person="Grandma", spo2=96, time=when)
    second = await _record(hass, person="Grandma", spo2=96, time=when)
    assert (first["stored"], second["stored"], second["duplicates"]) == (1, 0, 1)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"person": "Grandma", "spo2": 101}, "implausible_spo2"),
        ({"person": "Grandma", "systolic": 80, "diastolic": 90}, "systolic_not_above_diastolic"),
        ({"person": "Grandma", "temperature": 60}, "implausible_temperature"),
        ({"person": "Grandma", "weight": -3}, "implausible_weight"),
        ({"person": "Grandma"}, "no_values"),
        ({"person": "Nobody", "spo2": 97}, "unknown_person"),
        ({"device_id": "not-a-device", "spo2": 97}, "unknown_person"),
        ({"spo2": 97}, "person_required"),
    ],
)
async def test_rejected_input_stores_nothing(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    data: dict[str, object],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _record(hass, **data)
    assert err.value.translation_key == key
    count = await hass.async_add_executor_job(loaded_household.runtime_data.household.store.count)
    assert count == 0
    assert hass.states.get("sensor.grandma_oxygen_saturation").state == "unknown"


async def test_implausible_value_rejects_whole_call(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    with pytest.raises(
        ServiceValidationError, match="101 % is not a plausible oxygen saturation value"
    ):
        await _record(hass, person="Grandma", pulse=70, spo2=101)
    assert hass.states.get("sensor.grandma_pulse").state == "unknown"


async def test_future_time_rejected(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    later = dt_util.now() + timedelta(hours=1)
    with pytest.raises(ServiceValidationError) as err:
        await _record(hass, person="Grandma", spo2=97, time=later.isoformat())
    assert err.value.translation_key == "time_in_future"


async def test_naive_time_is_local(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    naive = (dt_util.now() - timedelta(minutes=10)).replace(tzinfo=None, microsecond=0)
    response = await _record(hass, person="Grandma", spo2=95, time=naive.isoformat())
    assert response["time"] == naive.replace(tzinfo=dt_util.get_default_time_zone()).isoformat()


async def test_no_household(hass: HomeAssistant, household_entry: MockConfigEntry) -> None:
    household_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.config_entries.async_unload(household_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _record(hass, person="Grandma", spo2=97)
    assert err.value.translation_key == "no_household"


async def test_values_survive_restart(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await _record(hass, person="Grandma", systolic=128, diastolic=82)
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "128.0"


async def test_unchanged_entities_are_not_rewritten(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    """A reading rewrites the entities it changes, not every entity of the person."""
    await _record(hass, person="grandma", weight=61.5)
    reported: list[str] = []
    changed: list[str] = []
    hass.bus.async_listen(
        EVENT_STATE_REPORTED,
        callback(lambda event: reported.append(event.data["entity_id"])),
        event_filter=callback(lambda data: True),  # HA requires a filter for this event
    )
    hass.bus.async_listen(
        "state_changed", callback(lambda event: changed.append(event.data["entity_id"]))
    )
    await _record(hass, person="grandma", systolic=121, diastolic=79)
    assert "sensor.grandma_systolic_blood_pressure" in changed
    assert "sensor.grandma_diastolic_blood_pressure" in changed
    # The weight sensor shows what it showed: not even re-reported.
    assert "sensor.grandma_weight" not in changed
    assert "sensor.grandma_weight" not in reported
    assert hass.states.get("sensor.grandma_weight").state == "61.5"
    # Yet a change still reaches it.
    await _record(hass, person="grandma", weight=62.0)
    assert hass.states.get("sensor.grandma_weight").state == "62.0"


async def test_a_vital_sensor_is_told_of_its_own_vital_only(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    """A reading calls the sensors of its own vitals, not every vital sensor of the person
    (each of which used to be called only to find the reading was not its own)."""
    person_id = loaded_household.runtime_data.household.person_by_alias("Grandma").person_id

    def followers(signal: str) -> set[str]:
        return {
            target.__self__.entity_id
            for target in hass.data[DATA_DISPATCHER].get(signal, {})
            if isinstance(getattr(target, "__self__", None), Entity)
        }

    of_person = followers(SIGNAL_PERSON_UPDATED.format(person_id))
    assert "sensor.grandma_last_measurement" in of_person
    of_vital = {v: followers(SIGNAL_VITAL_UPDATED.format(person_id, v.value)) for v in Vital}
    assert of_vital[Vital.WEIGHT] == {"sensor.grandma_weight"}
    assert of_vital[Vital.SYSTOLIC_BP] == {"sensor.grandma_systolic_blood_pressure"}
    # Every enabled vital sensor on its own vital's signal, and only there.
    registry = er.async_get(hass)
    expected: dict[Vital, set[str]] = {v: set() for v in Vital}
    for description in VITAL_SENSORS:
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{person_id}_{description.key}")
        assert entity_id is not None
        if not registry.async_get(entity_id).disabled:  # a disabled entity follows nothing
            expected[description.vital].add(entity_id)
    assert of_vital == expected
    assert not set().union(*of_vital.values()) & of_person
    # The signals still bring each sensor its values.
    await _record(hass, person="grandma", weight=61.5, systolic=121, diastolic=79)
    assert hass.states.get("sensor.grandma_weight").state == "61.5"
    assert hass.states.get("sensor.grandma_diastolic_blood_pressure").state == "79.0"


async def test_each_person_sensor_follows_what_changes_it(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    """Person sensors follow only their own signals, and those still reach them."""
    alerts: list[Event] = []
    hass.bus.async_listen(EVENT_ALERT, callback(lambda event: alerts.append(event)))
    score = "sensor.grandma_early_warning_score"
    status = "sensor.grandma_health_status"
    abnormal = "binary_sensor.grandma_vital_signs_abnormal"
    await _record(hass, person="grandma", pulse=72)
    assert hass.states.get(score).state == "0"
    assert hass.states.get("sensor.grandma_last_measurement").state not in ("unknown", None)
    # NEWS2 changes without any alert changing: the score follows all the same.
    await _record(hass, person="grandma", pulse=95)
    assert alerts == []
    assert hass.states.get(score).state == "1"
    assert hass.states.get(status).state == "normal"
    assert hass.states.get(abnormal).state == "off"
    # An alert opens: the score, the status and the problem sensor follow it.
    await _record(hass, person="grandma", spo2=90)
    assert [event.data["action"] for event in alerts] != []
    assert hass.states.get(score).state == "4"
    assert hass.states.get(status).state != "normal"
    assert hass.states.get(abnormal).state == "on"
    # And back.
    await _record(hass, person="grandma", spo2=98, pulse=72)
    assert hass.states.get(score).state == "0"
    assert hass.states.get(status).state == "normal"
    assert hass.states.get(abnormal).state == "off"
