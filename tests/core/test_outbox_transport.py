"""The clinic transport reads whole answers, however the server chunks them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.smart_care.core.outbox import REASON_TOO_LARGE, DeliveryError, HttpTransport


async def _chunked(request: web.Request, payload: bytes, status: int) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={"Content-Type": "application/fhir+json"})
    await response.prepare(request)
    # Three writes with a pause between them: the client sees the body arrive in parts.
    third = len(payload) // 3
    for part in (payload[:third], payload[third : 2 * third], payload[2 * third :]):
        await response.write(part)
        await asyncio.sleep(0.01)
    await response.write_eof()
    return response


async def test_a_searchset_sent_in_parts_is_read_whole(
    aiohttp_server: Any, socket_enabled: None
) -> None:
    searchset = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Observation", "id": f"o{n}", "status": "final"}}
            for n in range(300)
        ],
    }
    payload = json.dumps(searchset).encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _chunked(request, payload, 200)

    app = web.Application()
    app.router.add_get("/fhir/Observation", handler)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(session, str(server.make_url("/fhir")))
        found = await transport.search("Observation", {"subject": "Patient/p1"})
    assert len(found["entry"]) == 300


async def test_a_refusal_sent_in_parts_is_read_whole(
    aiohttp_server: Any, socket_enabled: None
) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "invalid", "details": {"text": "x" * 20000}},
            {
                "severity": "error",
                "code": "too-costly",
                "details": {
                    "text": "Transaction requires strict isolation but has too many entries"
                },
            },
        ],
    }
    payload = json.dumps(outcome).encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _chunked(request, payload, 400)

    app = web.Application()
    app.router.add_post("/fhir", handler)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(session, str(server.make_url("/fhir")))
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
        with pytest.raises(DeliveryError) as refused:
            await transport.send(bundle, "readings")
    # The "too many entries" text sits past the first part: it was read, so the bundle shrinks.
    assert refused.value.reason == REASON_TOO_LARGE
