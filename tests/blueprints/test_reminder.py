"""measurement_reminder.yaml in a real HA: reminded unless the record has a recent reading."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN
from tests.conftest import add_person
from tests.support.blueprint_support import (
    PhoneFactory,
    at,
    config_dir_fixture,  # noqa: F401  (autouse fixture)
    phone_factory_fixture,  # noqa: F401  (fixture)
    record,
    settle,
    setup_blueprint_automations,
)

BLUEPRINT = "measurement_reminder.yaml"
SENSOR = "sensor.grandma_systolic_blood_pressure"


async def test_reminder_skipped_when_measured_and_sent_when_not(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to("2025-04-15 06:00:00-07:00")  # a Tuesday
    await add_person(hass, loaded_household, alias="Grandma")
    tablet = await phone_factory("Grandma's iPad")
    await setup_blueprint_automations(
        hass,
        BLUEPRINT,
        {
            "vital_sensor": SENSOR,
            "reminder_time": "08:00:00",
            "weekdays": ["mon", "tue", "wed", "fri", "sat", "sun"],  # not on Thursdays
            "skip_hours": 12,
            "phones": [tablet.device_id],
        },
    )

    # Tuesday: measured at 06:30, so no reminder at 08:00.
    await at(hass, freezer, "2025-04-15 06:30:00-07:00")
    await record(hass, systolic=150, diastolic=85)
    await at(hass, freezer, "2025-04-15 08:00:00-07:00")
    assert tablet.pushes == []

    # Wednesday 07:59 someone acknowledges the blood pressure alert. That is not a
    # measurement: the sensor is not rewritten (its value did not change) and the reminder
    # goes.
    await at(hass, freezer, "2025-04-16 07:59:00-07:00")
    response = await hass.services.async_call(
        DOMAIN, "get_alerts", {}, blocking=True, return_response=True
    )
    assert response is not None
    alert_id = response["alerts"][0]["alert_id"]  # type: ignore[index]
    await hass.services.async_call(
        DOMAIN, "acknowledge_alert", {"alert_id": alert_id}, blocking=True
    )
    await settle(hass)
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.last_reported == dt_util.parse_datetime("2025-04-15 06:30:00-07:00")
    await at(hass, freezer, "2025-04-16 08:00:00-07:00")
    (push,) = tablet.take()
    assert push["title"] == "Grandma: time to measure"
    assert push["message"] == "Please take your systolic blood pressure reading now."
    assert push["data"] == {
        "tag": "smart_care_reminder_sensor_grandma_systolic_blood_pressure",
        "group": "smart_care",
    }

    # Thursday is not a reminder day.
    await at(hass, freezer, "2025-04-17 08:00:00-07:00")
    assert tablet.pushes == []
    # Friday: the same value measured again at 07:00 (the sensor state does not change)
    # still counts as a reading.
    await at(hass, freezer, "2025-04-18 07:00:00-07:00")
    await record(hass, systolic=150, diastolic=85)
    await at(hass, freezer, "2025-04-18 08:00:00-07:00")
    assert tablet.pushes == []


async def test_get_last_measurement(
    hass: HomeAssistant, loaded_household: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2025-04-15 06:00:00-07:00")
    await add_person(hass, loaded_household, alias="Grandma")

    async def last(entity_id: str) -> Any:
        return await hass.services.async_call(
            DOMAIN,
            "get_last_measurement",
            {"entity_id": entity_id},
            blocking=True,
            return_response=True,
        )

    assert await last(SENSOR) == {"vital": "systolic_bp", "time": None, "value": None, "unit": None}
    await record(hass, systolic=128, diastolic=82)
    when = datetime.fromisoformat("2025-04-15T06:00:00-07:00")
    assert await last(SENSOR) == {
        "vital": "systolic_bp",
        "time": when.astimezone(dt_util.UTC).isoformat(),
        "value": 128.0,
        "unit": "mmHg",
    }
    response = await last("sensor.grandma_last_measurement")
    assert response["vital"] is None
    assert datetime.fromisoformat(response["time"]) == when
    for entity_id in ("sensor.grandma_health_status", "binary_sensor.grandma_vital_signs_abnormal"):
        with pytest.raises(ServiceValidationError) as err:
            await last(entity_id)
        assert err.value.translation_key == "not_a_measurement_sensor"
