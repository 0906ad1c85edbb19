"""Every device reading lands with the right person, or waits for the household to say."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.core.gatt import decode
from custom_components.smart_care.household.runtime import DeviceSource, Household, IngestResult
from tests.conftest import add_person

DOMAIN = "smart_care"
SCALE = "11:22:33:44:55:66"


def weight_bytes(kg: float, user: int | None = None) -> bytes:
    """GSS Weight Measurement, SI, resolution 0.005 kg; optional user id (flags bit 2)."""
    flags = 0x04 if user is not None else 0x00
    raw = round(kg / 0.005).to_bytes(2, "little")
    return bytes([flags]) + raw + (bytes([user]) if user is not None else b"")


def bp_bytes(sys: int, dia: int, stamp: datetime | None = None) -> bytes:
    """GSS Blood Pressure Measurement in mmHg, optional time stamp (flags bit 1)."""
    flags = 0x02 if stamp else 0x00
    body = sys.to_bytes(2, "little") + dia.to_bytes(2, "little") + (95).to_bytes(2, "little")
    if stamp:
        body += stamp.year.to_bytes(2, "little") + bytes(
            [stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second]
        )
    return bytes([flags]) + body


@pytest.fixture
async def family(hass: HomeAssistant, loaded_household: MockConfigEntry) -> dict[str, str]:
    """Two people; returns alias -> person_id."""
    for alias in ("Grandma", "Grandpa"):
        await add_person(hass, loaded_household, alias=alias, medical_card=f"card-{alias}")
    household: Household = loaded_household.runtime_data.household
    return {p.alias: pid for pid, p in household.people.items()}


def household_of(entry: MockConfigEntry) -> Household:
    return entry.runtime_data.household  # type: ignore[no-any-return]


async def record(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, "record_measurement", data, blocking=True)


async def hold_cuff_reading(household: Household, systolic: int = 128) -> IngestResult:
    """A blood pressure from a cuff nobody owns: with two people, it is held for a choice."""
    return await household.async_ingest_reading(
        DeviceSource("e", "AA:AA:AA:AA:AA:02", "Cuff"), decode("2a35", bp_bytes(systolic, 82))
    )


async def start_repair(client: Any, issue_id: str) -> Any:
    """Start the repairs fix flow of one of our issues; the HTTP response."""
    return await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )


async def test_user_index_maps_to_person(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource(
        "e", SCALE, "Scale", user_map={1: family["Grandma"], 2: family["Grandpa"]}
    )
    result = await household.async_ingest_reading(source, decode("2a9d", weight_bytes(81.2, 2)))
    assert (result.status, result.attribution) == ("stored", "user_index")
    assert result.person_id == family["Grandpa"]
    assert hass.states.get("sensor.grandpa_weight").state == "81.2"
    assert hass.states.get("sensor.grandma_weight").state == "unknown"


async def test_owner_and_device_time(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", "AA:AA:AA:AA:AA:01", "Cuff", owner=family["Grandma"])
    stamp = (dt_util.now() - timedelta(minutes=3)).replace(microsecond=0, tzinfo=None)
    result = await household.async_ingest_reading(source, decode("2a35", bp_bytes(132, 84, stamp)))
    assert result.attribution == "device_owner"
    (systolic,) = [m for m in result.stored if m.vital == "systolic_bp"]
    # BLE Date Time has no zone: it is read as HA's local time and kept as the reading time.
    assert systolic.time == dt_util.as_utc(stamp.replace(tzinfo=dt_util.get_default_time_zone()))
    # Re-sent from the device's memory: recognised and stored once.
    again = await household.async_ingest_reading(source, decode("2a35", bp_bytes(132, 84, stamp)))
    assert again.status == "duplicate"
    assert await hass.async_add_executor_job(household.store.count, family["Grandma"]) == 3


async def test_device_clock_ahead_uses_receipt_time(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", "AA:AA:AA:AA:AA:01", "Cuff", owner=family["Grandma"])
    future = (dt_util.now() + timedelta(days=400)).replace(microsecond=0, tzinfo=None)
    before = dt_util.utcnow()
    result = await household.async_ingest_reading(source, decode("2a35", bp_bytes(120, 80, future)))
    assert result.stored[0].time >= before
    assert result.stored[0].details["device_clock_ahead"] is True


async def test_medical_card_claims_next_reading(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", SCALE, "Scale", owner=family["Grandma"])
    hass.bus.async_fire("tag_scanned", {"tag_id": "card-Grandpa"})
    await hass.async_block_till_done()
    result = await household.async_ingest_reading(source, decode("2a9d", weight_bytes(80.0)))
    assert (result.person_id, result.attribution) == (family["Grandpa"], "medical_card")
    # The claim is used up: the next one goes to the owner again.
    result = await household.async_ingest_reading(source, decode("2a9d", weight_bytes(60.0)))
    assert result.person_id == family["Grandma"]


async def test_medical_card_claim_expires(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    family: dict[str, str],
    freezer: Any,
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", SCALE, "Scale", owner=family["Grandma"])
    hass.bus.async_fire("tag_scanned", {"tag_id": "card-Grandpa"})
    hass.bus.async_fire("tag_scanned", {"tag_id": "unknown-card"})
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=6))
    result = await household.async_ingest_reading(source, decode("2a9d", weight_bytes(80.0)))
    assert result.person_id == family["Grandma"]


async def test_shared_scale_weight_match_and_hold(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    await record(hass, person="Grandma", weight=58.0)
    await record(hass, person="Grandpa", weight=82.0)
    source = DeviceSource("e", SCALE, "Scale")
    result = await household.async_ingest_reading(source, decode("2a9d", weight_bytes(81.0)))
    assert (result.person_id, result.attribution) == (family["Grandpa"], "weight_match")
    # Nobody near 70 kg: held for confirmation, nothing stored for anyone yet.
    held = await household.async_ingest_reading(source, decode("2a9d", weight_bytes(70.0)))
    assert held.status == "pending"
    assert hass.states.get("sensor.grandma_weight").state == "58.0"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"reading_needs_person_{held.reading_id}")
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders["device"] == "Scale"
    assert issue.translation_placeholders["guess"] == "—"
    # The values in words, not raw keys.
    assert issue.translation_placeholders["values"] == "Body weight 70 kg"
    # The household assigns it with the service; the original time is kept.
    pending = await hass.async_add_executor_job(household.store.list_pending)
    original = pending[held.reading_id]["samples"][0]["time"]
    response = await hass.services.async_call(
        DOMAIN,
        "assign_reading",
        {"reading_id": held.reading_id, "person": "Grandma"},
        blocking=True,
        return_response=True,
    )
    assert response == {"assigned": 1}
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, f"reading_needs_person_{held.reading_id}")
        is None
    )
    history = await hass.async_add_executor_job(household.store.history, family["Grandma"])
    assert history[-1].value == 70.0
    assert history[-1].time == datetime.fromisoformat(original)


async def test_ambiguous_weight_is_held_with_guess(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    await record(hass, person="Grandma", weight=70.0)
    await record(hass, person="Grandpa", weight=72.0)
    source = DeviceSource("e", SCALE, "Scale")
    held = await household.async_ingest_reading(source, decode("2a9d", weight_bytes(70.5)))
    assert held.status == "pending"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"reading_needs_person_{held.reading_id}")
    assert issue is not None
    assert issue.translation_placeholders["guess"] == "Grandma"


async def test_repair_flow_assigns_reading(
    hass: HomeAssistant,
    hass_client: Any,
    loaded_household: MockConfigEntry,
    family: dict[str, str],
) -> None:
    assert await async_setup_component(hass, "repairs", {})
    household = household_of(loaded_household)
    held = await hold_cuff_reading(household)
    assert held.status == "pending"
    client = await hass_client()
    issue_id = f"reading_needs_person_{held.reading_id}"
    resp = await start_repair(client, issue_id)
    assert resp.status == 200
    flow = await resp.json()
    assert flow["step_id"] == "confirm"
    resp = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={"person": family["Grandpa"]}
    )
    assert resp.status == 200
    assert (await resp.json())["type"] == "create_entry"
    assert hass.states.get("sensor.grandpa_systolic_blood_pressure").state == "128.0"
    # Restarting does not bring the issue back: the reading is no longer held.
    await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_held_reading_issue_survives_restart(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    held = await hold_cuff_reading(household)
    issue_id = f"reading_needs_person_{held.reading_id}"
    ir.async_delete_issue(hass, DOMAIN, issue_id)
    await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None


async def test_reassign_stored_reading_keeps_time(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", "AA:AA:AA:AA:AA:01", "Cuff", owner=family["Grandma"])
    stamp = (dt_util.now() - timedelta(minutes=5)).replace(microsecond=0, tzinfo=None)
    result = await household.async_ingest_reading(source, decode("2a35", bp_bytes(150, 88, stamp)))
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "150.0"
    await hass.services.async_call(
        DOMAIN,
        "assign_reading",
        {"reading_id": result.reading_id, "person": "Grandpa"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "unknown"
    assert hass.states.get("sensor.grandpa_systolic_blood_pressure").state == "150.0"
    moved = await hass.async_add_executor_job(household.store.history, family["Grandpa"])
    assert {m.time for m in moved} == {result.stored[0].time}
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "assign_reading", {"reading_id": "nope", "person": "Grandpa"}, blocking=True
        )
    assert err.value.translation_key == "unknown_reading"


async def test_implausible_device_value_rejected(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", SCALE, "Cuff", owner=family["Grandma"])
    # Decodes fine, but a systolic below the diastolic is not a measurement.
    result = await household.async_ingest_reading(source, decode("2a35", bp_bytes(80, 90)))
    assert result.status == "rejected"
    assert await hass.async_add_executor_job(household.store.count) == 0


async def test_readings_without_values_are_ignored(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    battery = decode("2a19", bytes([80]))
    result = await household.async_ingest_reading(DeviceSource("e", SCALE, "Scale"), battery)
    assert result.status == "no_values"


async def test_single_person_household_takes_everything(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    household = household_of(loaded_household)
    result = await household.async_ingest_reading(
        DeviceSource("e", SCALE, "Scale"), decode("2a9d", weight_bytes(64.0))
    )
    assert result.attribution == "only_person"


async def test_repair_flow_aborts(
    hass: HomeAssistant,
    hass_client: Any,
    loaded_household: MockConfigEntry,
    family: dict[str, str],
) -> None:
    assert await async_setup_component(hass, "repairs", {})
    household = household_of(loaded_household)
    held = await hold_cuff_reading(household)
    issue_id = f"reading_needs_person_{held.reading_id}"
    client = await hass_client()
    resp = await start_repair(client, issue_id)
    flow = await resp.json()
    assert flow["description_placeholders"]["device"] == "Cuff"
    # The held reading disappeared meanwhile (e.g. its person was forgotten).
    await hass.async_add_executor_job(household.store.delete_pending, held.reading_id)
    resp = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={"person": family["Grandpa"]}
    )
    result = await resp.json()
    assert (result["type"], result["reason"]) == ("abort", "reading_gone")
    # With the household unloaded there is nobody to choose from.
    held = await hold_cuff_reading(household, 129)
    await hass.config_entries.async_unload(loaded_household.entry_id)
    resp = await start_repair(client, f"reading_needs_person_{held.reading_id}")
    result = await resp.json()
    assert (result["type"], result["reason"]) == ("abort", "household_not_loaded")


async def test_assigned_reading_resent_is_not_held_again(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", "AA:AA:AA:AA:AA:03", "Cuff")
    stamp = (dt_util.now() - timedelta(hours=1)).replace(microsecond=0, tzinfo=None)
    held = await household.async_ingest_reading(source, decode("2a35", bp_bytes(131, 85, stamp)))
    assert held.status == "pending"
    await household.async_assign(held.reading_id, household.people[family["Grandma"]])
    again = await household.async_ingest_reading(source, decode("2a35", bp_bytes(131, 85, stamp)))
    assert (again.status, again.reading_id) == ("duplicate", held.reading_id)
    assert await hass.async_add_executor_job(household.store.list_pending) == {}


async def test_device_memory_goes_to_history_not_state(
    hass: HomeAssistant, loaded_household: MockConfigEntry, family: dict[str, str]
) -> None:
    household = household_of(loaded_household)
    source = DeviceSource("e", "AA:AA:AA:AA:AA:01", "Cuff", owner=family["Grandma"])
    # Downloaded from the cuff's memory: measured two hours before it arrived.
    stamp = (dt_util.now() - timedelta(hours=2)).replace(microsecond=0, tzinfo=None)
    result = await household.async_ingest_reading(source, decode("2a35", bp_bytes(150, 88, stamp)))
    assert result.status == "stored"
    assert hass.states.get("sensor.grandma_systolic_blood_pressure").state == "unknown"
    person = household.people[family["Grandma"]]
    # It still counts as a measurement for the "overdue" schedule.
    assert person.last_seen["systolic_bp"] == result.stored[0].time
