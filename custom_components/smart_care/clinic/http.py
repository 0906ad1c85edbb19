"""The HTTP plumbing the clinic webhook and its subscription endpoint share (docs/clinic.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import re
from typing import Any, Final

from aiohttp import web

from ..core.boundary import BoundaryError

MAX_BODY: Final = 64 * 1024
PSEUDONYM_RE: Final = re.compile(r"^sc-[a-z2-7]{26}$")
AUTHORITY_NONE: Final = "none"


@dataclass(slots=True)
class Reply:
    """What the clinic gets back, and what the audit trail records."""

    status: int
    body: Any
    outcome: str
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(status: int, code: str, field_name: str | None = None, message: str = "") -> Reply:
    """A refusal: the code, and the field it concerns when there is one."""
    body: dict[str, Any] = {"error": code}
    if field_name is not None:
        body["field"] = field_name
    if message:
        body["message"] = message
    return Reply(status, body, code)


def boundary_error(err: BoundaryError) -> Reply:
    """The 4xx of a refusal at the input boundary (413 for size, else 400)."""
    return error_reply(413 if err.code == "too_large" else 400, err.code, err.field, err.message)


@dataclass(slots=True)
class Audit:
    """What the audit trail records of one request."""

    request_type: str = "unknown"
    person: str | None = None
    authority: str = AUTHORITY_NONE
    signature: str | None = None


async def read_body(request: web.Request) -> bytes | None:
    """The body, or None when it is larger than ``MAX_BODY`` (stops reading there)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    body = bytearray()
    while chunk := await request.content.read(16384):
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


def response(reply: Reply) -> web.Response:
    """The HTTP response of a reply."""
    # ASCII JSON: nothing a sender wrote can make the reply unencodable.
    text = json.dumps(reply.body, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return web.Response(
        text=text, status=reply.status, content_type=reply.content_type, headers=reply.headers
    )
