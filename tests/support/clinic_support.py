"""Shared helpers of the clinic bridge, webhook and flow tests (real HA, real FHIR server)."""

from __future__ import annotations

from collections.abc import Mapping
import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.care.alerts import AlertManager, get_alerts
from custom_components.smart_care.clinic.bridge import ClinicBridge, ClinicLink, get_bridge
from custom_components.smart_care.const import DOMAIN, SUBENTRY_CLINIC
from custom_components.smart_care.household.runtime import Household, get_household
from tests.fakes.fhir_server import FhirServer

ALL_SCOPES = ["vital_signs", "alerts", "daily_summary", "medication"]


def household(hass: HomeAssistant) -> Household:
    """The loaded household."""
    found = get_household(hass)
    assert found is not None
    return found


def alerts(hass: HomeAssistant) -> AlertManager:
    """The loaded household's alerts."""
    found = get_alerts(hass)
    assert found is not None
    return found


def bridge(hass: HomeAssistant) -> ClinicBridge:
    """The running clinic bridge."""
    clinic = get_bridge(hass)
    assert clinic is not None
    return clinic


def only_link(hass: HomeAssistant) -> ClinicLink:
    """The one clinic link."""
    (link,) = bridge(hass).links.values()
    return link


async def settle(hass: HomeAssistant) -> None:
    """Let the senders run until they are idle (they end when the outbox is empty)."""
    await hass.async_block_till_done(wait_background_tasks=True)
    await hass.async_block_till_done(wait_background_tasks=True)


async def link_clinic(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    *,
    url: str | None = None,
    name: str = "Community Clinic",
    transport: str = "http",
    scopes: list[str] | None = None,
    identified: bool = False,
    token: str | None = None,
    folder: str | None = None,
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """Link a clinic through the real subentry flow.

    Returns (subentry_id, subentry data, the credentials placeholders shown once).
    """
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_CLINIC), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    fields: dict[str, Any] = {
        "name": name,
        "transport": transport,
        "scopes": ALL_SCOPES if scopes is None else scopes,
        "identified_sharing": identified,
    }
    if url is not None:
        fields["fhir_base_url"] = url
    if token is not None:
        fields["token"] = token
    if folder is not None:
        fields["folder"] = folder
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], fields)
    assert result["type"] is FlowResultType.FORM, result.get("errors")
    assert result["step_id"] == "credentials"
    shown = dict(result["description_placeholders"] or {})
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    current = hass.config_entries.async_get_entry(entry.entry_id)
    assert current is not None
    (subentry_id,) = [
        sid
        for sid, sub in current.subentries.items()
        if sub.subentry_type == SUBENTRY_CLINIC and sub.title == name
    ]
    await settle(hass)
    return subentry_id, dict(current.subentries[subentry_id].data), shown


async def record(hass: HomeAssistant, person: str = "Grandma", **values: Any) -> None:
    """Record a manual measurement through the service."""
    await hass.services.async_call(
        DOMAIN, "record_measurement", {"person": person, **values}, blocking=True
    )


def validate_bundle(bundle: Mapping[str, Any]) -> None:
    """R4B-valid, and JSON without NaN."""
    json.dumps(bundle, allow_nan=False)
    Bundle.model_validate(bundle)


def observation_values(server: FhirServer) -> list[tuple[str, Any]]:
    """(LOINC code, value or components) of every stored Observation, sorted."""
    out: list[tuple[str, Any]] = []
    for obs in server.all("Observation"):
        code = obs["code"]["coding"][0]["code"]
        if "valueQuantity" in obs:
            out.append((code, obs["valueQuantity"]["value"]))
        elif "component" in obs:
            out.append(
                (
                    code,
                    tuple(
                        (c["code"]["coding"][0]["code"], c.get("valueQuantity", {}).get("value"))
                        for c in obs["component"]
                    ),
                )
            )
        else:
            out.append((code, None))
    return sorted(out, key=repr)


async def start_fhir(aiohttp_server: Any, **kwargs: Any) -> FhirServer:
    """Serve a fresh FHIR server on 127.0.0.1; its base URL is ``server.base_url``."""
    server = FhirServer(**kwargs)
    test_server = await aiohttp_server(server.app)
    server.base_url = str(test_server.make_url("/fhir"))
    return server
