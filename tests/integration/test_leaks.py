"""Nothing personal leaks: diagnostics of every entry type, entity states, bus events.

(Logs are checked for every test of the suite by ``conftest.no_identity_in_logs``.)
"""

from __future__ import annotations

from collections.abc import Iterator
import json

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from tests.clinic.test_webhook import Clinic
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_NAME, SENTINEL_TEXT, add_person
from tests.fakes.ble_fakes import (
    BloodPressureCuff,
    add_device_entry,
    blood_pressure,
    fast_link,
    patch_gatt,
    wake,
)
from tests.support.clinic_support import alerts, household, link_clinic, only_link, record, settle

IDENTITY = (SENTINEL_NAME, SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH)
ADVICE_SENTINEL = f"Advice for {SENTINEL_NAME}: {SENTINEL_TEXT} sentinel-advice-body"
CUFF = "A4:C1:38:00:00:09"


@pytest.fixture(autouse=True)
def bluetooth_on(enable_bluetooth: None) -> Iterator[None]:
    """A Bluetooth adapter (mocked scanner) and no waiting between sessions."""
    with fast_link():
        yield


@pytest.fixture
def bus_events(hass: HomeAssistant) -> list[Event]:
    """Every event fired on the bus."""
    fired: list[Event] = []

    @callback
    def _listen(event: Event) -> None:
        fired.append(event)

    hass.bus.async_listen("*", _listen)
    return fired


async def sentinel_person(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """A person whose every identity field (alias included) is a sentinel."""
    await add_person(
        hass,
        entry,
        alias=SENTINEL_NAME,
        birth_date=SENTINEL_BIRTH,
        sex="female",
        id_number=SENTINEL_ID,
        conditions=SENTINEL_TEXT,
        allergies=SENTINEL_TEXT,
        medications=f"Metformin {SENTINEL_TEXT}",
    )
    (person_id,) = household(hass).people
    return person_id


async def test_diagnostics_of_every_entry_type_name_nobody(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
) -> None:
    person_id = await sentinel_person(hass, loaded_household)
    _, link, _ = await link_clinic(
        hass, loaded_household, transport="folder", identified=True, token="tok-sentinel-123"
    )
    cuff = BloodPressureCuff(CUFF)
    cuff.pending.append(blood_pressure(133, 85, 101))
    with patch_gatt(cuff):
        device = await add_device_entry(hass, cuff, {"owner": person_id})
        await wake(hass, cuff)
    await record(hass, person=SENTINEL_NAME, systolic=190, diastolic=100)
    await settle(hass)
    assert await async_setup_component(hass, "diagnostics", {})
    secrets = [link[k] for k in ("hmac_secret", "totp_secret", "pseudonym_key", "webhook_id")]
    secrets += ["tok-sentinel-123", person_id, only_link(hass).outbox.pseudonym(person_id)]
    for entry in (loaded_household, device):
        diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        text = json.dumps(diag)
        for needle in (*IDENTITY, *secrets):
            assert needle not in text, (entry.title, needle)
    household_diag = await get_diagnostics_for_config_entry(hass, hass_client, loaded_household)
    assert household_diag["clinics"]  # the clinic link's part is really there
    assert household_diag["people"][0]["measurements"] >= 3


async def test_states_and_events_after_a_full_scenario(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    bus_events: list[Event],
) -> None:
    person_id = await sentinel_person(hass, loaded_household)
    _, data, _ = await link_clinic(hass, loaded_household, transport="folder", identified=True)
    clinic = Clinic(await hass_client_no_auth(), data, only_link(hass).outbox.pseudonym(person_id))
    # Readings, alerts (a critical one), acknowledging, clinic advice with sentinel text.
    await record(hass, person=SENTINEL_NAME, systolic=200, diastolic=115, spo2=85, pulse=130)
    open_alerts = alerts(hass).active_alerts(person_id)
    assert open_alerts
    await hass.services.async_call(
        "smart_care", "acknowledge_alert", {"alert_id": open_alerts[0].alert_id}, blocking=True
    )
    status, _ = await clinic.post(
        {
            "type": "advice",
            "person": clinic.pseudonym,
            "title": "Follow-up",
            "text": ADVICE_SENTINEL,
            "author": "Dr Li",
        }
    )
    assert status == 201
    status, _ = await clinic.post({"type": "summary", "person": clinic.pseudonym})
    assert status == 200
    await settle(hass)
    for state in hass.states.async_all():
        text = json.dumps({"state": state.state, "attributes": dict(state.attributes)}, default=str)
        for needle in (SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH, ADVICE_SENTINEL):
            assert needle not in text, (state.entity_id, needle)
    for event in bus_events:
        text = json.dumps(dict(event.data), default=str)
        for needle in (SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH, ADVICE_SENTINEL):
            assert needle not in text, (event.event_type, needle)
    assert any(e.event_type == "smart_care_advice" for e in bus_events)
