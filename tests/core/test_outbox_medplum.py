"""Readings as FHIR batches against the real server (Medplum's router), below Home Assistant.

The ``Sender`` sends readings as ``batch`` bundles once a server's transaction cap is
small; these tests drive it directly so the server can be restarted at the one moment
that matters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.smart_care.core import fhir
from custom_components.smart_care.core.outbox import (
    HttpTransport,
    LinkLimits,
    LinkProfile,
    Outbox,
    Sender,
)
from custom_components.smart_care.core.security import new_pseudonym_key
from custom_components.smart_care.core.store.record_store import RecordStore
from tests.support.fhir_medplum import MedplumServer

START = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    """A fresh record store."""
    opened = RecordStore(tmp_path / "record.db")
    yield opened
    opened.close()


def append(store: RecordStore, first: int, count: int) -> None:
    for n in range(first, first + count):
        store.append_many(
            "p1",
            [("pulse", 60.0 + n % 30, "bpm", START + timedelta(minutes=n), None)],
            "manual",
            {},
            f"r{n}",
        )


def run_in_thread(target: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    return asyncio.get_running_loop().run_in_executor(None, partial(target, *args))


class RestartBeforeBatch:
    """The real transport; the server restarts (empty) just before one chosen batch."""

    def __init__(self, http: HttpTransport, server: MedplumServer) -> None:
        self.http = http
        self.server = server
        self.armed = False
        self.types: list[str] = []

    async def send(self, bundle: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
        self.types.append(str(bundle.get("type")))
        if self.armed and bundle.get("type") == "batch":
            self.armed = False
            await run_in_thread(self.server.restart)
        return await self.http.send(bundle, name)


async def test_server_lost_between_identities_and_batch_everything_again_with_good_refs(
    store: RecordStore, medplum: MedplumServer
) -> None:
    link = LinkProfile("link-1", frozenset({"vital_signs"}), False, new_pseudonym_key())
    outbox = Outbox(store, link, UTC)
    async with aiohttp.ClientSession() as session:
        transport = RestartBeforeBatch(HttpTransport(session, medplum.base_url), medplum)
        # A cap like Medplum's already learned: readings go as batches.
        sender = Sender(outbox, transport, run_in_thread, LinkLimits(good=2, bad=9))
        append(store, 0, 40)
        first = await sender.drain()
        assert (first.readings, first.quarantined, first.server_reset) == (40, 0, False)
        assert transport.types == ["transaction", "batch"]
        # The server restarts after the Patient and gateway were resolved, just before
        # the batch: the batch's gateway comes back 201, so the bridge knows.
        append(store, 40, 10)
        transport.armed = True
        transport.types.clear()
        second = await sender.drain()
        assert second.server_reset
    assert outbox.pending_count() == 0
    # Everything is on the new server once, and every reference resolves there.
    observations = await medplum.all("Observation")
    values = sorted(o["identifier"][0]["value"] for o in observations)
    assert len(values) == 50 == len(set(values))
    patients = {f"Patient/{p['id']}" for p in await medplum.all("Patient")}
    devices = {f"Device/{d['id']}" for d in await medplum.all("Device")}
    assert len(patients) == 1
    assert len(devices) == 1
    for observation in observations:
        assert observation["subject"]["reference"] in patients
        assert observation["device"]["reference"] in devices
    # Asked the way a clinic would: by identifier, exactly once.
    for value in values[::7]:
        found = await medplum.by_identifier("Observation", fhir.OBSERVATION_SYSTEM, value)
        assert len(found) == 1


async def test_batches_carry_many_readings_under_an_eight_entry_cap(
    store: RecordStore, medplum: MedplumServer
) -> None:
    """The cap is learned from Medplum's own refusals, then batches carry ~100 readings."""
    link = LinkProfile("link-1", frozenset({"vital_signs"}), False, new_pseudonym_key())
    outbox = Outbox(store, link, UTC)
    append(store, 0, 250)
    async with aiohttp.ClientSession() as session:
        transport = RestartBeforeBatch(HttpTransport(session, medplum.base_url), medplum)
        sender = Sender(outbox, transport, run_in_thread)
        report = await sender.drain()
    assert report.readings == 250
    assert report.quarantined == 0
    assert sender.limits.good <= 8 < (sender.limits.bad or 0)
    assert sender.batch_mode(datetime.now(UTC))
    assert sender.batch_limits.good > 8
    assert transport.types.count("batch") <= 4
    assert await medplum.count("Observation") == 250


class NewPersonWhileResolving:
    """The real transport; another person's readings arrive while identities resolve."""

    def __init__(self, http: HttpTransport, store: RecordStore) -> None:
        self.http = http
        self.store = store
        self.done = False

    async def send(self, bundle: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
        reply = await self.http.send(bundle, name)
        if not self.done and bundle.get("type") == "transaction":
            self.done = True
            self.store.append_many(
                "p2", [("pulse", 80.0, "bpm", START, None)], "manual", {}, "grandpa-1"
            )
        return reply


async def test_readings_that_arrive_while_resolving_never_leave_with_a_placeholder(
    store: RecordStore, medplum: MedplumServer
) -> None:
    """A batch planned again after resolving must not carry an unresolved Patient.

    Found running the demo against Medplum: a newly arrived person's readings went out
    with the Patient's placeholder, which a batch does not rewrite.
    """
    link = LinkProfile("link-1", frozenset({"vital_signs"}), False, new_pseudonym_key())
    outbox = Outbox(store, link, UTC)
    append(store, 0, 3)
    async with aiohttp.ClientSession() as session:
        transport = NewPersonWhileResolving(HttpTransport(session, medplum.base_url), store)
        sender = Sender(outbox, transport, run_in_thread, LinkLimits(good=2, bad=9))
        report = await sender.drain()
    assert transport.done
    assert report.readings == 4
    patients = {f"Patient/{p['id']}" for p in await medplum.all("Patient")}
    assert len(patients) == 2
    observations = await medplum.all("Observation")
    assert len(observations) == 4
    assert {o["subject"]["reference"] for o in observations} == patients
