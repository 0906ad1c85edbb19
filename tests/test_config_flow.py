"""Config flow: household, options, and people as subentries."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.config_flow import default_glucose_unit
from custom_components.smart_care.const import DOMAIN, SUBENTRY_PERSON

from .conftest import SENTINEL_ID, SENTINEL_TEXT, add_person


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
        loaded_household.runtime_data.store.get_profile, subentry.data["person_id"]
    )
    assert profile is not None
    assert profile["id_number"] == SENTINEL_ID
    assert profile["conditions"] == SENTINEL_TEXT
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


async def test_malformed_date_rejected_by_schema(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    with pytest.raises(InvalidData):
        await add_person(hass, loaded_household, alias="Li", birth_date="not-a-date")
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
    assert loaded_household.runtime_data.people[subentry.data["person_id"]].person_entity == (
        "person.li"
    )


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

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"alias": "Nana", "birth_date": "2999-01-01"}
    )
    assert result["errors"] == {"birth_date": "birth_date_future"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"alias": "Nana", "sex": "female", "medications": "Amlodipine 5 mg"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = loaded_household.subentries[grandma]
    assert subentry.title == "Nana"
    profile = await hass.async_add_executor_job(
        loaded_household.runtime_data.store.get_profile, subentry.data["person_id"]
    )
    # Cleared fields are gone from the record: the form is the whole profile.
    assert profile == {"sex": "female", "medications": "Amlodipine 5 mg"}
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
    store = loaded_household.runtime_data.store
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
