"""family_alert.yaml pushes each phone in its owner's language (real mobile_app phones)."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_mock_service,
)

from custom_components.smart_care.const import DOMAIN
from tests.conftest import add_person
from tests.support.blueprint_support import (
    at,
    config_dir_fixture,  # noqa: F401  (autouse fixture)
    make_phone_factory,
    record,
    setup_blueprint_automations,
)

BLUEPRINT = "family_alert.yaml"


async def test_push_in_the_phone_owners_language(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    hass_client: Any,
    hass_admin_user: MockUser,
    hass_ws_client: Any,
    aiohttp_server: Any,
    freezer: FrozenDateTimeFactory,
) -> None:
    await add_person(hass, loaded_household, alias="Grandma")
    # Dad's phone is logged in as the admin user, who switched his profile to Chinese in
    # the frontend; the aunt's phone belongs to a user who never chose a language.
    assert await async_setup_component(hass, "frontend", {})
    # mobile_app registers HTTP views: set it up before the websocket client starts the
    # HTTP app (HA 2026 refuses routes added to a started app).
    dad_factory = await make_phone_factory(hass, hass_client, hass_admin_user, aiohttp_server)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "frontend/set_user_data",
            "key": "language",
            "value": {"language": "zh-Hans", "number_format": "language"},
        }
    )
    assert (await client.receive_json())["success"]
    # Midday: outside the default quiet hours, so the urgent NEWS2 alert is pushed too.
    freezer.move_to("2025-04-15 12:00:00-07:00")
    aunt_user = MockUser(name="Aunt").add_to_hass(hass)
    dad = await dad_factory("Dad's iPhone")
    aunt = await (await make_phone_factory(hass, hass_client, aunt_user, aiohttp_server))(
        "Aunt Pixel"
    )
    await setup_blueprint_automations(
        hass,
        BLUEPRINT,
        {"phones": [dad.device_id, aunt.device_id], "phone_number": "+86 138 0000 0000"},
    )

    await record(hass, spo2=85)

    dad_pushes = dad.take()
    (dad_push,) = [p for p in dad_pushes if p["message"].startswith("血氧饱和度")]
    assert dad_push["title"] == "Grandma：危急健康告警"
    assert dad_push["message"] == (
        "血氧饱和度 85 %，已达到或低于危急界限 87 %。请立即复测并陪在身边。"
        "如果结果确认或感觉不适，请拨打急救电话 120。"
    )
    assert [a["title"] for a in dad_push["data"]["actions"]] == [
        "确认",
        "稍后提醒（30 分钟）",
        "呼叫",
    ]
    # Critical still breaks through Do Not Disturb, whatever the language.
    assert dad_push["data"]["channel"] == "alarm_stream"
    # The NEWS2 alert SpO2 85 % raised reaches him in Chinese too, in words.
    (dad_news2,) = [p for p in dad_pushes if p["message"].startswith("早期预警评分")]
    assert "呼吸频率" in dad_news2["message"]
    assert "respiration_rate" not in dad_news2["message"]

    (aunt_push,) = [p for p in aunt.take() if p["message"].startswith("Oxygen saturation")]
    assert aunt_push["title"] == "Grandma: critical health alert"
    assert aunt_push["message"].startswith(
        "Oxygen saturation 85 % is at or below the critical limit of 87 %."
    )
    assert [a["title"] for a in aunt_push["data"]["actions"]] == [
        "Acknowledge",
        "Snooze 30 min",
        "Call",
    ]


async def test_measurement_reminder_in_the_system_language(
    hass: HomeAssistant,
    hass_client: Any,
    hass_admin_user: MockUser,
    aiohttp_server: Any,
    household_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    # A Chinese home: the system language is Simplified Chinese; nobody chose another one.
    hass.config.language = "zh-Hans"
    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    freezer.move_to("2025-04-15 06:00:00-07:00")
    await add_person(hass, household_entry, alias="Grandma")
    registry = er.async_get(hass)
    (sensor,) = [
        e.entity_id
        for e in er.async_entries_for_config_entry(registry, household_entry.entry_id)
        if e.unique_id.endswith("_systolic_bp")
    ]
    tablet = await (await make_phone_factory(hass, hass_client, hass_admin_user, aiohttp_server))(
        "Grandma's iPad"
    )
    response = await hass.services.async_call(
        DOMAIN, "get_languages", {}, blocking=True, return_response=True
    )
    assert response == {"system": "zh-Hans", "devices": {tablet.device_id: "zh-Hans"}}
    await setup_blueprint_automations(
        hass,
        "measurement_reminder.yaml",
        {"vital_sensor": sensor, "reminder_time": "08:00:00", "phones": [tablet.device_id]},
    )
    await at(hass, freezer, "2025-04-15 08:00:00-07:00")
    (push,) = tablet.take()
    assert push["title"] == "Grandma：该测量了"
    assert push["message"] == "请现在测量收缩压。"


async def test_medication_reminder_in_chinese(
    hass: HomeAssistant,
    hass_client: Any,
    hass_admin_user: MockUser,
    aiohttp_server: Any,
    household_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.config.language = "zh-Hans"
    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    freezer.move_to("2025-04-15 07:59:00-07:00")
    await add_person(hass, household_entry, alias="Grandma", medications="Metformin 500 mg 08:00")
    phones = await make_phone_factory(hass, hass_client, hass_admin_user, aiohttp_server)
    tablet = await phones("Grandma's iPad")
    dad = await phones("Dad's iPhone")
    await setup_blueprint_automations(
        hass,
        "medication_reminder.yaml",
        {"phones": [tablet.device_id], "family_phones": [dad.device_id], "grace_minutes": 30},
    )
    await at(hass, freezer, "2025-04-15 08:00:00-07:00")
    (push,) = tablet.take()
    assert push["title"] == "Grandma：该用药了"
    assert push["message"] == "该服用Metformin 500 mg了（08:00）。"
    assert [a["title"] for a in push["data"]["actions"]] == ["已服用", "跳过", "15 分钟后"]
    await at(hass, freezer, "2025-04-15 08:30:05-07:00")
    (missed,) = dad.take()
    assert missed["title"] == "Grandma：用药未确认"
    assert missed["message"] == "Metformin 500 mg（08:00）尚未确认服用。"


async def test_daily_checkin_in_chinese(
    hass: HomeAssistant,
    hass_client: Any,
    hass_admin_user: MockUser,
    aiohttp_server: Any,
    household_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.config.language = "zh-Hans"
    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    await add_person(hass, household_entry, alias="Grandma")
    freezer.move_to("2025-04-15 06:00:00-07:00")
    hass.states.async_set("binary_sensor.hall_motion", "off")
    speak = async_mock_service(hass, "tts", "speak")
    phones = await make_phone_factory(hass, hass_client, hass_admin_user, aiohttp_server)
    tablet = await phones("Grandma's iPad")
    dad = await phones("Dad's iPhone")
    await setup_blueprint_automations(
        hass,
        "daily_checkin.yaml",
        {
            "sensors": ["binary_sensor.hall_motion"],
            "day_start": "07:00:00",
            "day_end": "21:00:00",
            "quiet_hours": 4,
            "person_name": "奶奶",
            "phones": [tablet.device_id],
            "answer_minutes": 15,
            "family_phones": [dad.device_id],
            "tts_entity": "tts.home_assistant_cloud",
            "media_players": ["media_player.kitchen"],
        },
    )
    await at(hass, freezer, "2025-04-15 11:00:00-07:00")
    (prompt,) = tablet.take()
    assert prompt["title"] == "您还好吗？"
    assert (
        prompt["message"] == "自 07:00 起没有察觉到任何活动。请点击“我很好”，让家人知道一切正常。"
    )
    assert [a["title"] for a in prompt["data"]["actions"]] == ["我很好"]
    (said,) = speak
    assert said.data["message"] == "奶奶，您还好吗？请在平板上回答。"
    await at(hass, freezer, "2025-04-15 11:15:01-07:00")
    (alert,) = dad.take()
    assert alert["title"] == "签到未回复：奶奶"
    assert alert["message"] == (
        "自 07:00 起家中没有活动，也没有人回答“您还好吗？”。请查看奶奶的情况。"
    )
