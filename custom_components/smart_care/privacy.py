"""Privacy services: the audit trail, a person's export, and the right to erasure.

Notes: docs/modules.md (privacy.py).
"""

from __future__ import annotations

from datetime import datetime
import logging
import secrets
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import (
    config_validation as cv,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
import voluptuous as vol

from .care.medication import SETTING_ADHERENCE
from .clinic.bridge import ClinicLink, get_bridge
from .clinic.services import SETTING_LOCATION_LOG
from .const import ATTR_PERSON, DOMAIN, ISSUE_PENDING, SCOPE_OPTIONS
from .core.outbox import LinkProfile, Outbox
from .household.calls import (
    async_require_admin,
    require_household,
    resolve_person,
)

if TYPE_CHECKING:
    from .core.store.record_store import RecordStore
    from .household.runtime import Household, Person

_LOGGER = logging.getLogger(__name__)

SERVICE_GET_AUDIT: Final = "get_audit"
SERVICE_EXPORT_PERSON: Final = "export_person"
SERVICE_FORGET_PERSON: Final = "forget_person"
PRIVACY_SERVICES: Final = (SERVICE_GET_AUDIT, SERVICE_EXPORT_PERSON, SERVICE_FORGET_PERSON)


# The household's own rows in the audit table (no clinic link has this id: links are uuids).
LOCAL_AUDIT_LINK: Final = "household"
KIND_CLINIC_REQUEST: Final = "clinic_request"
KIND_CLINIC_SHARING: Final = "clinic_sharing"
KIND_EMERGENCY_LOCATION: Final = "emergency_location"
KIND_EXPORT: Final = "export"
KIND_ERASURE: Final = "erasure"
# Request types whose accepted answer carries personal data to the clinic.
DISCLOSING_REQUESTS: Final = frozenset({"summary"})
EXPORT_FHIR_DAYS: Final = 36500

PERSON_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_PERSON, "who"): cv.string,
        vol.Exclusive(ATTR_DEVICE_ID, "who"): cv.string,
    }
)


def _optional_person(call: ServiceCall, household: Household) -> Person | None:
    if ATTR_PERSON in call.data or ATTR_DEVICE_ID in call.data:
        return resolve_person(call.hass, household, dict(call.data))
    return None


def _links(household: Household) -> dict[str, ClinicLink]:
    """The household's clinic links (none when no bridge runs)."""
    bridge = get_bridge(household.hass)
    return bridge.links if bridge else {}


# Audit trail ---------------------------------------------------------------------------


def audit_entries(
    store: RecordStore, household: Household, person_id: str | None = None
) -> list[dict[str, Any]]:
    """Every disclosure and refused request, oldest first (blocking: ``record.batch``)."""
    links = dict(_links(household))
    entries: list[dict[str, Any]] = []
    # Pseudonym (per link) -> person id, for the people of the household.
    by_pseudonym: dict[tuple[str, str], str] = {}
    for link_id, link in links.items():
        if link.outbox_ready:
            for pid in household.people:
                by_pseudonym[(link_id, link.outbox.pseudonym(pid))] = pid
    for row in store.clinic_audit_rows():
        link_id = row["link_id"]
        if link_id == LOCAL_AUDIT_LINK:
            who = row["person"]
            entry = {
                "time": row["time"],
                "kind": row["type"],
                "person_id": who,
                "to": row["authority"] if row["type"] == KIND_EXPORT else None,
                "by": row["authority"],
                "authority": "administrator",
                "status": row["status"],
                "outcome": row["outcome"],
                "rejected": row["status"] >= 400,
            }
        else:
            known = links.get(link_id)
            pseudonym = row["person"]
            who = by_pseudonym.get((link_id, pseudonym)) if pseudonym else None
            entry = {
                "time": row["time"],
                "kind": KIND_CLINIC_REQUEST,
                "request": row["type"],
                "person_id": who,
                "pseudonym": pseudonym,
                "to": known.config.name if known else f"clinic link {link_id[:8]} (removed)",
                "link_id": link_id,
                "by": "clinic",
                "authority": row["authority"],
                "status": row["status"],
                "outcome": row["outcome"],
                "rejected": row["status"] >= 400,
                "disclosure": row["status"] < 400 and row["type"] in DISCLOSING_REQUESTS,
            }
        if person_id is None or who == person_id:
            entries.append(entry)
    # What went out through each link (the bridge keeps who, not each bundle).
    for link_id, link in links.items():
        shared = store.clinic_people(link_id)
        for pid in sorted(shared):
            if person_id is not None and pid != person_id:
                continue
            config = link.config
            entries.append(
                {
                    "time": link.last_success.isoformat() if link.last_success else None,
                    "kind": KIND_CLINIC_SHARING,
                    "person_id": pid,
                    "to": config.name,
                    "link_id": link_id,
                    "what": sorted(config.scopes),
                    "identified": config.identified,
                    "by": "clinic bridge",
                    "authority": f"consent given {config.linked_at.isoformat()}",
                    "rejected": False,
                    "disclosure": True,
                }
            )
    for pid in household.people:
        if person_id is not None and pid != person_id:
            continue
        for item in store.get_settings(pid).get(SETTING_LOCATION_LOG, []):
            entries.append(
                {
                    "time": item.get("time"),
                    "kind": KIND_EMERGENCY_LOCATION,
                    "person_id": pid,
                    "to": item.get("by"),
                    "by": item.get("by"),
                    "alert_id": item.get("alert_id"),
                    "authority": "critical alert; household allows sharing the location",
                    "rejected": False,
                    "disclosure": True,
                }
            )
    entries.sort(key=lambda e: str(e.get("time") or ""))
    return entries


async def _async_get_audit(call: ServiceCall) -> ServiceResponse:
    await async_require_admin(call)
    household = require_household(call.hass)
    person = _optional_person(call, household)
    person_id = person.person_id if person else None
    entries = await household.record.batch(lambda store: audit_entries(store, household, person_id))
    return {
        "entries": cast(list[JsonValueType], entries),
        "disclosures": sum(1 for e in entries if e.get("disclosure")),
        "rejected": sum(1 for e in entries if e.get("rejected")),
    }


async def _async_audit_local(
    household: Household, kind: str, person_id: str, outcome: str, by: str
) -> None:
    await household.record.clinic_audit(LOCAL_AUDIT_LINK, kind, person_id, 200, outcome, by)


# Export --------------------------------------------------------------------------------


def _export(
    store: RecordStore, household: Household, person: Person, now: datetime
) -> dict[str, Any]:
    pid = person.person_id
    subentry = household.entry.subentries[person.subentry_id]
    settings = store.get_settings(pid)
    rows = store.history(pid)
    alerts = store.alerts(person_id=pid)
    # A one-off link profile: an identified Patient under a throwaway pseudonym key.
    box = Outbox(
        store,
        LinkProfile(
            link_id="export",
            scopes=frozenset(SCOPE_OPTIONS),
            identified=True,
            pseudonym_key=secrets.token_bytes(32),
        ),
        dt_util.get_default_time_zone(),
        {pid: person.alias},
    )
    bundle = box.pull_summary(
        pid,
        days=EXPORT_FHIR_DAYS,
        identified=True,
        now=now,
        alerts=[a for a in alerts if a.get("status") != "resolved"],
    )
    return {
        "exported_at": now.isoformat(),
        "person_id": pid,
        "person": dict(subentry.data),
        "profile": store.get_profile(pid) or {},
        "measurements": [
            {
                "row_id": m.row_id,
                "reading_id": m.reading_id,
                "vital": m.vital,
                "value": m.value,
                "unit": m.unit,
                "time": m.time.isoformat(),
                "source": m.source,
                "details": dict(m.details),
            }
            for m in rows
        ],
        "alerts": alerts,
        "advice": store.advice(pid),
        "adherence": settings.get(SETTING_ADHERENCE, []),
        "settings": {k: v for k, v in settings.items() if k != SETTING_ADHERENCE},
        "audit": audit_entries(store, household, pid),
        "fhir": bundle,
    }


async def _async_export_person(call: ServiceCall) -> ServiceResponse:
    by = await async_require_admin(call)
    hass = call.hass
    household = require_household(hass)
    person = resolve_person(hass, household, dict(call.data))
    # Recorded first: an export that fails half-way was still attempted.
    await _async_audit_local(household, KIND_EXPORT, person.person_id, "exported", by)
    _LOGGER.info("Exported a person's health record (caller: %s)", by.partition(":")[0])
    now = dt_util.utcnow()
    result = await household.record.batch(lambda store: _export(store, household, person, now))
    return cast(ServiceResponse, result)


# Erasure -------------------------------------------------------------------------------


def _person_entity_ids(hass: HomeAssistant, household: Household, person: Person) -> list[str]:
    registry = er.async_get(hass)
    return sorted(
        entry.entity_id
        for entry in er.async_entries_for_config_entry(registry, household.entry.entry_id)
        if entry.config_subentry_id == person.subentry_id
        or entry.unique_id.startswith(f"{person.person_id}_")
    )


def _forget_clinic_items(
    store: RecordStore, household: Household, person_id: str
) -> tuple[int, int, list[str]]:
    """Drop held readings guessed for the person and their waiting clinic items.

    Returns (held readings dropped, clinic items dropped, ids of the held readings). A
    link that already received the person's data keeps its note, so the reload asks that
    clinic to erase it.
    """
    held = [
        reading_id
        for reading_id, payload in store.list_pending().items()
        if payload.get("guess") == person_id
    ]
    for reading_id in held:
        store.delete_pending(reading_id)
    links = _links(household)
    items = 0
    for link_id in links:
        shared = person_id in store.clinic_people(link_id)
        items += store.clinic_forget_person(link_id, person_id)
        if shared:
            store.clinic_note_people(link_id, [person_id])
    return len(held), items, held


async def _async_clear_recorder(
    hass: HomeAssistant, call: ServiceCall, entity_ids: list[str]
) -> bool:
    """Purge the sensors' state history and long-term statistics; False without a recorder."""
    if not entity_ids or "recorder" not in hass.config.components:
        return False
    get_instance(hass).async_clear_statistics(entity_ids)
    if hass.services.has_service("recorder", "purge_entities"):
        await hass.services.async_call(
            "recorder",
            "purge_entities",
            {"entity_id": entity_ids, "keep_days": 0},
            blocking=True,
            context=call.context,
        )
    return True


async def _async_forget_person(call: ServiceCall) -> ServiceResponse:
    by = await async_require_admin(call)
    hass = call.hass
    household = require_household(hass)
    person = resolve_person(hass, household, dict(call.data))
    person_id = person.person_id
    entry = household.entry
    entity_ids = _person_entity_ids(hass, household, person)
    links = len(_links(household))
    held, items, held_ids = await household.record.batch(
        lambda store: _forget_clinic_items(store, household, person_id)
    )
    for reading_id in held_ids:
        ir.async_delete_issue(hass, DOMAIN, ISSUE_PENDING.format(reading_id))
    recorder = await _async_clear_recorder(hass, call, entity_ids)
    # Ids only: the trail must outlive the person without naming them.
    await _async_audit_local(household, KIND_ERASURE, person_id, "forgotten", by)
    # The reload this triggers deletes the record and tells the clinics (see module doc).
    hass.config_entries.async_remove_subentry(entry, person.subentry_id)
    _LOGGER.info("Erasing a person's health record (caller: %s)", by.partition(":")[0])
    return {
        "person_id": person_id,
        "held_readings_dropped": held,
        "clinic_items_dropped": items,
        "clinic_links": links,
        "entities": len(entity_ids),
        "recorder_cleared": recorder,
        "forgotten_at": dt_util.utcnow().isoformat(),
    }


@callback
def async_setup_privacy_services(hass: HomeAssistant) -> None:
    """Register the privacy services (called once from ``services.async_setup_services``)."""
    for name, handler in (
        (SERVICE_GET_AUDIT, _async_get_audit),
        (SERVICE_EXPORT_PERSON, _async_export_person),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=PERSON_SCHEMA, supports_response=SupportsResponse.ONLY
        )
    hass.services.async_register(
        DOMAIN,
        SERVICE_FORGET_PERSON,
        _async_forget_person,
        schema=PERSON_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
