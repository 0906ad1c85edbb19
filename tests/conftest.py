"""Fixtures: a real Home Assistant core with Smart Care loaded from the working tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import logging
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_care.const import (
    CONF_ENTRY_TYPE,
    CONF_GLUCOSE_UNIT,
    CONF_SHARE_LOCATION,
    DOMAIN,
    ENTRY_TYPE_HOUSEHOLD,
    SUBENTRY_PERSON,
)

from .support.fhir_medplum import MedplumServer

# Identities that must never appear in logs, states or diagnostics.
SENTINEL_NAME = "Zzyzx-Sentinel-Alias"
SENTINEL_ID = "SENT1NEL-4711-ID"
SENTINEL_TEXT = "sentinel-condition-xyzzy"
SENTINEL_BIRTH = "1941-03-07"


SENTINELS = (SENTINEL_NAME, SENTINEL_ID, SENTINEL_TEXT, SENTINEL_BIRTH)


@pytest.fixture(autouse=True)
def no_identity_in_logs(caplog: pytest.LogCaptureFixture) -> Any:
    """Every test: no sentinel identity in any log record (Smart Care logs at DEBUG)."""
    caplog.set_level(logging.DEBUG, logger="custom_components.smart_care")
    yield
    leaks: list[str] = []
    for when in ("setup", "call"):
        for record in caplog.get_records(when):  # type: ignore[arg-type]
            try:
                text = record.getMessage()
            except Exception:  # a broken format string still shows its parts
                text = f"{record.msg} {record.args}"
            text += f" {record.exc_text or ''} {record.stack_info or ''}"
            if record.exc_info and record.exc_info[1] is not None:
                text += f" {record.exc_info[1]!r}"
            leaks += [f"{record.name}: {s}" for s in SENTINELS if s in text]
    if leaks:
        pytest.fail(f"identity sentinel logged: {sorted(set(leaks))}", pytrace=False)


def _deprecation_report(record: logging.LogRecord) -> bool:
    """HA reporting that Smart Care uses something deprecated (frame helper, deprecation helper)."""
    if record.levelno < logging.WARNING or record.name.startswith("custom_components.smart_care"):
        return False
    try:
        text = record.getMessage()
    except Exception:  # a broken format string still shows its parts
        text = f"{record.msg} {record.args}"
    if "smart_care" not in text:
        return False
    return record.name == "homeassistant.helpers.frame" or any(
        marker in text for marker in ("Detected that custom integration", "deprecated")
    )


@pytest.fixture(autouse=True)
def no_deprecated_usage(caplog: pytest.LogCaptureFixture) -> Any:
    """Every test: HA logs no "report usage" / deprecation line naming smart_care.

    (DeprecationWarnings attributed to custom_components are errors: pyproject filterwarnings.)
    """
    yield
    reports = [
        record.getMessage()
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)  # type: ignore[arg-type]
        if _deprecation_report(record)
    ]
    if reports:
        pytest.fail(f"HA reports deprecated usage by smart_care: {reports}", pytrace=False)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ in every test."""


@pytest.fixture(autouse=True)
def auto_mock_bluetooth(mock_bluetooth: None) -> None:
    """No radio here: HA's bluetooth starts with its scanner mocked, as in core's tests."""


@pytest.fixture
def household_entry() -> MockConfigEntry:
    """A household config entry (not yet added to hass)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        data={CONF_ENTRY_TYPE: ENTRY_TYPE_HOUSEHOLD},
        options={CONF_GLUCOSE_UNIT: "mmol/L", CONF_SHARE_LOCATION: False},
        version=1,
        minor_version=1,
    )


@pytest.fixture
async def loaded_household(
    hass: HomeAssistant, household_entry: MockConfigEntry
) -> MockConfigEntry:
    """The household entry, set up."""
    household_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(household_entry.entry_id)
    await hass.async_block_till_done()
    return household_entry


async def add_person(hass: HomeAssistant, entry: MockConfigEntry, **fields: Any) -> dict[str, Any]:
    """Add a person through the real subentry flow; return the flow result."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_PERSON), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], fields)
    await hass.async_block_till_done()
    return dict(result)


@pytest.fixture
async def grandma(hass: HomeAssistant, loaded_household: MockConfigEntry) -> str:
    """A person with sentinel identity fields; returns the subentry id."""
    result = await add_person(
        hass,
        loaded_household,
        alias="Grandma",
        birth_date=SENTINEL_BIRTH,
        sex="female",
        id_number=SENTINEL_ID,
        conditions=SENTINEL_TEXT,
        allergies="penicillin " + SENTINEL_TEXT,
        medications="Metformin 500 mg 08:00",
        emergency_contacts=["notify.family"],
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = hass.config_entries.async_get_entry(loaded_household.entry_id)
    assert entry is not None
    (subentry_id,) = [
        sid for sid, sub in entry.subentries.items() if sub.data["alias"] == "Grandma"
    ]
    return subentry_id


@pytest.fixture
def medplum_factory(socket_enabled: None) -> Iterator[Callable[..., MedplumServer]]:
    """Start real FHIR R4 servers (Medplum, in memory, 127.0.0.1); all stopped after the test.

    Sockets are enabled for the test (the servers are on 127.0.0.1).

    ``medplum_factory(env={...})`` returns a started :class:`MedplumServer`.
    """
    servers: list[MedplumServer] = []

    def start(env: dict[str, str] | None = None) -> MedplumServer:
        server = MedplumServer(env=env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def medplum(medplum_factory: Callable[..., MedplumServer]) -> MedplumServer:
    """A fresh real FHIR R4 server (Medplum's router and validator) for this test."""
    return medplum_factory()
