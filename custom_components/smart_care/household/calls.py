"""Shared pieces of every service handler: the household, the person, the caller, errors.

Notes: docs/modules.md (household/calls.py).
"""

from __future__ import annotations

from typing import Any

from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr

from ..const import ATTR_PERSON, DOMAIN
from .runtime import Household, Person, get_household

CALLER_AUTOMATION = "automation"


def service_error(key: str, **placeholders: str) -> ServiceValidationError:
    """A translated validation error (strings.json ``exceptions.<key>``)."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def require_household(hass: HomeAssistant) -> Household:
    """The loaded household, or a validation error."""
    if (household := get_household(hass)) is None:
        raise service_error("no_household")
    return household


def resolve_person(hass: HomeAssistant, household: Household, data: dict[str, Any]) -> Person:
    """The person a call names, by alias or by their Smart Care device."""
    person: Person | None = None
    if ATTR_DEVICE_ID in data:
        device = dr.async_get(hass).async_get(data[ATTR_DEVICE_ID])
        for domain, ident in device.identifiers if device else ():
            if domain == DOMAIN and ident in household.people:
                person = household.people[ident]
    elif ATTR_PERSON in data:
        person = household.person_by_alias(data[ATTR_PERSON])
    else:
        raise service_error("person_required")
    if person is None:
        raise service_error("unknown_person")
    return person


def caller(call: ServiceCall) -> str:
    """Who called, for audit records (the rule in this module's docstring)."""
    return f"user:{call.context.user_id}" if call.context.user_id else CALLER_AUTOMATION


async def async_require_admin(call: ServiceCall) -> str:
    """Refuse non-administrators; return who called."""
    if call.context.user_id is not None:
        user = await call.hass.auth.async_get_user(call.context.user_id)
        if user is None or not user.is_admin:
            raise Unauthorized(context=call.context, permission="admin")
    return caller(call)
