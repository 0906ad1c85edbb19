"""forget_person also clears the recorder: state history and long-term statistics."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.history import get_significant_states
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import Context, HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smart_care.const import DOMAIN
from tests.conftest import add_person

ENTITY = "sensor.grandma_systolic_blood_pressure"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder must start before hass is set up (it owns the database)."""


async def test_forget_person_clears_history_and_statistics(
    hass: HomeAssistant, household_entry: MockConfigEntry, hass_admin_user: MockUser
) -> None:
    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    await add_person(hass, household_entry, alias="Grandma")
    now = dt_util.utcnow()
    hour = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    for when, systolic in ((now, 128), (hour + timedelta(minutes=5), 150)):
        await hass.services.async_call(
            DOMAIN,
            "record_measurement",
            {
                "person": "Grandma",
                "systolic": systolic,
                "diastolic": 80,
                "time": dt_util.as_local(when).isoformat(),
            },
            blocking=True,
        )
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)

    def _stats() -> dict[str, list[dict[str, object]]]:
        return dict(
            statistics_during_period(
                hass, hour - timedelta(hours=1), None, {ENTITY}, "hour", None, {"mean"}
            )
        )

    def _history() -> list[object]:
        return list(
            get_significant_states(hass, now - timedelta(days=3), None, [ENTITY]).get(ENTITY, [])
        )

    assert (await hass.async_add_executor_job(_stats))[ENTITY]
    assert await hass.async_add_executor_job(_history)
    response = await hass.services.async_call(
        DOMAIN,
        "forget_person",
        {"person": "Grandma"},
        blocking=True,
        return_response=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert response is not None
    assert response["recorder_cleared"] is True
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    await async_wait_recording_done(hass)
    assert await hass.async_add_executor_job(_stats) == {}
    # Only the "unavailable" written as the entity went away is left: no reading.
    left = await hass.async_add_executor_job(_history)
    assert {state.state for state in left} <= {"", "unavailable", "unknown"}  # type: ignore[attr-defined]
