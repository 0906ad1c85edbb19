"""The visit report in Home Assistant: the service and the printable page (docs/visit-report.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from homeassistant.components import panel_custom
from homeassistant.components.http import (  # type: ignore[attr-defined,unused-ignore]
    StaticPathConfig,  # re-exported, not listed as exported on HA 2026
)
from homeassistant.components.http.const import KEY_HASS_USER
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
import voluptuous as vol

from ..const import (
    CONF_ALLERGIES,
    CONF_BIRTH_DATE,
    CONF_CONDITIONS,
    CONF_GLUCOSE_UNIT,
    CONF_ID_NUMBER,
    CONF_SEX,
    DOMAIN,
    GLUCOSE_MMOL,
)
from ..core.clinical.report import (
    MedicationPlan,
    ReportPeriod,
    Targets,
    build_report,
    default_period,
)
from ..core.clinical.report_html import render_html
from ..household.alert_text import _async_user_language, async_common_texts, supported_language
from ..household.calls import require_household, resolve_person
from ..household.profile import as_items
from ..household.runtime import get_household
from .alerts import SETTING_THRESHOLDS
from .medication import SETTING_ADHERENCE, async_get_medications

if TYPE_CHECKING:
    from ..household.runtime import Household, Person

SERVICE_VISIT_REPORT = "visit_report"
# Sends a report to the household's clinics; returns how many. The clinic feature provides
# it (care does not import clinic: the wiring in __init__ hands it over).
type ReportSender = Callable[[HomeAssistant, str, dict[str, Any]], Awaitable[int]]
DATA_REPORT_SENDER: HassKey[ReportSender] = HassKey(f"{DOMAIN}_report_sender")
REPORT_URL = "/smart_care/report/{person_id}"
PANEL_PATH = "smart-care-report"
PANEL_JS = Path(__file__).parent.parent / "frontend" / "smart-care-report-panel.js"
PANEL_JS_URL = "/smart_care_static/smart-care-report-panel.js"
# Longest period one report covers (a year of twice-daily readings stays a fast page).
MAX_DAYS = 366
_TEXT_PREFIX = "report_"

VISIT_REPORT_SCHEMA = vol.Schema(
    {
        vol.Exclusive("person", "who"): cv.string,
        vol.Exclusive("device_id", "who"): cv.string,
        vol.Optional("start"): cv.date,
        vol.Optional("end"): cv.date,
        vol.Optional("send_to_clinic", default=False): cv.boolean,
    }
)


def _targets(overrides: dict[str, Any]) -> Targets:
    """Home targets: what the clinic or household set, else the guideline values."""
    defaults = Targets()

    def limit(vital: str, name: str, default: float) -> float:
        value = (overrides.get(vital) or {}).get(name)
        return float(value) if isinstance(value, int | float) else default

    return Targets(
        systolic=limit("systolic_bp", "warning_high", defaults.systolic),
        diastolic=limit("diastolic_bp", "warning_high", defaults.diastolic),
        glucose_low=limit("glucose", "warning_low", defaults.glucose_low),
        glucose_high=limit("glucose", "warning_high", defaults.glucose_high),
    )


def report_period(start: date | None, end: date | None) -> ReportPeriod:
    """The period asked for; ``ValueError`` naming the field when it makes no sense."""
    tz = dt_util.get_default_time_zone()
    default = default_period(dt_util.now().date(), tz)
    if start is None and end is None:
        return default
    if end is None:
        end = default.end if start is None or start <= default.end else start
    if start is None:
        start = end - timedelta(days=default.days - 1)
    if end < start:
        raise ValueError("end")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError("start")
    return ReportPeriod(start, end, tz)


async def async_build(
    hass: HomeAssistant, household: Household, person: Person, period: ReportPeriod
) -> dict[str, Any]:
    """Read what the period needs from the record and compute the report."""
    record = household.record
    person_id = person.person_id
    rows = [
        row
        for row in await record.history(person_id, since=period.start_utc)
        if row.time < period.end_utc
    ]
    alert_records = await record.alerts(person_id=person_id)
    settings = await record.get_settings(person_id)
    advice = await record.advice(person_id)
    medications = await async_get_medications(hass, household, person_id)
    report = build_report(
        period=period,
        now=dt_util.utcnow(),
        measurements=rows,
        targets=_targets(settings.get(SETTING_THRESHOLDS) or {}),
        schedule=person.schedule,
        alert_records=alert_records,
        medications=[
            MedicationPlan(m.medication_id, m.text, m.times) for m in medications.values()
        ],
        answers=settings.get(SETTING_ADHERENCE) or [],
        advice_records=advice,
    )
    # Who acknowledged from a phone is stored by HA user id: the report names them.
    for item in report["alerts"]["items"]:
        by = str(item.get("acknowledged_by") or "")
        if by.startswith("mobile_app:"):
            user = await hass.auth.async_get_user(by.removeprefix("mobile_app:"))
            if user is not None and user.name:
                item["acknowledged_by"] = f"user:{user.name}"
    report["person"] = person.alias
    return report


async def _async_visit_report(call: ServiceCall) -> ServiceResponse:
    household = require_household(call.hass)
    person = resolve_person(call.hass, household, dict(call.data))
    try:
        period = report_period(call.data.get("start"), call.data.get("end"))
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_report_period",
            translation_placeholders={"field": str(err)},
        ) from err
    report = await async_build(call.hass, household, person, period)
    sent = 0
    if call.data["send_to_clinic"] and (send := call.hass.data.get(DATA_REPORT_SENDER)):
        sent = await send(call.hass, person.person_id, report)
    report.pop("rests_on")  # row ids: internal to the record
    return cast(ServiceResponse, report | {"sent_to_clinics": sent})


class VisitReportView(HomeAssistantView):
    """The printable visit report of one person, for logged-in users."""

    url = REPORT_URL
    name = "smart_care:report"
    requires_auth = True

    async def get(self, request: web.Request, person_id: str) -> web.Response:
        """Render the page."""
        hass = request.app[KEY_HASS]
        user = request[KEY_HASS_USER]
        household = get_household(hass)
        person = household.people.get(person_id) if household else None
        language = request.query.get("lang")
        if language is None:
            chosen = await _async_user_language(hass, user.id)
            language = chosen or hass.config.language
        language = supported_language(language)
        texts = {
            key.removeprefix(_TEXT_PREFIX): value
            for key, value in (await async_common_texts(hass, language)).items()
            if key.startswith(_TEXT_PREFIX)
        }
        if household is None or person is None:
            return web.Response(
                text=texts.get("unknown_person", "Unknown person"),
                status=HTTPStatus.NOT_FOUND,
            )
        try:
            period = report_period(
                _query_date(request, "start"),
                _query_date(request, "end"),
            )
        except ValueError as err:
            return web.Response(text=f"invalid {err}", status=HTTPStatus.BAD_REQUEST)
        report = await async_build(hass, household, person, period)
        identity = None
        if user.is_admin:
            profile = await household.record.get_profile(person.person_id)
            identity = _identity(profile or {})
        page = render_html(
            report,
            person=person.alias,
            texts=texts,
            language=language,
            period=period,
            identity=identity,
            glucose_unit=household.entry.options.get(CONF_GLUCOSE_UNIT, GLUCOSE_MMOL),
        )
        return web.Response(
            text=page,
            content_type="text/html",
            # Health data: never kept by a shared browser or proxy.
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )


def _query_date(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(name) from None


def _identity(profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "birth_date": profile.get(CONF_BIRTH_DATE),
        "sex": profile.get(CONF_SEX),
        "id_number": profile.get(CONF_ID_NUMBER),
        "conditions": as_items(profile.get(CONF_CONDITIONS)),
        "allergies": as_items(profile.get(CONF_ALLERGIES)),
    }


async def async_setup_report(hass: HomeAssistant, sender: ReportSender | None = None) -> None:
    """Register the service; the page and its panel when HA serves HTTP and a frontend.

    ``sender`` queues a report for the clinics (``send_to_clinic``).
    """
    if sender is not None:
        hass.data[DATA_REPORT_SENDER] = sender
    hass.services.async_register(
        DOMAIN,
        SERVICE_VISIT_REPORT,
        _async_visit_report,
        schema=VISIT_REPORT_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    if "http" not in hass.config.components:
        return
    hass.http.register_view(VisitReportView())
    await async_register_report_panel(hass)


async def async_register_report_panel(hass: HomeAssistant) -> bool:
    """The report as a frontend panel (for the person device page); False without frontend."""
    if "frontend" not in hass.config.components:
        return False
    await hass.http.async_register_static_paths(
        [StaticPathConfig(PANEL_JS_URL, str(PANEL_JS), cache_headers=False)]
    )
    # No sidebar entry: the person device page's link opens it (report_link()).
    await panel_custom.async_register_panel(
        hass,
        frontend_url_path=PANEL_PATH,
        webcomponent_name="smart-care-report-panel",
        module_url=PANEL_JS_URL,
        require_admin=False,
    )
    return True


def report_link(person_id: str) -> str:
    """The person device's configuration_url: the report inside the frontend."""
    return f"homeassistant://{PANEL_PATH}/{person_id}"
