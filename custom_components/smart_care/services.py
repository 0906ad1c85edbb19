"""Services of Smart Care."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_register_admin_service
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
import voluptuous as vol

from .blueprint_install import async_setup_blueprint_services
from .care.alerts import AlertManager, get_alerts
from .care.medication import async_setup_medication_services
from .clinic.services import async_setup_clinic_services
from .const import ATTR_PERSON, DOMAIN, GLUCOSE_MGDL, GLUCOSE_MMOL
from .core.clinical.assessment import LimitError
from .core.clinical.plausibility import (
    REASON_NOT_FINITE,
    REASON_SYSTOLIC_NOT_ABOVE_DIASTOLIC,
    ImplausibleValueError,
)
from .core.clinical.vitals import (
    GLUCOSE_MGDL_PER_MMOLL,
    LB_TO_KG,
    Vital,
    VitalSample,
    fahrenheit_to_celsius,
)
from .household.alert_text import async_device_languages, supported_language
from .household.calls import (
    caller,
    require_household,
    resolve_person,
    service_error,
)
from .household.keys import SERVICE_ROTATE_KEY, async_rotate_key
from .privacy import async_setup_privacy_services

SERVICE_RECORD_MEASUREMENT = "record_measurement"
SERVICE_ASSIGN_READING = "assign_reading"
SERVICE_ACKNOWLEDGE_ALERT = "acknowledge_alert"
SERVICE_SNOOZE_ALERT = "snooze_alert"
SERVICE_RESOLVE_ALERT = "resolve_alert"
SERVICE_GET_ALERTS = "get_alerts"
SERVICE_SET_THRESHOLDS = "set_thresholds"
SERVICE_GET_LANGUAGES = "get_languages"

ATTR_TIME = "time"
ATTR_READING_ID = "reading_id"
ATTR_ALERT_ID = "alert_id"
ATTR_MINUTES = "minutes"
ATTR_THRESHOLDS = "thresholds"
ATTR_INCLUDE_RESOLVED = "include_resolved"
ATTR_TEMPERATURE_UNIT = "temperature_unit"
ATTR_WEIGHT_UNIT = "weight_unit"
ATTR_GLUCOSE_UNIT = "glucose_unit"


def _number(value: Any) -> float:
    """vol.Coerce(float) that also refuses numbers too large for a float (OverflowError)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as err:
        raise vol.Invalid("expected a number") from err


def _whole(value: Any) -> int:
    """vol.Coerce(int) that also refuses infinity and NaN instead of raising past the schema."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError) as err:
        raise vol.Invalid("expected a whole number") from err


SOURCE_MANUAL = "manual"

# Service field -> vital, in the unit the field is documented in.
FIELD_VITALS: dict[str, Vital] = {
    "systolic": Vital.SYSTOLIC_BP,
    "diastolic": Vital.DIASTOLIC_BP,
    "pulse": Vital.PULSE,
    "heart_rate": Vital.HEART_RATE,
    "spo2": Vital.SPO2,
    "respiration_rate": Vital.RESPIRATION_RATE,
    "temperature": Vital.TEMPERATURE,
    "weight": Vital.WEIGHT,
    "height": Vital.HEIGHT,
    "bmi": Vital.BMI,
    "body_fat": Vital.BODY_FAT,
    "glucose": Vital.GLUCOSE,
}

RECORD_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_PERSON, "who"): cv.string,
        vol.Exclusive(ATTR_DEVICE_ID, "who"): cv.string,
        vol.Optional(ATTR_TIME): cv.datetime,
        vol.Optional(ATTR_TEMPERATURE_UNIT, default="°C"): vol.In(["°C", "°F"]),
        vol.Optional(ATTR_WEIGHT_UNIT, default="kg"): vol.In(["kg", "lb"]),
        vol.Optional(ATTR_GLUCOSE_UNIT, default=GLUCOSE_MMOL): vol.In([GLUCOSE_MMOL, GLUCOSE_MGDL]),
        **{vol.Optional(field): _number for field in FIELD_VITALS},
    }
)


ASSIGN_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_READING_ID): cv.string,
        vol.Exclusive(ATTR_PERSON, "who"): cv.string,
        vol.Exclusive(ATTR_DEVICE_ID, "who"): cv.string,
    }
)


ALERT_SCHEMA = vol.Schema({vol.Required(ATTR_ALERT_ID): cv.string})
SNOOZE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_ALERT_ID): cv.string,
        vol.Optional(ATTR_MINUTES, default=30): vol.All(_whole, vol.Range(1, 1440)),
    }
)
GET_ALERTS_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_PERSON, "who"): cv.string,
        vol.Exclusive(ATTR_DEVICE_ID, "who"): cv.string,
        vol.Optional(ATTR_INCLUDE_RESOLVED, default=False): cv.boolean,
    }
)
THRESHOLDS_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_PERSON, "who"): cv.string,
        vol.Exclusive(ATTR_DEVICE_ID, "who"): cv.string,
        vol.Required(ATTR_THRESHOLDS): {cv.string: {cv.string: vol.Any(None, _number)}},
    }
)


def samples_from_fields(data: dict[str, Any], when: datetime) -> list[VitalSample]:
    """Convert service fields to canonical samples."""
    samples = []
    for field, vital in FIELD_VITALS.items():
        if field not in data:
            continue
        value: float = data[field]
        if vital is Vital.TEMPERATURE and data[ATTR_TEMPERATURE_UNIT] == "°F":
            value = round(fahrenheit_to_celsius(value), 2)
        elif vital is Vital.WEIGHT and data[ATTR_WEIGHT_UNIT] == "lb":
            value = round(value * LB_TO_KG, 3)
        elif vital is Vital.GLUCOSE and data[ATTR_GLUCOSE_UNIT] == GLUCOSE_MGDL:
            value = round(value / GLUCOSE_MGDL_PER_MMOLL, 2)
        samples.append(VitalSample(vital, value, when))
    return samples


async def _async_record_measurement(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    household = require_household(hass)
    person = resolve_person(hass, household, dict(call.data))
    when = call.data.get(ATTR_TIME)
    now = dt_util.now()
    if when is None:
        when = now
    elif when.tzinfo is None:
        when = when.replace(tzinfo=dt_util.get_default_time_zone())
    if when > now + timedelta(minutes=5):
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="time_in_future")
    samples = samples_from_fields(dict(call.data), when)
    if not samples:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_values")
    try:
        stored = await household.async_record(person, samples, SOURCE_MANUAL, context=call.context)
    except ImplausibleValueError as err:
        raise implausible_error(err) from err
    return {
        "stored": len(stored),
        "duplicates": len(samples) - len(stored),
        "time": when.isoformat(),
    }


async def _async_assign_reading(call: ServiceCall) -> ServiceResponse:
    household = require_household(call.hass)
    person = resolve_person(call.hass, household, dict(call.data))
    try:
        stored = await household.async_assign(call.data[ATTR_READING_ID], person)
    except KeyError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="unknown_reading"
        ) from err
    return {"assigned": len(stored)}


def implausible_error(err: ImplausibleValueError) -> ServiceValidationError:
    """The plausibility error, fully translatable: one key per vital and reason."""
    if err.reason == REASON_SYSTOLIC_NOT_ABOVE_DIASTOLIC:
        key = REASON_SYSTOLIC_NOT_ABOVE_DIASTOLIC
    elif err.reason == REASON_NOT_FINITE:
        key = "implausible_not_finite"
    elif err.vital is not None:
        key = f"implausible_{err.vital.value}"
    else:
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="implausible_value",
            translation_placeholders={"reason": str(err)},
        )
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=dict(err.placeholders),
    )


async def _async_alert_action(call: ServiceCall) -> ServiceResponse:
    """acknowledge_alert, snooze_alert, resolve_alert: the alert's new status."""
    alerts, alert_id, by = _alerts(call.hass), call.data[ATTR_ALERT_ID], caller(call)
    try:
        if call.service == SERVICE_SNOOZE_ALERT:
            alert = await alerts.async_snooze(alert_id, call.data[ATTR_MINUTES], by, call.context)
            return {"status": alert.status, "snoozed_until": alert.snoozed_until}
        if call.service == SERVICE_ACKNOWLEDGE_ALERT:
            alert = await alerts.async_acknowledge(alert_id, by, call.context)
        else:
            alert = await alerts.async_resolve(alert_id, by, call.context)
    except KeyError as err:
        raise service_error("unknown_alert") from err
    return {"status": alert.status}


async def _async_get_alerts(call: ServiceCall) -> ServiceResponse:
    household = require_household(call.hass)
    person_id = None
    if ATTR_PERSON in call.data or ATTR_DEVICE_ID in call.data:
        person_id = resolve_person(call.hass, household, dict(call.data)).person_id
    if call.data[ATTR_INCLUDE_RESOLVED]:
        rows = await household.record.alerts(person_id=person_id)
    else:
        rows = [a.as_record() for a in _alerts(call.hass).active_alerts(person_id)]
    return {"alerts": cast(list[JsonValueType], rows)}


async def _async_set_thresholds(call: ServiceCall) -> None:
    household = require_household(call.hass)
    person = resolve_person(call.hass, household, dict(call.data))
    try:
        await _alerts(call.hass).async_set_thresholds(person, call.data[ATTR_THRESHOLDS])
    except LimitError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=f"thresholds_{err.reason}",
            translation_placeholders=dict(err.placeholders),
        ) from err
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_thresholds",
            translation_placeholders={"reason": str(err)},
        ) from err


async def _async_get_languages(call: ServiceCall) -> ServiceResponse:
    """Which language each reader reads, for blueprints choosing their built-in texts."""
    devices: dict[str, JsonValueType] = dict(await async_device_languages(call.hass))
    return {"system": supported_language(call.hass.config.language), "devices": devices}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the services (once, at integration setup)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RECORD_MEASUREMENT,
        _async_record_measurement,
        schema=RECORD_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    for name, handler, schema in (
        (SERVICE_ACKNOWLEDGE_ALERT, _async_alert_action, ALERT_SCHEMA),
        (SERVICE_SNOOZE_ALERT, _async_alert_action, SNOOZE_SCHEMA),
        (SERVICE_RESOLVE_ALERT, _async_alert_action, ALERT_SCHEMA),
        (SERVICE_GET_ALERTS, _async_get_alerts, GET_ALERTS_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL
        )
    # Limits decide who gets woken at night: only administrators may change them here.
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_SET_THRESHOLDS,
        _async_set_thresholds,
        schema=THRESHOLDS_SCHEMA,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_LANGUAGES,
        _async_get_languages,
        schema=vol.Schema({}),
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ASSIGN_READING,
        _async_assign_reading,
        schema=ASSIGN_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    # A new data key and every row re-encrypted under it: administrators only.
    async_register_admin_service(hass, DOMAIN, SERVICE_ROTATE_KEY, async_rotate_key)
    async_setup_medication_services(hass)
    async_setup_clinic_services(hass)
    async_setup_blueprint_services(hass)
    async_setup_privacy_services(hass)


def _alerts(hass: HomeAssistant) -> AlertManager:
    if (alerts := get_alerts(hass)) is None:
        raise service_error("no_household")
    return alerts
