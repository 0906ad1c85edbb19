"""A stand-in for the phone push service: pushes become persistent notifications.

The demo registers a "Family phone" through HA's own ``mobile_app`` registration API, with
its ``push_url`` pointing here. So the family-alert blueprint sends through the real
``notify.mobile_app_family_phone`` service, HA's mobile_app POSTs the push exactly as it
would to Apple's or Google's relay, and this view shows it in HA as a persistent
notification (what the phone would have displayed), titled with the phone's name.
``clear_notification`` pushes (sent when an alert is acknowledged) dismiss it again.

Only a request carrying the demo's secret push token is accepted.
"""

from __future__ import annotations

from http import HTTPStatus
import logging
import secrets
from typing import Any

from aiohttp import web
from homeassistant.components import persistent_notification
from homeassistant.components.http import KEY_HASS, HomeAssistantView

_LOGGER = logging.getLogger(__name__)

PUSH_PATH = "/api/smart_care_demo/push"
PHONE_NAME = "Family phone"


def new_token() -> str:
    """A secret for the push URL registration."""
    return secrets.token_urlsafe(24)


class DemoPushView(HomeAssistantView):
    """Receives mobile_app pushes for the demo phone."""

    url = PUSH_PATH
    name = "api:smart_care_demo:push"
    requires_auth = False  # the push relay is called without HA credentials

    def __init__(self, token: str) -> None:
        """Accept pushes carrying ``token``."""
        self._token = token

    async def post(self, request: web.Request) -> web.Response:
        """Show or clear one push."""
        try:
            body: dict[str, Any] = await request.json()
        except ValueError:
            return self.json_message("Invalid JSON", HTTPStatus.BAD_REQUEST)
        if not secrets.compare_digest(str(body.get("push_token", "")), self._token):
            return self.json_message("Unknown push token", HTTPStatus.FORBIDDEN)
        hass = request.app[KEY_HASS]
        data = body.get("data") or {}
        tag = str(data.get("tag") or f"smart_care_demo_push_{secrets.token_hex(4)}")
        message = str(body.get("message", ""))
        if message == "clear_notification":
            persistent_notification.async_dismiss(hass, tag)
            return self.json({"delivered": True}, HTTPStatus.CREATED)
        buttons = " · ".join(
            f"[{a.get('title')}]" for a in data.get("actions", []) if isinstance(a, dict)
        )
        level = ""
        if data.get("push", {}).get("interruption-level") == "critical" or (
            data.get("channel") == "alarm_stream"
        ):
            level = " (critical: breaks through Do Not Disturb)"
        persistent_notification.async_create(
            hass,
            f"{message}\n\n{buttons}" if buttons else message,
            title=f"📱 {PHONE_NAME}: {body.get('title', 'Smart Care')}{level}",
            notification_id=tag,
        )
        _LOGGER.info("Push to the %s: %s", PHONE_NAME, body.get("title"))
        return self.json({"delivered": True}, HTTPStatus.CREATED)
