"""Config flow: household, options, and people as subentries."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Any
import uuid

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigSubentry
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType, InvalidData, UnknownHandler
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.smart_care.care.medication import async_get_medications
from custom_components.smart_care.config_flow import default_glucose_unit
from custom_components.smart_care.const import DOMAIN, SUBENTRY_PERSON
from custom_components.smart_care.household.contacts import notify_targets
from custom_components.smart_care.household.profile import migrate_profiles
from tests.conftest import SENTINEL_ID, SENTINEL_TEXT, add_person
from tests.support.blueprint_support import (  # noqa: F401
    PhoneFactory,
    phone_factory_fixture,
    record,
)


def _as_frontend_sees_it(schema: Any) -> list[dict[str, Any]]:
    """The form's fields as HA sends them to the frontend (HA 2026 serialises with
    probatio, HA 2025.4 with voluptuous-serialize)."""
    try:
        import probatio

        return list(probatio.to_field_list(schema, custom_serializer=cv.custom_serializer))
    except ImportError:
        import voluptuous_serialize

        return list(voluptuous_serialize.convert(schema, custom_serializer=cv.custom_serializer))


async def test_create_household(hass: HomeAssistant) -> None:
    hass.config.country = "CN"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "  ", "glucose_unit": "mmol/L"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"name": "name_required"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Li family", "glucose_unit": "mmol/L"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Li family"
    assert result["data"] == {"entry_type": "household"}
    assert result["options"] == {"glucose_unit": "mmol/L", "share_location_in_emergency": False}


async def test_second_household_aborts(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    # With a household set up, "add entry" adds a Bluetooth device instead; none is nearby.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


@pytest.mark.parametrize(("country", "unit"), [("US", "mg/dL"), ("CN", "mmol/L"), (None, "mmol/L")])
def test_default_glucose_unit(country: str | None, unit: str) -> None:
    assert default_glucose_unit(country) == unit


async def test_options_flow(hass: HomeAssistant, loaded_household: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(loaded_household.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"glucose_unit": "mg/dL", "share_location_in_emergency": True}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_household.options == {
        "glucose_unit": "mg/dL",
        "share_location_in_emergency": True,
    }


async def test_add_person_keeps_identity_out_of_subentry(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    subentry = loaded_household.subentries[grandma]
    assert subentry.title == "Grandma"
    assert set(subentry.data) == {
        "person_id",
        "alias",
        "emergency_contacts",
        "expected_measurements",
        "overdue_hours",
        "sources",
    }
    assert subentry.unique_id == subentry.data["person_id"]
    profile = await hass.async_add_executor_job(
        loaded_household.runtime_data.household.store.get_profile, subentry.data["person_id"]
    )
    assert profile is not None
    assert profile["id_number"] == SENTINEL_ID
    assert profile["conditions"] == [SENTINEL_TEXT]
    assert profile["sex"] == "female"
    # Entities exist for the new person, named by alias only.
    state = hass.states.get("sensor.grandma_weight")
    assert state is not None
    for st in hass.states.async_all():
        assert SENTINEL_ID not in str(st.as_dict())
        assert SENTINEL_TEXT not in str(st.as_dict())


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"alias": "  "}, {"alias": "alias_required"}),
        ({"alias": "x" * 41}, {"alias": "alias_too_long"}),
        ({"alias": "grandma"}, {"alias": "alias_in_use"}),
        ({"alias": "Li", "birth_date": "2999-01-01"}, {"birth_date": "birth_date_future"}),
        ({"alias": "Li", "birth_date": "1850-01-01"}, {"birth_date": "birth_date_invalid"}),
        ({"alias": "Li", "id_number": "<script>"}, {"id_number": "id_number_invalid"}),
        ({"alias": "Li", "allergies": "a" * 2001}, {"allergies": "text_too_long"}),
        (
            {"alias": "Li", "emergency_contacts": ["light.kitchen"]},
            {"emergency_contacts": "contact_invalid"},
        ),
    ],
)
async def test_add_person_validation(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    fields: dict[str, object],
    errors: dict[str, str],
) -> None:
    result = await add_person(hass, loaded_household, **fields)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # Nothing was created.
    assert len(loaded_household.subentries) == 1


@pytest.mark.parametrize("typed", ["not-a-date", "1948-5-1", "1948-02-30", "19480501"])
async def test_malformed_date_is_a_form_error(
    hass: HomeAssistant, loaded_household: MockConfigEntry, typed: str
) -> None:
    result = await add_person(hass, loaded_household, alias="Li", birth_date=typed)
    assert result["errors"] == {"birth_date": "birth_date_invalid"}
    assert not loaded_household.subentries


async def test_birth_date_today_is_accepted(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    today = dt_util.now().date()
    result = await add_person(hass, loaded_household, alias="Baby", birth_date=today.isoformat())
    assert result["type"] is FlowResultType.CREATE_ENTRY
    tomorrow = today + timedelta(days=1)
    result = await add_person(hass, loaded_household, alias="Later", birth_date=str(tomorrow))
    assert result["errors"] == {"birth_date": "birth_date_future"}


async def test_person_entity_link_is_kept(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    result = await add_person(hass, loaded_household, alias="Grandpa", person_entity="person.li")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = loaded_household.subentries.values()
    assert subentry.data["person_entity"] == "person.li"
    assert loaded_household.runtime_data.household.people[
        subentry.data["person_id"]
    ].person_entity == ("person.li")


async def test_reconfigure_person(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_PERSON),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": grandma},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    # The form is pre-filled from the subentry and the private record.
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested["alias"] == "Grandma"
    assert suggested["id_number"] == SENTINEL_ID
    assert suggested["medications"] == ["Metformin 500 mg 08:00"]

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"alias": "Nana", "birth_date": "2999-01-01"}
    )
    assert result["errors"] == {"birth_date": "birth_date_future"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"alias": "Nana", "sex": "female", "medications": ["Amlodipine 5 mg"]}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = loaded_household.subentries[grandma]
    assert subentry.title == "Nana"
    profile = await hass.async_add_executor_job(
        loaded_household.runtime_data.household.store.get_profile, subentry.data["person_id"]
    )
    # Cleared fields are gone from the record: the form is the whole profile.
    assert profile == {"sex": "female", "medications": ["Amlodipine 5 mg"]}
    # Entities follow the reload; the entity id stays, the device shows the new alias.
    ent = er.async_get(hass).async_get("sensor.grandma_weight")
    assert ent is not None


async def test_reconfigure_keeps_own_alias(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_PERSON),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": grandma},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"alias": "GRANDMA"}
    )
    assert result["type"] is FlowResultType.ABORT


async def test_remove_person(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    person_id = loaded_household.subentries[grandma].data["person_id"]
    assert hass.config_entries.async_remove_subentry(loaded_household, grandma)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.grandma_weight") is None
    assert er.async_get(hass).async_get("sensor.grandma_weight") is None
    store = loaded_household.runtime_data.household.store
    assert await hass.async_add_executor_job(store.get_profile, person_id) is None


async def test_subentry_flows_need_loaded_household(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await hass.config_entries.async_unload(loaded_household.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_PERSON), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "household_not_loaded"
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_PERSON),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": grandma},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "household_not_loaded"


async def test_birth_date_is_a_typed_date_field(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    # A text field of type date: the frontend renders a native date input (year typed).
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_PERSON), context={"source": SOURCE_USER}
    )
    schema = _as_frontend_sees_it(result["data_schema"])
    field = next(f for f in schema if f["name"] == "birth_date")
    assert field["selector"] == {
        "text": {"type": "date", "autocomplete": "bday", "multiline": False, "multiple": False}
    }
    for name in ("conditions", "allergies", "medications"):
        field = next(f for f in schema if f["name"] == name)
        assert field["selector"]["text"]["multiple"] is True
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"alias": "Grandma", "birth_date": "1948-05-01"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_list_fields_store_one_item_per_entry(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    result = await add_person(
        hass,
        loaded_household,
        alias="Grandpa",
        conditions=["Hypertension", "  ", "Type 2 diabetes "],
        allergies=[],
        medications=["Amlodipine 5 mg 08:00", "Metformin 500 mg 08:00, 20:00", "Aspirin 100 mg"],
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = loaded_household.subentries.values()
    person_id = subentry.data["person_id"]
    household = loaded_household.runtime_data.household
    profile = await hass.async_add_executor_job(household.store.get_profile, person_id)
    assert profile == {
        "conditions": ["Hypertension", "Type 2 diabetes"],
        "medications": ["Amlodipine 5 mg 08:00", "Metformin 500 mg 08:00, 20:00", "Aspirin 100 mg"],
    }
    medications = await async_get_medications(hass, household, person_id)
    assert sorted((m.text, [t.isoformat() for t in m.times]) for m in medications.values()) == [
        ("Amlodipine 5 mg", ["08:00:00"]),
        ("Aspirin 100 mg", []),
        ("Metformin 500 mg", ["08:00:00", "20:00:00"]),
    ]
    # Too many entries, or too much text, is refused as a whole.
    result = await add_person(hass, loaded_household, alias="Li", medications=["x"] * 51)
    assert result["errors"] == {"medications": "text_too_long"}
    result = await add_person(hass, loaded_household, alias="Li", allergies=["a" * 1001] * 2)
    assert result["errors"] == {"allergies": "text_too_long"}
    with pytest.raises(InvalidData):
        await add_person(hass, loaded_household, alias="Li", medications={"a": 1})
    assert len(loaded_household.subentries) == 1


async def test_text_profiles_migrate_to_lists(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    result = await add_person(hass, loaded_household, alias="Grandma")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = loaded_household.subentries.values()
    person_id = subentry.data["person_id"]
    store = loaded_household.runtime_data.household.store
    # A record written by an older version: each list field was one text, one per line.
    old = {
        "sex": "female",
        "conditions": "Hypertension\r\nType 2 diabetes\n",
        "allergies": "\n ",
        "medications": "Amlodipine 5 mg 08:00\nMetformin 500 mg 08:00, 20:00",
    }
    await hass.async_add_executor_job(store.put_profile, person_id, old)
    assert await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    household = loaded_household.runtime_data.household
    profile = await hass.async_add_executor_job(household.store.get_profile, person_id)
    assert profile == {
        "sex": "female",
        "conditions": ["Hypertension", "Type 2 diabetes"],
        "medications": ["Amlodipine 5 mg 08:00", "Metformin 500 mg 08:00, 20:00"],
    }
    medications = await async_get_medications(hass, household, person_id)
    assert sorted(m.text for m in medications.values()) == ["Amlodipine 5 mg", "Metformin 500 mg"]
    # A second start changes nothing.
    assert await hass.async_add_executor_job(migrate_profiles, household.store) == 0


async def test_subentries_only_on_the_household(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    device = MockConfigEntry(
        domain=DOMAIN,
        title="Demo BP Cuff",
        unique_id="AA:BB:CC:DD:EE:01",
        data={
            "entry_type": "device",
            "address": "AA:BB:CC:DD:EE:01",
            "device_name": "Demo BP Cuff",
            "services": ["1810"],
        },
    )
    device.add_to_hass(hass)
    assert set(loaded_household.supported_subentry_types) == {"person", "clinic"}
    # The frontend builds the entry's menu from this: a device offers no "Add person".
    assert device.supported_subentry_types == {}
    for kind in ("person", "clinic"):
        with pytest.raises(UnknownHandler):
            await hass.config_entries.subentries.async_init(
                (device.entry_id, kind), context={"source": SOURCE_USER}
            )
    # What fits a device: its options (who uses it).
    assert device.supports_options


async def test_emergency_contacts_are_people_and_phones(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    phone_factory: PhoneFactory,
    hass_admin_user: MockUser,
) -> None:
    phone = await phone_factory("Son's phone")
    hass.states.async_set(
        "person.son", "home", {"friendly_name": "Son", "user_id": hass_admin_user.id}
    )
    hass.states.async_set("person.daughter", "home", {"friendly_name": "Daughter"})
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_PERSON), context={"source": SOURCE_USER}
    )
    schema = _as_frontend_sees_it(result["data_schema"])
    field = next(f for f in schema if f["name"] == "emergency_contacts")
    config = field["selector"]["select"]
    # People and phones by name; no raw notify.notify / notify.send_message.
    assert config["options"] == [
        {"value": "person.daughter", "label": "Daughter"},
        {"value": "person.son", "label": "Son"},
        {"value": f"notify.{phone.notify_service}", "label": "📱 Son's phone"},
    ]
    assert config["custom_value"] is True  # advanced: any notify service can be typed
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"alias": "Grandma", "emergency_contacts": ["person.son", "notify.sms_gateway"]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await record(hass, spo2=92)
    response = await hass.services.async_call(
        DOMAIN, "get_alerts", {}, blocking=True, return_response=True
    )
    assert response is not None
    alert_id = response["alerts"][0]["alert_id"]  # type: ignore[index]
    # The person is reached on their phone; the unknown notify service fails alone.
    sent = await hass.services.async_call(
        DOMAIN,
        "notify_emergency_contacts",
        {"alert_id": alert_id, "message": "Grandma needs help"},
        blocking=True,
        return_response=True,
    )
    assert sent == {"sent": [f"notify.{phone.notify_service}"], "failed": ["notify.sms_gateway"]}
    await hass.async_block_till_done()
    assert phone.messages() == ["Grandma needs help"]


async def test_a_person_is_reached_on_their_app_phones(
    hass: HomeAssistant, loaded_household: MockConfigEntry, phone_factory: PhoneFactory
) -> None:
    phone = await phone_factory("Daughter's phone")
    (app,) = hass.config_entries.async_entries("mobile_app")
    tracker = next(
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), app.entry_id)
        if e.domain == "device_tracker"
    )
    # No user of her own: found through the app's tracker on her person.
    hass.states.async_set("person.daughter", "home", {"device_trackers": [tracker, "x.y"]})
    hass.states.async_set("person.guest", "home", {})
    service = f"notify.{phone.notify_service}"
    assert notify_targets(
        hass, ["person.daughter", "person.guest", "person.nobody", " ", "notify.sms", service]
    ) == [service, "notify.sms"]
    # A phone whose app no longer offers notifications is not listed.
    hass.services.async_remove("notify", phone.notify_service)
    assert notify_targets(hass, ["person.daughter"]) == []


async def test_adding_a_person_leaves_the_others_running(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    household = loaded_household.runtime_data.household
    changed: list[tuple[str, str | None]] = []
    logged: list[str] = []

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        changed.append((event.data["entity_id"], new.state if new else None))
        # What the logbook writes a line for ("Alert detected an event"): a change of an
        # existing entity's state; an entity appearing (no old state) is not a line.
        if old is not None and (new is None or new.state != old.state):
            logged.append(event.data["entity_id"])

    hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)
    result = await add_person(
        hass, loaded_household, alias="Grandpa", medications=["Aspirin 100 mg 08:00"]
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    # No reload: the same household, Grandma's entities never went away or fired.
    assert loaded_household.runtime_data.household is household
    assert [c for c in changed if "grandma" in c[0]] == []
    assert [e for e in logged if e.startswith("event.")] == []
    assert not [c for c in changed if c[1] == "unavailable"]
    # People are devices ("2 devices"), not web services ("1 service").
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), loaded_household.entry_id)
    for person in household.people.values():
        (device,) = [d for d in devices if (DOMAIN, person.person_id) in d.identifiers]
        assert device.entry_type is None
    assert {p.alias for p in household.people.values()} == {"Grandma", "Grandpa"}
    assert hass.states.get("sensor.grandpa_weight") is not None
    assert hass.states.get("binary_sensor.grandpa_measurement_overdue") is not None
    assert hass.states.get("event.grandpa_alert") is not None
    # An edit still reloads (names and schedules are rebuilt).
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_PERSON),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": grandma},
    )
    await hass.config_entries.subentries.async_configure(result["flow_id"], {"alias": "Nana"})
    await hass.async_block_till_done()
    assert loaded_household.runtime_data.household is not household
    assert {p.alias for p in loaded_household.runtime_data.household.people.values()} == {
        "Nana",
        "Grandpa",
    }


async def test_people_added_in_quick_succession_are_set_up_once(
    hass: HomeAssistant, loaded_household: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    household = loaded_household.runtime_data.household
    # Two subentries added back to back: two updates queued before either runs.
    for alias in ("Grandma", "Grandpa"):
        person_id = uuid.uuid4().hex
        data = {
            "person_id": person_id,
            "alias": alias,
            "emergency_contacts": [],
            "expected_measurements": [],
            "overdue_hours": 26,
            "sources": {},
        }
        hass.config_entries.async_add_subentry(
            loaded_household,
            ConfigSubentry(
                data=MappingProxyType(data),
                subentry_type=SUBENTRY_PERSON,
                title=alias,
                unique_id=person_id,
            ),
        )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_household.runtime_data.household is household
    assert sorted(p.alias for p in household.people.values()) == ["Grandma", "Grandpa"]
    assert "does not generate unique IDs" not in caplog.text
    assert hass.states.get("sensor.grandma_weight") is not None
    assert hass.states.get("sensor.grandpa_weight") is not None
