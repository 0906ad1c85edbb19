"""Linking a community clinic: a ``clinic`` subentry of the household (HA flows).

Notes: docs/modules.md (clinic/flow.py).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit
import uuid

import aiohttp
from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ..const import (
    CONF_CLINIC_NAME,
    CONF_FHIR_BASE,
    CONF_FOLDER,
    CONF_HMAC_SECRET,
    CONF_IDENTIFIED,
    CONF_LINK_ID,
    CONF_LINKED_AT,
    CONF_PSEUDONYM_KEY,
    CONF_SCOPES,
    CONF_START_ROW,
    CONF_TOKEN,
    CONF_TOTP_SECRET,
    CONF_TRANSPORT,
    CONF_WEBHOOK_ID,
    CONF_ZEROCONF_NAME,
    OUTBOX_FOLDER,
    SCOPE_ALERTS,
    SCOPE_OPTIONS,
    SCOPE_VITAL_SIGNS,
    SUBENTRY_CLINIC,
    TRANSPORT_FOLDER,
    TRANSPORT_HTTP,
    TRANSPORT_OPTIONS,
)
from ..core.outbox import FHIR_JSON
from ..core.security import (
    new_pseudonym_key,
    new_secret,
    new_totp_secret,
    provisioning_uri,
)
from ..household.repairs import HouseholdRepairFlow
from ..household.runtime import get_household

if TYPE_CHECKING:
    from ..household.repairs import RepairsFlowResult
    from ..household.runtime import Household

MAX_NAME: Final = 60
CHECK_TIMEOUT: Final = 15.0
DEFAULT_SCOPES: Final = [SCOPE_VITAL_SIGNS, SCOPE_ALERTS]
# Property keys of the clinic gateway's zeroconf TXT record.
TXT_NAME: Final = "name"
TXT_FHIR_BASE: Final = "fhir_base"
TXT_FHIR_VERSION: Final = "fhir_version"
DEFAULT_FHIR_PATH: Final = "/fhir"


# =========================================================================== validation


def _is_local_host(host: str) -> bool:
    """Loopback, a private (LAN) address, or an mDNS name: plain http may stay inside."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith((".local", ".localhost")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def check_url(url: str) -> str | None:
    """Error key for a FHIR base URL, or None when acceptable.

    https anywhere (certificates are verified); plain http only to this machine or the
    local network, where a clinic's gateway may run without a certificate. No user info,
    query or fragment: the base URL is where transaction bundles are POSTed.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        return "invalid_url"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "invalid_url"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "invalid_url"
    if parts.scheme == "http" and not _is_local_host(parts.hostname):
        return "insecure_url"
    return None


def supported_fhir_version(version: str | None) -> bool:
    """R4 (4.0.x) or R4B (4.3): the versions the bundles are written for."""
    if not version:
        return True
    text = version.strip().upper().removeprefix("R")
    return text.startswith("4")


async def async_check_server(hass: HomeAssistant, url: str, token: str | None) -> str | None:
    """Ask the FHIR server for its CapabilityStatement; error key or None."""
    headers = {"Accept": FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    session = async_get_clientsession(hass)
    try:
        async with session.get(
            f"{url.rstrip('/')}/metadata",
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT),
        ) as response:
            if response.status in (401, 403):
                return "invalid_auth"
            if response.status != 200:
                return "cannot_connect"
            text = await response.text()
    except aiohttp.ClientSSLError:
        return "tls_error"
    except (aiohttp.ClientError, TimeoutError):
        return "cannot_connect"
    try:
        statement = json.loads(text)
    except ValueError:
        return "cannot_connect"
    if not isinstance(statement, dict) or statement.get("resourceType") != "CapabilityStatement":
        return "cannot_connect"
    if not supported_fhir_version(statement.get("fhirVersion")):
        return "unsupported_fhir_version"
    return None


def _clinic_subentries(entry_subentries: Any) -> list[ConfigSubentry]:
    return [s for s in entry_subentries.values() if s.subentry_type == SUBENTRY_CLINIC]


async def async_validate(
    hass: HomeAssistant,
    household: Household,
    user_input: dict[str, Any],
    own_subentry: str | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Cleaned link settings and errors (by field) for the user's input."""
    errors: dict[str, str] = {}
    name = str(user_input.get(CONF_CLINIC_NAME, "")).strip()
    transport = user_input.get(CONF_TRANSPORT, TRANSPORT_HTTP)
    url = str(user_input.get(CONF_FHIR_BASE) or "").strip().rstrip("/")
    token = str(user_input.get(CONF_TOKEN) or "").strip()
    folder = str(user_input.get(CONF_FOLDER) or "").strip()
    others = [
        s for s in _clinic_subentries(household.entry.subentries) if s.subentry_id != own_subentry
    ]
    if not name or len(name) > MAX_NAME:
        errors[CONF_CLINIC_NAME] = "clinic_name_required"
    elif any(s.title.casefold() == name.casefold() for s in others):
        errors[CONF_CLINIC_NAME] = "clinic_name_in_use"
    if transport == TRANSPORT_HTTP:
        if not url:
            errors[CONF_FHIR_BASE] = "url_required"
        elif (problem := check_url(url)) is not None:
            errors[CONF_FHIR_BASE] = problem
        elif any(s.data.get(CONF_FHIR_BASE) == url for s in others):
            errors[CONF_FHIR_BASE] = "url_in_use"
        elif not errors and (problem := await async_check_server(hass, url, token)) is not None:
            errors["base"] = problem
    elif folder and not Path(folder).is_absolute():
        errors[CONF_FOLDER] = "folder_invalid"
    cleaned: dict[str, Any] = {
        CONF_CLINIC_NAME: name,
        CONF_TRANSPORT: transport,
        CONF_SCOPES: [s for s in SCOPE_OPTIONS if s in user_input.get(CONF_SCOPES, [])],
        CONF_IDENTIFIED: bool(user_input.get(CONF_IDENTIFIED, False)),
    }
    if transport == TRANSPORT_HTTP:
        cleaned[CONF_FHIR_BASE] = url
        if token:
            cleaned[CONF_TOKEN] = token
    elif folder:
        cleaned[CONF_FOLDER] = folder
    return cleaned, errors


async def async_new_link(
    hass: HomeAssistant, household: Household, settings: dict[str, Any]
) -> dict[str, Any]:
    """Subentry data for a new link: the settings plus fresh ids and secrets."""
    link_id = uuid.uuid4().hex
    data = dict(settings)
    if data[CONF_TRANSPORT] == TRANSPORT_FOLDER and not data.get(CONF_FOLDER):
        data[CONF_FOLDER] = hass.config.path(OUTBOX_FOLDER, link_id)
    start_row = await household.record.max_measurement_id()
    data.update(
        {
            CONF_LINK_ID: link_id,
            CONF_WEBHOOK_ID: webhook.async_generate_id(),
            CONF_HMAC_SECRET: new_secret(),
            CONF_TOTP_SECRET: new_totp_secret(),
            CONF_PSEUDONYM_KEY: new_pseudonym_key().hex(),
            # Consent is prospective: readings stored before the link are not shared.
            CONF_START_ROW: start_row,
            CONF_LINKED_AT: dt_util.utcnow().isoformat(),
        }
    )
    return data


def credentials_placeholders(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, str]:
    """What the clinic needs to call the webhook: shown once, on the last step of linking."""
    webhook_id = data[CONF_WEBHOOK_ID]
    try:
        url = webhook.async_generate_url(hass, webhook_id)
    except NoURLAvailableError:
        url = f"<Home Assistant URL>{webhook.async_generate_path(webhook_id)}"
    return {
        "name": data[CONF_CLINIC_NAME],
        "webhook_url": url,
        "hmac_secret": data[CONF_HMAC_SECRET],
        "totp_secret": data[CONF_TOTP_SECRET],
        "totp_uri": provisioning_uri(data[CONF_TOTP_SECRET], data[CONF_CLINIC_NAME]),
    }


def _schema(*, discovered: bool = False) -> vol.Schema:
    fields: dict[vol.Marker, Any] = {vol.Required(CONF_CLINIC_NAME): selector.TextSelector()}
    if not discovered:
        fields[vol.Required(CONF_TRANSPORT, default=TRANSPORT_HTTP)] = selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=TRANSPORT_OPTIONS,
                translation_key="clinic_transport",
                mode=selector.SelectSelectorMode.LIST,
            )
        )
    fields[vol.Optional(CONF_FHIR_BASE)] = selector.TextSelector(
        selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
    )
    fields[vol.Optional(CONF_TOKEN)] = selector.TextSelector(
        selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
    )
    if not discovered:
        fields[vol.Optional(CONF_FOLDER)] = selector.TextSelector()
    fields[vol.Optional(CONF_SCOPES, default=DEFAULT_SCOPES)] = selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=SCOPE_OPTIONS, multiple=True, translation_key="clinic_scopes"
        )
    )
    fields[vol.Optional(CONF_IDENTIFIED, default=False)] = selector.BooleanSelector()
    return vol.Schema(fields)


# =========================================================================== subentry flow


class ClinicSubentryFlow(ConfigSubentryFlow):
    """Link a clinic to the household, or edit a link."""

    _data: dict[str, Any]

    def _household(self) -> Household | None:
        # Only the household offers these flows (async_get_supported_subentry_types).
        entry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return None
        household: Household = entry.runtime_data.household
        return household

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Name, address (or folder), token and consent."""
        household = self._household()
        if household is None:
            return self.async_abort(reason="household_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            settings, errors = await async_validate(self.hass, household, user_input)
            if not errors:
                self._data = await async_new_link(self.hass, household, settings)
                return await self.async_step_credentials()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_schema(), user_input or {}),
            errors=errors,
        )

    async def async_step_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Show the webhook credentials once; finishing creates the link."""
        if user_input is not None:
            return self.async_create_entry(
                title=self._data[CONF_CLINIC_NAME],
                data=self._data,
                unique_id=self._data[CONF_LINK_ID],
            )
        return self.async_show_form(
            step_id="credentials",
            data_schema=vol.Schema({}),
            description_placeholders=credentials_placeholders(self.hass, self._data),
            last_step=True,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change address, token or consent; the secrets and pseudonyms stay."""
        household = self._household()
        if household is None:
            return self.async_abort(reason="household_not_loaded")
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            settings, errors = await async_validate(
                self.hass, household, user_input, subentry.subentry_id
            )
            if not errors:
                data = {
                    k: v
                    for k, v in subentry.data.items()
                    if k not in (CONF_FHIR_BASE, CONF_TOKEN, CONF_FOLDER)
                }
                data.update(settings)
                if data[CONF_TRANSPORT] == TRANSPORT_FOLDER and not data.get(CONF_FOLDER):
                    data[CONF_FOLDER] = self.hass.config.path(OUTBOX_FOLDER, data[CONF_LINK_ID])
                return self.async_update_and_abort(
                    self._get_entry(), subentry, title=settings[CONF_CLINIC_NAME], data=data
                )
        current = user_input if user_input is not None else dict(subentry.data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(_schema(), current),
            errors=errors,
        )


# =========================================================================== discovery


def discovered_url(info: ZeroconfServiceInfo) -> str:
    """The FHIR base URL a clinic gateway announces (https on port 443, else http)."""
    path = str(info.properties.get(TXT_FHIR_BASE) or DEFAULT_FHIR_PATH).strip()
    if not path.startswith("/"):
        path = "/" + path
    scheme = "https" if info.port == 443 else "http"
    host = f"[{info.host}]" if ":" in info.host else info.host
    port = "" if info.port in (None, 80, 443) else f":{info.port}"
    return f"{scheme}://{host}{port}{path.rstrip('/')}"


class ClinicDiscovery:
    """The zeroconf steps of the main config flow: link a clinic found on the LAN."""

    def __init__(self, flow: ConfigFlow) -> None:
        """Drive ``flow``'s forms."""
        self.flow = flow
        self.hass = flow.hass
        self.name = ""
        self.url = ""
        self.service = ""
        self.data: dict[str, Any] = {}

    async def async_discovered(self, info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A clinic gateway announced itself: check, then ask to confirm."""
        household = get_household(self.hass)
        if household is None:
            return self.flow.async_abort(reason="household_required")
        if not supported_fhir_version(info.properties.get(TXT_FHIR_VERSION)):
            return self.flow.async_abort(reason="unsupported_fhir_version")
        self.service = info.name
        self.url = discovered_url(info)
        announced = str(info.properties.get(TXT_NAME) or "").strip()
        self.name = (announced or info.name.removesuffix(f".{info.type}"))[:MAX_NAME]
        await self.flow.async_set_unique_id(f"clinic:{info.name}")
        # Only an ignored discovery has a config entry with this id: stay quiet then.
        self.flow._abort_if_unique_id_configured()
        entry = household.entry
        for subentry in _clinic_subentries(entry.subentries):
            if subentry.data.get(CONF_ZEROCONF_NAME) == info.name:
                # The gateway moved (new address): follow it.
                if subentry.data.get(CONF_FHIR_BASE) != self.url:
                    self.hass.config_entries.async_update_subentry(
                        entry, subentry, data={**subentry.data, CONF_FHIR_BASE: self.url}
                    )
                return self.flow.async_abort(reason="clinic_already_linked")
            if subentry.data.get(CONF_FHIR_BASE) == self.url:
                return self.flow.async_abort(reason="clinic_already_linked")
        self.flow.context["title_placeholders"] = {"name": self.name}
        return await self.async_confirm()

    async def async_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name, token and consent for the discovered clinic."""
        household = get_household(self.hass)
        if household is None:
            return self.flow.async_abort(reason="household_required")
        errors: dict[str, str] = {}
        if user_input is not None:
            settings, errors = await async_validate(
                self.hass, household, {**user_input, CONF_TRANSPORT: TRANSPORT_HTTP}
            )
            if not errors:
                self.data = await async_new_link(self.hass, household, settings)
                self.data[CONF_ZEROCONF_NAME] = self.service
                return await self.async_credentials()
        suggested = user_input or {CONF_CLINIC_NAME: self.name, CONF_FHIR_BASE: self.url}
        return self.flow.async_show_form(
            step_id="clinic_confirm",
            data_schema=self.flow.add_suggested_values_to_schema(
                _schema(discovered=True), suggested
            ),
            errors=errors,
            description_placeholders={"name": self.name, "url": self.url},
        )

    async def async_credentials(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the webhook credentials once; finishing adds the link to the household."""
        if user_input is not None:
            household = get_household(self.hass)
            if household is None:
                return self.flow.async_abort(reason="household_required")
            self.hass.config_entries.async_add_subentry(
                household.entry,
                ConfigSubentry(
                    data=MappingProxyType(self.data),
                    subentry_type=SUBENTRY_CLINIC,
                    title=self.data[CONF_CLINIC_NAME],
                    unique_id=self.data[CONF_LINK_ID],
                ),
            )
            return self.flow.async_abort(
                reason="clinic_linked",
                description_placeholders={"name": self.data[CONF_CLINIC_NAME]},
            )
        return self.flow.async_show_form(
            step_id="clinic_credentials",
            data_schema=vol.Schema({}),
            description_placeholders=credentials_placeholders(self.hass, self.data),
            last_step=True,
        )


# =========================================================================== reauth repair


class ClinicReauthFlow(HouseholdRepairFlow):
    """The clinic refused the token: ask for a new one and store it in the link."""

    gone_reason = "link_gone"

    def __init__(self, subentry_id: str) -> None:
        """Remember which link."""
        self.subentry_id = subentry_id

    async def async_confirm(
        self, household: Household, user_input: dict[str, Any] | None
    ) -> RepairsFlowResult:
        """Ask for the new token; check it against the server before storing it."""
        subentry = household.entry.subentries.get(self.subentry_id)
        if subentry is None:
            return self.async_abort(reason=self.gone_reason)
        errors: dict[str, str] = {}
        if user_input is not None:
            token = str(user_input.get(CONF_TOKEN, "")).strip()
            problem = await async_check_server(self.hass, subentry.data[CONF_FHIR_BASE], token)
            if problem is None:
                # Updating the subentry reloads the household: the link retries at once.
                self.hass.config_entries.async_update_subentry(
                    household.entry, subentry, data={**subentry.data, CONF_TOKEN: token}
                )
                return self.async_create_entry(data={})
            errors["base"] = problem
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_TOKEN): selector.TextSelector(
                        selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
                    )
                }
            ),
            errors=errors,
            description_placeholders={"clinic": subentry.title},
        )
