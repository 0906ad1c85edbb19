"""doctor_alert.yaml in a real HA: it calls smart_care.notify_clinic, which needs a clinic."""

from __future__ import annotations

from typing import Any

from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN
from tests.conftest import add_person
from tests.support.blueprint_support import (
    config_dir_fixture,  # noqa: F401  (autouse fixture)
    person_device,
    record,
    setup_blueprint_automations,
)

BLUEPRINT = "doctor_alert.yaml"
NO_CLINIC = "Not sent: no community clinic that receives alerts is linked to this household"


@pytest.fixture
def clinic_calls(hass: HomeAssistant) -> list[dict[str, Any]]:
    """The alert ids smart_care.notify_clinic was called with (the real service runs)."""
    calls: list[dict[str, Any]] = []

    @callback
    def _listen(event: Event) -> None:
        if (event.data["domain"], event.data["service"]) == (DOMAIN, "notify_clinic"):
            calls.append(dict(event.data["service_data"]))

    hass.bus.async_listen(EVENT_CALL_SERVICE, _listen)
    return calls


async def open_alert(hass: HomeAssistant, code: str, person: str = "Grandma") -> str:
    response = await hass.services.async_call(
        DOMAIN, "get_alerts", {"person": person}, blocking=True, return_response=True
    )
    assert response is not None
    (alert_id,) = [a["alert_id"] for a in response["alerts"] if a["code"] == code]  # type: ignore[union-attr]
    return str(alert_id)


async def test_forwards_chosen_severities_and_logs_that_no_clinic_is_linked(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    clinic_calls: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_person(hass, loaded_household, alias="Grandma")
    await add_person(hass, loaded_household, alias="Grandpa")
    await setup_blueprint_automations(hass, BLUEPRINT, {"people": [person_device(hass, "Grandma")]})
    await record(hass, systolic=150, diastolic=85)  # warning: not for the doctor (default)
    await record(hass, person="Grandpa", systolic=185, diastolic=95)  # urgent, not chosen
    assert clinic_calls == []

    await record(hass, systolic=185, diastolic=95)  # the same alert escalates to urgent
    alert_id = await open_alert(hass, "systolic_bp_high")
    assert clinic_calls == [{"alert_id": alert_id}]
    # No clinic is linked: the service refused, and the automation logged why.
    errors = [r for r in caplog.records if NO_CLINIC in r.getMessage()]
    assert errors
    assert {r.levelname for r in errors} == {"ERROR"}
    assert all("Grandma" not in r.getMessage() for r in errors)

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "notify_clinic", {"alert_id": alert_id}, blocking=True
        )
    assert err.value.translation_key == "no_clinic_linked"


class FakeBridge:
    """Stands in for the clinic bridge of a household linked to one clinic."""

    def __init__(self) -> None:
        self.queued: list[dict[str, Any]] = []

    def links_with(self, scope: str) -> list[str]:
        return ["clinic-1"] if scope == "alerts" else []

    async def async_enqueue_alert(self, record: dict[str, Any]) -> int:
        self.queued.append(record)
        return 1

    async def async_stop(self) -> None:
        """Nothing runs."""


async def test_with_a_linked_clinic_the_alert_is_queued(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    clinic_calls: list[dict[str, Any]],
) -> None:
    await add_person(hass, loaded_household, alias="Grandma")
    bridge = FakeBridge()
    data = loaded_household.runtime_data
    if data.clinic is not None:
        await data.clinic.async_stop()
    data.clinic = bridge
    await setup_blueprint_automations(hass, BLUEPRINT, {"severities": ["critical"]})
    await record(hass, spo2=85)
    alert_id = await open_alert(hass, "spo2_low")
    assert clinic_calls == [{"alert_id": alert_id}]
    assert [r["alert_id"] for r in bridge.queued] == [alert_id]
    response = await hass.services.async_call(
        DOMAIN, "notify_clinic", {"alert_id": alert_id}, blocking=True, return_response=True
    )
    assert response == {"queued": 1}
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "notify_clinic", {"alert_id": "nope"}, blocking=True)
    assert err.value.translation_key == "unknown_alert"
