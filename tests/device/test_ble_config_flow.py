"""Bluetooth discovery, the device picker, and who uses a device (options)."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_BLUETOOTH, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import DOMAIN
from tests.conftest import add_person
from tests.fakes.ble_fakes import (
    BloodPressureCuff,
    GlucoseMeter,
    WeightScale,
    add_device_entry,
    inject_advertisement,
    patch_gatt,
    service_info,
)

CUFF = "A4:C1:38:00:00:01"
METER = "C4:7C:8D:00:00:01"
SCALE = "A4:C1:38:00:00:02"

pytestmark = pytest.mark.usefixtures("enable_bluetooth")


def _flows(hass: HomeAssistant) -> list[dict[str, object]]:
    return [dict(f) for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)]


async def test_discovered_device_becomes_an_entry(hass: HomeAssistant) -> None:
    cuff = BloodPressureCuff(CUFF)
    with patch_gatt(cuff):
        inject_advertisement(hass, cuff.advertisement())
        await hass.async_block_till_done(wait_background_tasks=True)
        (flow,) = _flows(hass)
        assert flow["context"]["source"] == SOURCE_BLUETOOTH
        assert flow["context"]["unique_id"] == CUFF
        assert flow["context"]["title_placeholders"] == {"name": "UA-651BLE"}
        assert flow["step_id"] == "bluetooth_confirm"

        result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
        await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "UA-651BLE"
    assert result["data"] == {
        "entry_type": "device",
        "address": CUFF,
        "name": "UA-651BLE",
        "services": ["1810"],
    }
    assert result["result"].unique_id == CUFF
    # The new entry connected to the device that is still awake.
    assert cuff.connections == 1


async def test_discovery_of_a_configured_device_aborts(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    cuff = BloodPressureCuff(CUFF)
    with patch_gatt(cuff):
        await add_device_entry(hass, cuff)
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_BLUETOOTH}, data=cuff.advertisement()
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_device_without_health_service_is_not_supported(hass: HomeAssistant) -> None:
    vendor = "233bf000-5a34-1b6d-975c-000d5690abe4"
    info = service_info("11:22:33:44:55:66", "Some tag", ["180f", "fe95", vendor])
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_BLUETOOTH}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


async def test_services_listed_once(hass: HomeAssistant) -> None:
    # A scale advertising weight twice and body composition once (seen in the field).
    info = service_info(SCALE, "BF720", ["181d", "181b", "181d"])
    with patch_gatt(WeightScale(SCALE)):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_BLUETOOTH}, data=info
        )
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        await hass.async_block_till_done()
    assert result["data"]["services"] == ["181d", "181b"]


async def test_unnamed_device_is_called_by_its_address(hass: HomeAssistant) -> None:
    info = service_info("11:22:33:44:55:77", "11:22:33:44:55:77", ["1809"])
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_BLUETOOTH}, data=info
    )
    assert result["type"] is FlowResultType.FORM
    assert result["description_placeholders"] == {"name": "11:22:33:44:55:77"}


async def test_user_picks_a_nearby_device(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    cuff, meter = BloodPressureCuff(CUFF), GlucoseMeter(METER)
    with patch_gatt(cuff, meter):
        await add_device_entry(hass, meter)
        for info in (
            cuff.advertisement(),
            meter.advertisement(),
            service_info("11:22:33:44:55:66", "Some tag", ["180f"]),
        ):
            inject_advertisement(hass, info)
        await hass.async_block_till_done(wait_background_tasks=True)

        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "pick_device"
        choices = result["data_schema"].schema["address"].container
        # Only health devices not set up yet.
        assert choices == {CUFF: f"UA-651BLE ({CUFF})"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"address": CUFF}
        )
        await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["address"] == CUFF
    assert result["data"]["services"] == ["1810"]
    # The discovery flow for the same device went away with it.
    assert not [f for f in _flows(hass) if f["context"].get("unique_id") == CUFF]


async def test_picked_device_added_meanwhile(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    cuff = BloodPressureCuff(CUFF)
    with patch_gatt(cuff):
        inject_advertisement(hass, cuff.advertisement())
        await hass.async_block_till_done(wait_background_tasks=True)
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        await add_device_entry(hass, cuff)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"address": CUFF}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_household_after_devices(hass: HomeAssistant) -> None:
    meter = GlucoseMeter(METER)
    with patch_gatt(meter):
        await add_device_entry(hass, meter)
        # A device entry is not a household: "add entry" still creates the household.
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"


async def test_options_owner_and_user_numbers(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await add_person(hass, loaded_household, alias="Grandpa")
    people = {p.alias: pid for pid, p in loaded_household.runtime_data.household.people.items()}
    scale = WeightScale(SCALE)
    with patch_gatt(scale):
        entry = await add_device_entry(hass, scale)
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "device"
        fields = [str(key) for key in result["data_schema"].schema]
        assert fields == ["owner", "user_1", "user_2", "user_3", "user_4"]
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {"owner": people["Grandma"], "user_1": people["Grandma"], "user_2": people["Grandpa"]},
        )
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options == {
            "owner": people["Grandma"],
            "user_map": {"1": people["Grandma"], "2": people["Grandpa"]},
        }
        source = entry.runtime_data.source
        assert source.owner == people["Grandma"]
        assert dict(source.user_map) == {1: people["Grandma"], 2: people["Grandpa"]}

        # The form opens with the current choices; a person removed since is left out.
        assert hass.config_entries.async_remove_subentry(
            loaded_household,
            next(s for s, sub in loaded_household.subentries.items() if sub.title == "Grandpa"),
        )
        await hass.async_block_till_done()
        result = await hass.config_entries.options.async_init(entry.entry_id)
        suggested = {
            str(key): key.description["suggested_value"]
            for key in result["data_schema"].schema
            if key.description and "suggested_value" in key.description
        }
        assert suggested == {"owner": people["Grandma"], "user_1": people["Grandma"]}
        # Clearing everything makes it a shared device again.
        result = await hass.config_entries.options.async_configure(result["flow_id"], {})
        assert entry.options == {}


async def test_options_single_user_device_has_owner_only(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    meter = GlucoseMeter(METER)
    with patch_gatt(meter):
        entry = await add_device_entry(hass, meter)
        result = await hass.config_entries.options.async_init(entry.entry_id)
    assert [str(key) for key in result["data_schema"].schema] == ["owner"]


async def test_options_need_people(hass: HomeAssistant, household_entry: MockConfigEntry) -> None:
    meter = GlucoseMeter(METER)
    with patch_gatt(meter):
        entry = await add_device_entry(hass, meter)
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "household_not_loaded"

        household_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(household_entry.entry_id)
        await hass.async_block_till_done()
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "no_people"


async def test_household_options_unchanged(
    hass: HomeAssistant, loaded_household: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(loaded_household.entry_id)
    assert result["step_id"] == "init"


async def test_options_offer_a_person_added_a_moment_ago(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    """The person flow has returned; the household is still setting Grandpa up."""
    scale = WeightScale(SCALE)
    with patch_gatt(scale):
        entry = await add_device_entry(hass, scale)
        flow = await hass.config_entries.subentries.async_init(
            (loaded_household.entry_id, "person"), context={"source": SOURCE_USER}
        )
        added = await hass.config_entries.subentries.async_configure(
            flow["flow_id"], {"alias": "Grandpa"}
        )
        assert added["type"] is FlowResultType.CREATE_ENTRY
        # No waiting: the family opens the scale's options straight away (the run command does).
        result = await hass.config_entries.options.async_init(entry.entry_id)
        (user_1,) = [key for key in result["data_schema"].schema if str(key) == "user_1"]
        offered = {
            option["label"] for option in result["data_schema"].schema[user_1].config["options"]
        }
        assert offered == {"Grandma", "Grandpa"}
        await hass.async_block_till_done()
