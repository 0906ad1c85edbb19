"""Backfilled readings go to long-term statistics, never to the current state."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.core.store.record_store import StoredMeasurement
from custom_components.smart_care.household.statistics import async_import_backfill
from tests.conftest import add_person


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder must start before hass is set up (it owns the database)."""


async def test_backfilled_hour_is_imported(
    hass: HomeAssistant, household_entry: MockConfigEntry
) -> None:
    household_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        household_entry, options={"glucose_unit": "mg/dL", "share_location_in_emergency": False}
    )
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    await add_person(hass, household_entry, alias="Grandma")
    now = dt_util.utcnow()
    await hass.services.async_call(
        DOMAIN,
        "record_measurement",
        {"person": "Grandma", "systolic": 128, "diastolic": 80, "glucose": 6.0},
        blocking=True,
    )
    hour = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    for minute, systolic, glucose in ((5, 150, 5.0), (40, 160, 7.0)):
        when = hour + timedelta(minutes=minute)
        await hass.services.async_call(
            DOMAIN,
            "record_measurement",
            {
                "person": "Grandma",
                "systolic": systolic,
                "diastolic": 90,
                "glucose": glucose,
                "time": dt_util.as_local(when).isoformat(),
            },
            blocking=True,
        )
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    # The state is still the newest reading.
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "128.0"
    stats = await hass.async_add_executor_job(
        statistics_during_period,
        hass,
        hour - timedelta(hours=1),
        hour + timedelta(hours=2),
        {"sensor.grandma_systolic_blood_pressure", "sensor.grandma_blood_glucose"},
        "hour",
        None,
        {"mean", "min", "max"},
    )
    (sys_row,) = stats["sensor.grandma_systolic_blood_pressure"]
    assert dt_util.utc_from_timestamp(sys_row["start"]) == hour
    assert (sys_row["mean"], sys_row["min"], sys_row["max"]) == (155.0, 150.0, 160.0)
    # Glucose statistics follow the unit the sensor shows (mg/dL here).
    (glu_row,) = stats["sensor.grandma_blood_glucose"]
    assert glu_row["mean"] == pytest.approx(6.0 * 18.016, abs=0.5)


async def test_backfill_reads_the_imported_hours_only(
    hass: HomeAssistant, household_entry: MockConfigEntry
) -> None:
    """A transfer's hours are read in runs (one range each), yet each hour gets its own rows:
    a logged value in a gap between them, inside a run, is not imported with them."""
    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    await add_person(hass, household_entry, alias="Grandma")
    household = household_entry.runtime_data.household
    person = household.person_by_alias("Grandma")
    assert person is not None
    first = (dt_util.utcnow() - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    second = first + timedelta(hours=3)  # same run as ``first``
    third = first + timedelta(days=5)  # a run of its own (more than two days later)
    between = first + timedelta(hours=1, minutes=30)  # logged, not part of the transfer

    def log(when: datetime, value: float) -> list[StoredMeasurement]:
        return household.store.append_many(
            person.person_id, [("weight", value, "kg", when, None)], "manual"
        )

    transfer: list[StoredMeasurement] = []
    for when, value in (
        (first + timedelta(minutes=10), 70.0),
        (first + timedelta(minutes=50), 71.0),
        (second + timedelta(minutes=5), 72.0),
        (third + timedelta(minutes=59), 73.0),
    ):
        transfer += await hass.async_add_executor_job(log, when, value)
    await hass.async_add_executor_job(log, between, 99.0)

    imported = await async_import_backfill(hass, household, person, transfer)
    assert imported == 3
    await async_wait_recording_done(hass)
    stats = await hass.async_add_executor_job(
        statistics_during_period,
        hass,
        first - timedelta(hours=1),
        third + timedelta(hours=2),
        {"sensor.grandma_weight"},
        "hour",
        None,
        {"mean", "min", "max"},
    )
    rows = {
        dt_util.utc_from_timestamp(row["start"]): (row["mean"], row["min"], row["max"])
        for row in stats["sensor.grandma_weight"]
    }
    assert rows == {
        first: (70.5, 70.0, 71.0),
        second: (72.0, 72.0, 72.0),
        third: (73.0, 73.0, 73.0),
    }
