"""The visit report in Home Assistant: the service's figures and the page served to users.

Readings go in through ``smart_care.record_measurement`` (the real path to the record);
the figures are checked against a hand calculation, the page over real HTTP.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.care.report import async_register_report_panel
from custom_components.smart_care.const import DOMAIN
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_TEXT
from tests.support.clinic_support import alerts

TZ = "Asia/Shanghai"
TODAY = "2026-03-16T09:00:00+08:00"


async def _record(hass: HomeAssistant, when: str, **values: Any) -> None:
    await hass.services.async_call(
        DOMAIN,
        "record_measurement",
        {"person": "Grandma", "time": when, **values},
        blocking=True,
        return_response=True,
    )


@pytest.fixture
async def measured(hass: HomeAssistant, grandma: str, freezer: FrozenDateTimeFactory) -> str:
    """Grandma measured 1-11 March 2026 (the 4 weeks before 16 March: 16 Feb - 15 March)."""
    await hass.config.async_update(time_zone=TZ)
    freezer.move_to(TODAY)
    # 1 March: the first day, discarded (ESH).
    await _record(hass, "2026-03-01T07:00:00+08:00", systolic=170, diastolic=100, pulse=90)
    for day in range(2, 12):  # 2..11 March, mornings 140/90 and evenings 130/80
        await _record(
            hass, f"2026-03-{day:02d}T07:00:00+08:00", systolic=140, diastolic=90, pulse=70
        )
        await _record(
            hass, f"2026-03-{day:02d}T19:30:00+08:00", systolic=130, diastolic=80, pulse=60
        )
    # Glucose, one typed in mg/dL (90.08 mg/dL = 5.0 mmol/L), one low.
    await _record(hass, "2026-03-03T08:00:00+08:00", glucose=6.0)
    await _record(hass, "2026-03-04T08:00:00+08:00", glucose=3.5)
    await _record(hass, "2026-03-05T08:00:00+08:00", glucose=90.08, glucose_unit="mg/dL")
    await hass.async_block_till_done()
    return grandma


async def test_service_returns_the_figures(hass: HomeAssistant, measured: str) -> None:
    report = await hass.services.async_call(
        DOMAIN, "visit_report", {"person": "Grandma"}, blocking=True, return_response=True
    )
    assert report is not None
    assert report["person"] == "Grandma"
    assert report["period"] == {
        "start": "2026-02-16",
        "end": "2026-03-15",
        "days": 28,
        "time_zone": TZ,
    }
    bp = report["blood_pressure"]
    assert bp["first_day"] == "2026-03-01"
    assert bp["first_day_discarded"] == 1
    # 20 kept: (10*140 + 10*130) / 20 = 135, (10*90 + 10*80) / 20 = 85; ten at/above 135/85
    assert bp["overall"]["systolic"] == {"value": 135, "n": 20, "minimum": 12}
    assert bp["overall"]["diastolic"]["value"] == 85
    assert bp["above_target"]["share"] == {"value": 50, "n": 20, "minimum": 12}
    assert bp["pulse"]["value"] == 65
    # Glucose 6.0, 3.5, 5.0: mean 14.5 / 3 = 4.83 -> 4.8; one below 3.9
    assert report["glucose"]["mean"] == {"value": 4.8, "n": 3, "minimum": 3}
    assert report["glucose"]["below"]["count"] == 1
    # Grandma's Metformin at 08:00: 28 doses due, none answered
    (metformin,) = report["medication"]
    assert (metformin["due"], metformin["missed"]) == (28, 28)
    assert "rests_on" not in report


async def test_service_period_and_errors(hass: HomeAssistant, measured: str) -> None:
    report = await hass.services.async_call(
        DOMAIN,
        "visit_report",
        {"person": "Grandma", "start": "2026-03-08", "end": "2026-03-09"},
        blocking=True,
        return_response=True,
    )
    assert report is not None
    # Two days only: 8 March is the first day of the period's readings, 9 March kept.
    assert report["blood_pressure"]["overall"]["systolic"] == {
        "value": None,
        "n": 2,
        "minimum": 12,
    }
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "visit_report",
            {"person": "Grandma", "start": "2026-03-09", "end": "2026-03-08"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "invalid_report_period"
    assert err.value.translation_placeholders == {"field": "end"}
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "visit_report", {"person": "Nobody"}, blocking=True, return_response=True
        )
    assert err.value.translation_key == "unknown_person"


def _person_id(hass: HomeAssistant, entry: MockConfigEntry, subentry_id: str) -> str:
    return str(entry.subentries[subentry_id].data["person_id"])


async def test_page_for_an_admin_shows_identity(
    hass: HomeAssistant,
    measured: str,
    loaded_household: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    person_id = _person_id(hass, loaded_household, measured)
    client = await hass_client()
    response = await client.get(f"/smart_care/report/{person_id}?lang=en")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    assert "Visit report · Grandma" in page
    assert "135/85 mmHg" in page
    assert "20 readings" in page
    assert "16 Feb 2026 to 15 Mar 2026 (28 days)" in page
    assert "@page { size: A4" in page
    assert page.count("<svg") == 2
    assert SENTINEL_ID in page
    assert SENTINEL_BIRTH in page


async def test_page_for_a_family_member_in_chinese_has_no_identity(
    hass: HomeAssistant,
    measured: str,
    loaded_household: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
) -> None:
    person_id = _person_id(hass, loaded_household, measured)
    client = await hass_client(hass_read_only_access_token)
    response = await client.get(f"/smart_care/report/{person_id}?lang=zh-Hans")
    assert response.status == 200
    page = await response.text()
    assert '<html lang="zh-Hans">' in page
    assert "就诊报告 · Grandma" in page
    assert "2026年2月16日至2026年3月15日（28天）" in page
    assert "135/85 mmHg" in page
    for sentinel in (SENTINEL_ID, SENTINEL_BIRTH, SENTINEL_TEXT):
        assert sentinel not in page


async def test_page_refuses_strangers_and_bad_input(
    hass: HomeAssistant,
    measured: str,
    loaded_household: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    person_id = _person_id(hass, loaded_household, measured)
    anonymous = await hass_client_no_auth()
    assert (await anonymous.get(f"/smart_care/report/{person_id}")).status == 401
    client = await hass_client()
    assert (await client.get("/smart_care/report/not-a-person")).status == 404
    bad = await client.get(f"/smart_care/report/{person_id}?start=March")
    assert bad.status == 400
    assert "start" in await bad.text()
    too_long = await client.get(f"/smart_care/report/{person_id}?start=2024-01-01&end=2026-01-01")
    assert too_long.status == 400


async def test_person_device_links_to_the_report(
    hass: HomeAssistant,
    measured: str,
    loaded_household: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    person_id = _person_id(hass, loaded_household, measured)
    # (async_get_device is deprecated on HA 2026: look through the entry's devices)
    registry = dr.async_get(hass)
    (device,) = [
        d
        for d in dr.async_entries_for_config_entry(registry, loaded_household.entry_id)
        if (DOMAIN, person_id) in d.identifiers
    ]
    # The frontend opens homeassistant://<path> as /<path>: the report panel.
    assert device.configuration_url == f"homeassistant://smart-care-report/{person_id}"
    assert await async_setup_component(hass, "frontend", {})
    assert await async_register_report_panel(hass)
    panels = hass.data["frontend_panels"]
    panel = panels["smart-care-report"]
    assert panel.sidebar_title is None  # reached from the device page, not the sidebar
    assert panel.require_admin is False
    client = await hass_client()
    module = panel.config["_panel_custom"]["module_url"]
    script = await (await client.get(module)).text()
    assert "auth/sign_path" in script
    assert "/smart_care/report/" in script


async def test_alert_acknowledged_from_a_phone_names_the_user(
    hass: HomeAssistant,
    measured: str,
    hass_admin_user: MockUser,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _record(hass, "2026-03-16T08:55:00+08:00", systolic=186, diastolic=112)
    (alert,) = [a for a in alerts(hass).active_alerts() if a.vital == "systolic_bp"]
    freezer.tick(timedelta(minutes=7))
    # The family phone's "Acknowledge" button, as mobile_app reports it.
    hass.bus.async_fire(
        "mobile_app_notification_action",
        {"action": f"SMART_CARE_ACK_{alert.alert_id}"},
        context=Context(user_id=hass_admin_user.id),
    )
    await hass.async_block_till_done()
    report = await hass.services.async_call(
        DOMAIN,
        "visit_report",
        {"person": "Grandma", "start": "2026-03-16", "end": "2026-03-16"},
        blocking=True,
        return_response=True,
    )
    assert report is not None
    (item,) = [i for i in report["alerts"]["items"] if i["code"] == alert.code]
    assert item["acknowledged_by"] == f"user:{hass_admin_user.name}"
    assert item["minutes_to_acknowledge"] == 7
    assert item["severity"] == "urgent"  # 186/112: ESC/ESH grade 3
