"""What the parts of a clinic link know of each other: its settings and two narrow views.

The webhook and its subscription endpoint are built by the link that owns them; they reach it
through ``Link`` and ``LinkWebhook`` rather than naming ``ClinicLink``, so every import in
``clinic/`` points one way (bridge → webhook → subscription → types). Notes: docs/clinic.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .. import const

if TYPE_CHECKING:
    from ..care.alerts import AlertManager
    from ..core.outbox import Outbox
    from ..household.runtime import Household
    from .http import Audit, Reply


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """A clinic link as stored in its subentry."""

    subentry_id: str
    link_id: str
    name: str
    transport: str
    fhir_base: str | None
    token: str | None
    folder: str | None
    scopes: frozenset[str]
    identified: bool
    webhook_id: str
    hmac_secret: str
    totp_secret: str
    pseudonym_key: bytes
    start_row: int
    linked_at: datetime

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> LinkConfig:
        """Read a clinic subentry."""
        data = subentry.data
        linked = dt_util.parse_datetime(str(data.get(const.CONF_LINKED_AT, ""))) or dt_util.utcnow()
        return cls(
            subentry_id=subentry.subentry_id,
            link_id=data[const.CONF_LINK_ID],
            name=data[const.CONF_CLINIC_NAME],
            transport=data[const.CONF_TRANSPORT],
            fhir_base=data.get(const.CONF_FHIR_BASE),
            token=data.get(const.CONF_TOKEN) or None,
            folder=data.get(const.CONF_FOLDER),
            scopes=frozenset(data.get(const.CONF_SCOPES, [])),
            identified=bool(data.get(const.CONF_IDENTIFIED, False)),
            webhook_id=data[const.CONF_WEBHOOK_ID],
            hmac_secret=data[const.CONF_HMAC_SECRET],
            totp_secret=data[const.CONF_TOTP_SECRET],
            pseudonym_key=bytes.fromhex(data[const.CONF_PSEUDONYM_KEY]),
            start_row=int(data.get(const.CONF_START_ROW, 0)),
            linked_at=linked,
        )


class Link(Protocol):
    """What a link's webhook uses of the link that owns it (``bridge.ClinicLink``)."""

    hass: HomeAssistant
    config: LinkConfig
    link_id: str
    household: Household
    alerts: AlertManager
    people_by_pseudonym: dict[str, str]

    @property
    def outbox(self) -> Outbox:
        """The link's outbox (once the link has started)."""
        ...


class LinkWebhook(Protocol):
    """What the subscription endpoint uses of its webhook (``webhook.ClinicWebhook``)."""

    link: Link

    def check_replay(self, key: str, audit: Audit) -> Reply | None:
        """Refuse a key seen within the window."""
        ...

    async def async_store_advice(
        self, person_id: str, title: str, text: str, author: str | None, clinic_id: str | None
    ) -> Reply:
        """Keep a clinician's advice."""
        ...

    async def async_acknowledge(self, person_id: str | None, alert_id: str) -> Reply:
        """Acknowledge an alert for a clinician."""
        ...
