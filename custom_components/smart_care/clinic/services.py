"""Services the care blueprints build on: clinic hand-off, emergency escalation, reminders.

Notes: docs/modules.md (clinic/services.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
from typing import TYPE_CHECKING, Any, cast

from homeassistant.const import (
    ATTR_LATITUDE,
    ATTR_LONGITUDE,
    STATE_HOME,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
import voluptuous as vol

from ..care.alerts import get_alerts
from ..const import CONF_SHARE_LOCATION, DOMAIN, SCOPE_ALERTS
from ..core.boundary import BoundaryError, check_text
from ..core.clinical.vitals import Vital
from ..household.calls import (
    async_require_admin,
    caller,
    require_household,
    service_error,
)
from ..household.contacts import notify_targets
from .bridge import ClinicBridge, get_bridge

if TYPE_CHECKING:
    from ..care.alerts import Alert
    from ..core.store.record_store import RecordStore

_LOGGER = logging.getLogger(__name__)

SERVICE_NOTIFY_CLINIC = "notify_clinic"
SERVICE_NOTIFY_EMERGENCY_CONTACTS = "notify_emergency_contacts"
SERVICE_EMERGENCY_LOCATION = "emergency_location"
SERVICE_GET_LAST_MEASUREMENT = "get_last_measurement"
SERVICE_CLEAR_TOTP_LOCKOUT = "clear_totp_lockout"
ATTR_CLINIC = "clinic"

ATTR_ALERT_ID = "alert_id"
ATTR_MESSAGE = "message"
ATTR_TITLE = "title"
ATTR_TARGETS = "targets"
ATTR_PERSON_CONTACTS = "person_contacts"
ATTR_ENTITY_ID = "entity_id"

SEVERITY_CRITICAL = "critical"
# Disclosures kept per person in the record (newest last).
SETTING_LOCATION_LOG = "emergency_location_log"
MAX_LOCATION_LOG = 100
LAST_MEASUREMENT_KEY = "last_measurement"


def bounded_text(name: str, max_len: int) -> Callable[[str], str]:
    """A validator passing service text through the input boundary (``core.boundary``)."""

    def _check(value: str) -> str:
        try:
            return check_text(value, name, max_len)
        except BoundaryError as err:
            raise vol.Invalid(err.message) from None

    return _check


NOTIFY_CLINIC_SCHEMA = vol.Schema({vol.Required(ATTR_ALERT_ID): cv.string})
EMERGENCY_CONTACTS_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_ALERT_ID): cv.string,
        vol.Required(ATTR_MESSAGE): vol.All(
            cv.string, vol.Length(min=1, max=2000), bounded_text(ATTR_MESSAGE, 2000)
        ),
        vol.Optional(ATTR_TITLE): vol.All(cv.string, bounded_text(ATTR_TITLE, 200)),
        vol.Optional(ATTR_TARGETS, default=list): vol.All(cv.ensure_list, [cv.string]),
        vol.Optional(ATTR_PERSON_CONTACTS, default=True): cv.boolean,
    }
)
EMERGENCY_LOCATION_SCHEMA = vol.Schema({vol.Required(ATTR_ALERT_ID): cv.string})
LAST_MEASUREMENT_SCHEMA = vol.Schema({vol.Required(ATTR_ENTITY_ID): cv.entity_id})
CLEAR_TOTP_LOCKOUT_SCHEMA = vol.Schema(
    {vol.Required(ATTR_CLINIC): vol.All(cv.string, bounded_text(ATTR_CLINIC, 200))}
)


def linked_clinic(hass: HomeAssistant) -> ClinicBridge | None:
    """The household's clinic bridge when a clinic link shares alerts, else None."""
    bridge = get_bridge(hass)
    return bridge if bridge is not None and bridge.links_with(SCOPE_ALERTS) else None


def _alert(hass: HomeAssistant, alert_id: str) -> Alert:
    try:
        if (alerts := get_alerts(hass)) is None:
            raise KeyError(alert_id)
        return alerts.get(alert_id)
    except KeyError as err:
        raise service_error("unknown_alert") from err


async def _async_notify_clinic(call: ServiceCall) -> ServiceResponse:
    require_household(call.hass)  # "no household" before "no clinic"
    clinic = linked_clinic(call.hass)
    if clinic is None:
        raise service_error("no_clinic_linked")
    alert = _alert(call.hass, call.data[ATTR_ALERT_ID])
    queued = await clinic.async_enqueue_alert(alert.as_record())
    return {"queued": queued}


async def _async_notify_emergency_contacts(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    household = require_household(hass)
    alert = _alert(hass, call.data[ATTR_ALERT_ID])
    person = household.people.get(alert.person_id)
    targets: list[str] = []
    if call.data[ATTR_PERSON_CONTACTS] and person is not None:
        # People stand for their phones; notify services are called as they are.
        targets.extend(notify_targets(hass, person.emergency_contacts))
    targets.extend(call.data[ATTR_TARGETS])
    targets = list(dict.fromkeys(t.strip() for t in targets if t.strip()))
    if not targets:
        raise service_error("no_emergency_contacts")
    data: dict[str, Any] = {ATTR_MESSAGE: call.data[ATTR_MESSAGE]}
    if title := call.data.get(ATTR_TITLE):
        data[ATTR_TITLE] = title

    async def _send(target: str) -> bool:
        domain, _, service = target.partition(".")
        # Only notify services: this must never become a way to call any service by name.
        if domain != "notify" or not service:
            _LOGGER.warning("Emergency contact %s is not a notify service; skipped", target)
            return False
        try:
            await hass.services.async_call(
                domain, service, data, blocking=True, context=call.context
            )
        except (HomeAssistantError, vol.Invalid) as err:
            _LOGGER.warning("Emergency notification via %s failed (%s)", target, type(err).__name__)
            return False
        return True

    results = await asyncio.gather(*(_send(target) for target in targets))
    sent = [t for t, ok in zip(targets, results, strict=True) if ok]
    failed = [t for t, ok in zip(targets, results, strict=True) if not ok]
    if not sent:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="emergency_notify_failed",
            translation_placeholders={"targets": ", ".join(failed)},
        )
    return {"sent": cast(list[JsonValueType], sent), "failed": cast(list[JsonValueType], failed)}


def _location_of(hass: HomeAssistant, entity_id: str | None) -> dict[str, Any] | None:
    """Coordinates of a person entity: its GPS, or else the zone it is in."""
    if not entity_id or (state := hass.states.get(entity_id)) is None:
        return None
    if state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        return None
    latitude = state.attributes.get(ATTR_LATITUDE)
    longitude = state.attributes.get(ATTR_LONGITUDE)
    if latitude is None or longitude is None:
        # Presence without GPS (e.g. a router tracker): the zone's own coordinates.
        zone = hass.states.get("zone.home") if state.state == STATE_HOME else None
        if zone is None:
            zone = next((z for z in hass.states.async_all("zone") if z.name == state.state), None)
        if zone is None:
            return None
        latitude = zone.attributes.get(ATTR_LATITUDE)
        longitude = zone.attributes.get(ATTR_LONGITUDE)
    if latitude is None or longitude is None:
        return None
    lat, lon = float(latitude), float(longitude)
    return {
        "latitude": lat,
        "longitude": lon,
        "accuracy": state.attributes.get("gps_accuracy"),
        "zone": state.state,
        "url": f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}",
    }


async def _async_emergency_location(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    household = require_household(hass)
    alert = _alert(hass, call.data[ATTR_ALERT_ID])
    if alert.severity != SEVERITY_CRITICAL:
        raise service_error("location_not_critical")
    if not household.entry.options.get(CONF_SHARE_LOCATION, False):
        raise service_error("location_not_shared")
    person = household.people.get(alert.person_id)
    location = _location_of(hass, person.person_entity if person else None)
    if person is None or location is None:
        raise service_error("no_location")
    by = caller(call)
    # The one line that records a disclosure: ids only, never the person or the place.
    _LOGGER.warning(
        "Emergency location disclosed for critical alert %s (caller: %s)",
        alert.alert_id,
        by.partition(":")[0],
    )
    entry = {"alert_id": alert.alert_id, "time": dt_util.utcnow().isoformat(), "by": by}

    def _audit(store: RecordStore) -> None:
        log = store.get_settings(person.person_id).get(SETTING_LOCATION_LOG, [])
        store.put_setting(person.person_id, SETTING_LOCATION_LOG, [*log, entry][-MAX_LOCATION_LOG:])

    await household.record.batch(_audit)
    return location


async def _async_get_last_measurement(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    household = require_household(hass)
    entity_id: str = call.data[ATTR_ENTITY_ID]
    entry = er.async_get(hass).async_get(entity_id)
    person_id, _, key = (entry.unique_id if entry else "").partition("_")
    person = household.people.get(person_id)
    vitals = {v.value for v in Vital}
    if (
        entry is None
        or entry.platform != DOMAIN
        or entry.domain != "sensor"
        or person is None
        or key not in vitals | {LAST_MEASUREMENT_KEY}
    ):
        raise service_error("not_a_measurement_sensor", entity_id=entity_id)
    if key == LAST_MEASUREMENT_KEY:
        when = person.last_measurement
        return {"vital": None, "time": when.isoformat() if when else None}
    row = person.latest.get(key)
    if row is None:
        return {"vital": key, "time": None, "value": None, "unit": None}
    return {"vital": key, "time": row.time.isoformat(), "value": row.value, "unit": row.unit}


async def _async_clear_totp_lockout(call: ServiceCall) -> ServiceResponse:
    # Imported here: privacy and webhook import this module's neighbours at load time.
    from .webhook import webhook_of

    by = await async_require_admin(call)
    require_household(call.hass)
    wanted = call.data[ATTR_CLINIC].strip().casefold()
    bridge = get_bridge(call.hass)
    links = bridge.links.values() if bridge else []
    found = [
        link
        for link in links
        if wanted in (link.config.name.casefold(), link.config.subentry_id.casefold())
    ]
    hook = webhook_of(call.hass, found[0].link_id) if found else None
    if hook is None:
        raise service_error("unknown_clinic")
    await hook.async_clear_lockout()
    _LOGGER.info("TOTP lockout of a clinic link cleared (caller: %s)", by.partition(":")[0])
    return {"cleared": True}


@callback
def async_setup_clinic_services(hass: HomeAssistant) -> None:
    """Register the care services (called once from ``services.async_setup_services``)."""
    for name, handler, schema in (
        (SERVICE_NOTIFY_CLINIC, _async_notify_clinic, NOTIFY_CLINIC_SCHEMA),
        (
            SERVICE_NOTIFY_EMERGENCY_CONTACTS,
            _async_notify_emergency_contacts,
            EMERGENCY_CONTACTS_SCHEMA,
        ),
        (SERVICE_EMERGENCY_LOCATION, _async_emergency_location, EMERGENCY_LOCATION_SCHEMA),
        (SERVICE_GET_LAST_MEASUREMENT, _async_get_last_measurement, LAST_MEASUREMENT_SCHEMA),
        (SERVICE_CLEAR_TOTP_LOCKOUT, _async_clear_totp_lockout, CLEAR_TOTP_LOCKOUT_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL
        )
