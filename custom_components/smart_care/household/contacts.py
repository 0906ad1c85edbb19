"""Emergency contacts: people and phones of Home Assistant, or (advanced) any notify service."""

from __future__ import annotations

from collections.abc import Iterable

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, selector
from homeassistant.util import slugify

MOBILE_APP = "mobile_app"
NOTIFY = "notify"
PERSON = "person"


def _phone_service(hass: HomeAssistant, entry_id: str) -> str | None:
    """The notify service of a mobile_app phone, if the app registered one."""
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != MOBILE_APP or not entry.data.get("device_name"):
        return None
    service = f"{MOBILE_APP}_{slugify(entry.data['device_name'])}"
    return service if hass.services.has_service(NOTIFY, service) else None


def phones(hass: HomeAssistant) -> dict[str, str]:
    """notify.mobile_app_<phone> -> the phone's name, for every app that can be notified."""
    found: dict[str, str] = {}
    for entry in hass.config_entries.async_entries(MOBILE_APP):
        if service := _phone_service(hass, entry.entry_id):
            found[f"{NOTIFY}.{service}"] = entry.title or entry.data.get("device_name", service)
    return found


def person_phones(hass: HomeAssistant, person_entity: str) -> list[str]:
    """The notify services of a person's phones: their app's trackers and their user's apps."""
    state = hass.states.get(person_entity)
    if state is None:
        return []
    entry_ids: list[str] = []
    registry = er.async_get(hass)
    for tracker in state.attributes.get("device_trackers", []) or []:
        ent = registry.async_get(tracker)
        if ent is not None and ent.platform == MOBILE_APP and ent.config_entry_id:
            entry_ids.append(ent.config_entry_id)
    if user_id := state.attributes.get("user_id"):
        entry_ids += [
            entry.entry_id
            for entry in hass.config_entries.async_entries(MOBILE_APP)
            if entry.data.get("user_id") == user_id
        ]
    services = [_phone_service(hass, entry_id) for entry_id in dict.fromkeys(entry_ids)]
    return [f"{NOTIFY}.{service}" for service in services if service]


def notify_targets(hass: HomeAssistant, contacts: Iterable[str]) -> list[str]:
    """Notify services to call for these contacts (a person stands for their phones)."""
    targets: list[str] = []
    for contact in contacts:
        contact = contact.strip()
        if contact.startswith(f"{PERSON}."):
            targets += person_phones(hass, contact)
        elif contact:
            targets.append(contact)
    return list(dict.fromkeys(targets))


def valid_contact(contact: str) -> bool:
    """A person entity or a notify service: never any other service by name."""
    domain, _, name = contact.partition(".")
    return domain in (NOTIFY, PERSON) and bool(name) and "." not in name


def contact_selector(hass: HomeAssistant) -> selector.SelectSelector:
    """People and phones by name; any other notify service can still be typed in."""
    options = [
        selector.SelectOptionDict(
            value=state.entity_id, label=state.attributes.get("friendly_name", state.entity_id)
        )
        for state in sorted(hass.states.async_all(PERSON), key=lambda s: s.entity_id)
    ]
    options += [
        selector.SelectOptionDict(value=service, label=f"📱 {name}")
        for service, name in sorted(phones(hass).items())
    ]
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=options,
            multiple=True,
            custom_value=True,
            mode=selector.SelectSelectorMode.DROPDOWN,
        )
    )
