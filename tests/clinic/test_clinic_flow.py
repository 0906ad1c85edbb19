"""Linking a clinic: zeroconf discovery through HA's flow manager, the subentry flow,
validation, secrets shown once, reconfiguration."""

from __future__ import annotations

from ipaddress import ip_address
import socket
from typing import Any

from homeassistant.components import webhook
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    SOURCE_ZEROCONF,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_care.clinic.flow import check_url, discovered_url
from custom_components.smart_care.const import DOMAIN, SUBENTRY_CLINIC
from tests.fakes.fhir_server import FhirServer
from tests.support.clinic_support import (
    ALL_SCOPES,
    bridge,
    link_clinic,
    observation_values,
    record,
    settle,
    start_fhir,
)

SERVICE = "Community Clinic._smartcare._tcp.local."


@pytest.fixture
async def fhir_server(aiohttp_server: Any, socket_enabled: None) -> FhirServer:
    """A FHIR R4 server on 127.0.0.1."""
    return await start_fhir(aiohttp_server)


def service_info(server: FhirServer, **properties: str) -> ZeroconfServiceInfo:
    port = int(server.base_url.split(":")[2].split("/")[0])
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        port=port,
        hostname="clinic-gateway.local.",
        type="_smartcare._tcp.local.",
        name=SERVICE,
        properties={"name": "Community Clinic", "fhir_base": "/fhir", "fhir_version": "4.0.1"}
        | properties,
    )


def clinic_subentries(entry: MockConfigEntry) -> list[Any]:
    return [s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_CLINIC]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def discover(hass: HomeAssistant, info: ZeroconfServiceInfo) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return dict(result)


async def test_discovery_needs_a_household(hass: HomeAssistant, fhir_server: FhirServer) -> None:
    result = await discover(hass, service_info(fhir_server))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "household_required"


async def test_discovered_clinic_is_linked_to_the_household(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    result = await discover(hass, service_info(fhir_server))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "clinic_confirm"
    assert result["description_placeholders"] == {
        "name": "Community Clinic",
        "url": fhir_server.base_url,
    }
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["title_placeholders"] == {"name": "Community Clinic"}
    # The same gateway announced again while the first flow is open: one flow only.
    assert (await discover(hass, service_info(fhir_server)))["reason"] == "already_in_progress"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "name": "Community Clinic",
            "fhir_base_url": fhir_server.base_url,
            "scopes": ALL_SCOPES,
            "identified_sharing": False,
        },
    )
    assert result["step_id"] == "clinic_credentials"
    shown = result["description_placeholders"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "clinic_linked"
    await hass.async_block_till_done()
    await settle(hass)
    (subentry,) = clinic_subentries(loaded_household)
    assert subentry.data["zeroconf_name"] == SERVICE
    assert subentry.data["fhir_base_url"] == fhir_server.base_url
    assert shown["hmac_secret"] == subentry.data["hmac_secret"]
    assert shown["totp_secret"] == subentry.data["totp_secret"]
    # No config entry was created for the clinic: it belongs to the household.
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    await record(hass, pulse=66)
    await settle(hass)
    assert observation_values(fhir_server) == [("8867-4", 66.0)]
    assert len(bridge(hass).links) == 1


async def test_rediscovery_follows_a_moved_gateway(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    aiohttp_server: Any,
    fhir_server: FhirServer,
) -> None:
    result = await discover(hass, service_info(fhir_server))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Community Clinic", "fhir_base_url": fhir_server.base_url}
    )
    await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    moved = await start_fhir(aiohttp_server)
    result = await discover(hass, service_info(moved))
    assert result["reason"] == "clinic_already_linked"
    await hass.async_block_till_done()
    await settle(hass)
    (subentry,) = clinic_subentries(loaded_household)
    assert subentry.data["fhir_base_url"] == moved.base_url
    # Unchanged: same answer, nothing rewritten.
    assert (await discover(hass, service_info(moved)))["reason"] == "clinic_already_linked"
    await record(hass, pulse=67)
    await settle(hass)
    assert observation_values(moved) == [("8867-4", 67.0)]


async def test_discovered_url_already_linked_by_hand(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str, fhir_server: FhirServer
) -> None:
    await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    result = await discover(hass, service_info(fhir_server))
    assert result["reason"] == "clinic_already_linked"


async def test_discovery_of_a_non_r4_gateway_aborts(
    hass: HomeAssistant, loaded_household: MockConfigEntry, fhir_server: FhirServer
) -> None:
    result = await discover(hass, service_info(fhir_server, fhir_version="5.0.0"))
    assert result["reason"] == "unsupported_fhir_version"


async def test_discovery_confirm_validates_and_household_may_vanish(
    hass: HomeAssistant, loaded_household: MockConfigEntry, fhir_server: FhirServer
) -> None:
    fhir_server.token = "clinic-token"
    result = await discover(hass, service_info(fhir_server, name=""))
    # No announced name: the service instance name is used.
    assert result["description_placeholders"]["name"] == "Community Clinic"
    fields = {"name": "Community Clinic", "fhir_base_url": fhir_server.base_url}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], fields)
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], fields | {"token": "clinic-token"}
    )
    assert result["step_id"] == "clinic_credentials"
    # The household was unloaded meanwhile: nothing to link to.
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "household_required"
    assert not clinic_subentries(loaded_household)
    result = await discover(hass, service_info(fhir_server))
    assert result["reason"] == "household_required"


async def test_confirm_step_aborts_without_household(
    hass: HomeAssistant, loaded_household: MockConfigEntry, fhir_server: FhirServer
) -> None:
    result = await discover(hass, service_info(fhir_server))
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "X", "fhir_base_url": fhir_server.base_url}
    )
    assert result["reason"] == "household_required"


async def test_manual_link_shows_secrets_once(
    hass: HomeAssistant, loaded_household: MockConfigEntry, fhir_server: FhirServer
) -> None:
    subentry_id, data, shown = await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    assert shown["webhook_url"] == f"http://10.10.10.10:8123/api/webhook/{data['webhook_id']}"
    assert shown["hmac_secret"] == data["hmac_secret"]
    assert len(data["hmac_secret"]) == 64
    assert shown["totp_uri"].startswith("otpauth://totp/Smart%20Care:Community%20Clinic?")
    assert data["scopes"] == ALL_SCOPES
    assert data["identified_sharing"] is False
    assert bytes.fromhex(data["pseudonym_key"])
    # Editing the link later never shows them again, and keeps them.
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_CLINIC),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    assert not result["description_placeholders"]
    schema_keys = {str(key) for key in result["data_schema"].schema}
    assert not schema_keys & {"hmac_secret", "totp_secret", "webhook_id", "pseudonym_key"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Renamed Clinic",
            "transport": "http",
            "fhir_base_url": fhir_server.base_url + "/",
            "token": "new-token",
            "scopes": ["alerts"],
            "identified_sharing": True,
        },
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    updated = loaded_household.subentries[subentry_id]
    assert updated.title == "Renamed Clinic"
    assert updated.data["token"] == "new-token"
    assert updated.data["fhir_base_url"] == fhir_server.base_url
    for key in ("link_id", "webhook_id", "hmac_secret", "totp_secret", "pseudonym_key"):
        assert updated.data[key] == data[key]
    # Folder delivery chosen later: the default folder is filled in, the URL dropped.
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_CLINIC),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Renamed Clinic", "transport": "folder", "scopes": []}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    updated = loaded_household.subentries[subentry_id]
    assert updated.data["folder"] == hass.config.path("smart_care_outbox", data["link_id"])
    assert "fhir_base_url" not in updated.data
    assert "token" not in updated.data


async def test_webhook_path_when_home_assistant_has_no_url(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    fhir_server: FhirServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def _no_url(*args: Any, **kwargs: Any) -> str:
        raise NoURLAvailableError

    monkeypatch.setattr(webhook, "async_generate_url", _no_url)
    _, data, shown = await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    assert shown["webhook_url"] == f"<Home Assistant URL>/api/webhook/{data['webhook_id']}"


async def test_manual_link_validation_errors(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    aiohttp_server: Any,
    fhir_server: FhirServer,
) -> None:
    r5 = await start_fhir(aiohttp_server, fhir_version="5.0.0")
    locked = await start_fhir(aiohttp_server)
    locked.token = "right"
    await link_clinic(hass, loaded_household, url=fhir_server.base_url, name="Taken")
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_CLINIC), context={"source": SOURCE_USER}
    )
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"name": " "}, {"name": "clinic_name_required", "fhir_base_url": "url_required"}),
        (
            {"name": "taken", "fhir_base_url": "ftp://x/fhir"},
            {"name": "clinic_name_in_use", "fhir_base_url": "invalid_url"},
        ),
        ({"fhir_base_url": "http://example.com/fhir"}, {"fhir_base_url": "insecure_url"}),
        ({"fhir_base_url": "https://user:pw@example.com/fhir"}, {"fhir_base_url": "invalid_url"}),
        ({"fhir_base_url": "https://example.com:99999/fhir"}, {"fhir_base_url": "invalid_url"}),
        ({"fhir_base_url": fhir_server.base_url}, {"fhir_base_url": "url_in_use"}),
        ({"fhir_base_url": f"http://127.0.0.1:{closed_port()}/fhir"}, {"base": "cannot_connect"}),
        ({"fhir_base_url": r5.base_url}, {"base": "unsupported_fhir_version"}),
        ({"fhir_base_url": locked.base_url, "token": "wrong"}, {"base": "invalid_auth"}),
        ({"fhir_base_url": locked.base_url.replace("http://", "https://")}, {"base": "tls_error"}),
        ({"fhir_base_url": locked.base_url + "/nothing"}, {"base": "cannot_connect"}),
        ({"transport": "folder", "folder": "relative/outbox"}, {"folder": "folder_invalid"}),
    ]
    for fields, errors in cases:
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"name": "New Clinic", "transport": "http"} | fields
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == errors, fields
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "New Clinic", "fhir_base_url": locked.base_url, "token": "right"},
    )
    assert result["step_id"] == "credentials"


async def test_subentry_flow_needs_a_loaded_household(
    hass: HomeAssistant, loaded_household: MockConfigEntry, fhir_server: FhirServer
) -> None:
    subentry_id, _, _ = await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    assert await hass.config_entries.async_unload(loaded_household.entry_id)
    for source, context in (
        (SOURCE_USER, {}),
        (SOURCE_RECONFIGURE, {"subentry_id": subentry_id}),
    ):
        result = await hass.config_entries.subentries.async_init(
            (loaded_household.entry_id, SUBENTRY_CLINIC), context={"source": source, **context}
        )
        assert result["reason"] == "household_not_loaded"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://fhir.clinic.example/fhir", None),
        ("http://127.0.0.1:8080/fhir", None),
        ("http://localhost/fhir", None),
        ("http://192.168.1.20/fhir", None),
        ("http://[fd00::1]:8080/fhir", None),
        ("http://clinic-gateway.local/fhir", None),
        ("http://8.8.8.8/fhir", "insecure_url"),
        ("http://fhir.clinic.example/fhir", "insecure_url"),
        ("https://fhir.clinic.example/fhir?x=1", "invalid_url"),
        ("https://fhir.clinic.example/fhir#a", "invalid_url"),
        ("fhir.clinic.example", "invalid_url"),
        ("https:///fhir", "invalid_url"),
    ],
)
def test_url_rules(url: str, error: str | None) -> None:
    assert check_url(url) == error


@pytest.mark.parametrize(
    ("port", "path", "expected"),
    [
        (8080, "/fhir/", "http://192.168.1.20:8080/fhir"),
        (443, "baseR4", "https://192.168.1.20/baseR4"),
        (80, None, "http://192.168.1.20/fhir"),
    ],
)
def test_discovered_url(port: int, path: str | None, expected: str) -> None:
    info = ZeroconfServiceInfo(
        ip_address=ip_address("192.168.1.20"),
        ip_addresses=[ip_address("192.168.1.20")],
        port=port,
        hostname="g.local.",
        type="_smartcare._tcp.local.",
        name=SERVICE,
        properties={} if path is None else {"fhir_base": path},
    )
    assert discovered_url(info) == expected


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("<html>not FHIR</html>", "cannot_connect"),
        ('{"resourceType": "OperationOutcome"}', "cannot_connect"),
        ('{"resourceType": "CapabilityStatement"}', None),
    ],
)
async def test_capability_statement_is_checked(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    fhir_server: FhirServer,
    body: str,
    error: str | None,
) -> None:
    fhir_server.metadata_body = body
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_CLINIC), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "C", "transport": "http", "fhir_base_url": fhir_server.base_url}
    )
    if error is None:
        assert result["step_id"] == "credentials"
    else:
        assert result["errors"] == {"base": error}


async def test_reconfigure_shows_errors(
    hass: HomeAssistant, loaded_household: MockConfigEntry, fhir_server: FhirServer
) -> None:
    subentry_id, data, _ = await link_clinic(hass, loaded_household, url=fhir_server.base_url)
    result = await hass.config_entries.subentries.async_init(
        (loaded_household.entry_id, SUBENTRY_CLINIC),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Community Clinic", "transport": "http", "fhir_base_url": "http://8.8.8.8/f"},
    )
    assert result["errors"] == {"fhir_base_url": "insecure_url"}
    assert loaded_household.subentries[subentry_id].data == data


async def test_reauth_repair_for_a_removed_link(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        "clinic_auth_gone",
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key="clinic_auth",
        translation_placeholders={"clinic": "Old"},
        data={"subentry_id": "no-such-subentry", "link_id": "gone"},
    )
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": "clinic_auth_gone"}
    )
    flow = await response.json()
    assert flow["type"] == "abort"
    assert flow["reason"] == "link_gone"


async def test_an_ignored_clinic_stays_quiet(
    hass: HomeAssistant, loaded_household: MockConfigEntry, fhir_server: FhirServer
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_IGNORE},
        data={"unique_id": f"clinic:{SERVICE}", "title": "Community Clinic"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await discover(hass, service_info(fhir_server))
    assert result["reason"] == "already_configured"
    assert not clinic_subentries(loaded_household)
