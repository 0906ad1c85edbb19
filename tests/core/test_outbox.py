"""The outbox on its own (a real RecordStore, no Home Assistant): bundles, lanes, transports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
import json
import logging
from pathlib import Path
import random
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from custom_components.smart_care.core import fhir
from custom_components.smart_care.core.outbox import (
    BACKOFF_CAP,
    KIND_ALERT,
    KIND_ERASURE,
    KIND_MEDICATION,
    KIND_SUMMARY,
    REASON_REJECTED,
    REASON_TRANSIENT,
    DeliveryError,
    FolderTransport,
    HttpTransport,
    LinkLimits,
    LinkProfile,
    Outbox,
    Sender,
    SenderProfile,
    backoff_delay,
    deliver_next,
    operation_outcome_text,
    too_large_refusal,
)
from custom_components.smart_care.core.security import new_pseudonym_key
from custom_components.smart_care.core.store.record_store import RecordStore
from tests.fakes.fhir_server import FhirServer
from tests.support.clinic_support import start_fhir, validate_bundle

TZ = ZoneInfo("Asia/Shanghai")
ADDRESS = "A4:C1:38:12:34:56"
ALL = frozenset({"vital_signs", "alerts", "daily_summary", "medication"})
WHEN = datetime(2025, 3, 11, 1, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    """A fresh record store."""
    opened = RecordStore(tmp_path / "record.db")
    yield opened
    opened.close()


def outbox(store: RecordStore, scopes: frozenset[str] = ALL, identified: bool = False) -> Outbox:
    link = LinkProfile("link-1", scopes, identified, new_pseudonym_key(), gateway_version="1.0")
    return Outbox(store, link, TZ, {"p1": "Grandma"})


async def run(target: Callable[..., Any], *args: Any) -> Any:
    return target(*args)


def alert_record(alert_id: str = "a1", status: str = "open", **extra: Any) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "person_id": "p1",
        "person": "Grandma",
        "severity": "warning",
        "kind": "threshold",
        "code": "systolic_bp_high",
        "message": "Systolic blood pressure 150 mmHg is above 140.",
        "time": WHEN.isoformat(),
        "vital": "systolic_bp",
        "value": 150.0,
        "unit": "mmHg",
        "threshold": 140.0,
        "status": status,
        **extra,
    }


def resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e.get("resource", {}).get("resourceType") == rtype
    ]


def test_device_readings_get_their_device_and_flags(store: RecordStore) -> None:
    store.append_many(
        "p1",
        [("systolic_bp", 150.0, "mmHg", WHEN, None), ("diastolic_bp", 95.0, "mmHg", WHEN, None)],
        f"device:{ADDRESS}",
        {"kind": "blood_pressure", "status_flags": ["irregular_pulse"]},
        "r1",
    )
    box = outbox(store)
    batch = box.next_batch()
    assert batch is not None
    assert batch.bundle is not None
    validate_bundle(batch.bundle)
    text = json.dumps(batch.bundle)
    assert ADDRESS not in text  # the Bluetooth address is not shared
    (device,) = [
        d
        for d in resources(batch.bundle, "Device")
        if d["identifier"][0]["system"] == fhir.DEVICE_SYSTEM
    ]
    assert device["identifier"][0]["value"] == box.device_key(ADDRESS)
    assert device["specialization"][0]["systemType"]["coding"][0]["code"] == "528391"
    assert device["parent"]["reference"] == box.gateway_ref
    (panel,) = resources(batch.bundle, "Observation")
    assert panel["device"]["reference"] == fhir.full_url(device)
    assert panel["note"][0]["text"] == "Device reported: irregular pulse."
    box.ack(batch)
    assert box.next_batch() is None
    assert box.pending_count() == 0


def test_unsendable_readings_are_skipped_not_stuck(
    store: RecordStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.append_many(
        "p1",
        [("pulse", 70.0, "bpm", WHEN, None)],
        "device:X",
        {"status_flags": ["Not A Flag"]},
        "r1",
    )
    box = outbox(store)
    batch = box.next_batch()
    assert batch is not None
    assert batch.bundle is None  # nothing sendable: acknowledged without a request
    assert "cannot be expressed in FHIR" in caplog.text
    box.ack(batch)
    assert box.pending_count() == 0


def test_identity_fields_fhir_cannot_carry_are_left_out(
    store: RecordStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.put_profile("p1", {"birth_date": "1941-02-30", "sex": "unknown", "id_number": "X1"})
    patient = outbox(store, identified=True).patient("p1")
    assert patient["name"] == [{"text": "Grandma"}]
    assert patient["gender"] == "unknown"
    assert "birthDate" not in patient
    assert "birth_date" in caplog.text
    assert "1941-02-30" not in caplog.text


def test_item_lane_coalesces_respects_consent_and_isolates_erasure(
    store: RecordStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    store.clinic_enqueue(
        "link-1",
        [
            (KIND_ALERT, "a1", "p1", alert_record(status="open")),
            (KIND_ALERT, "a1", "p1", alert_record(status="snoozed", acknowledged_by="x")),
            (
                KIND_ALERT,
                "a1",
                "p1",
                alert_record(status="acknowledged", acknowledged_at=WHEN.isoformat()),
            ),
            (
                KIND_MEDICATION,
                "m1",
                "p1",
                {
                    "person_id": "p1",
                    "medication": "Metformin 500 mg",
                    "answer": "skipped",
                    "scheduled": WHEN.isoformat(),
                    "answered": WHEN.isoformat(),
                    "dosage": "500 mg",
                    "reason": "nausea",
                },
            ),
            ("mystery", "x", "p1", {}),
            (KIND_ALERT, "bad", "p1", alert_record(alert_id="bad", severity="dire")),
            (KIND_ERASURE, "p2", None, {"pseudonym": "sc-" + "b" * 26}),
            (KIND_SUMMARY, "p1|2025-03-10", "p1", {"person_id": "p1", "day": "2025-03-10"}),
        ],
    )
    box = outbox(store, scopes=frozenset({"alerts"}))
    first = box.next_batch()
    assert first is not None
    assert first.items == 6
    assert first.bundle is not None
    validate_bundle(first.bundle)
    (issue,) = resources(first.bundle, "DetectedIssue")
    assert issue["status"] == "final"  # the last of three changes wins
    # Medication consent not given: acknowledged without being sent.
    assert not resources(first.bundle, "MedicationStatement")
    assert "mystery dropped" in caplog.text
    assert "cannot be expressed in FHIR and is dropped" in caplog.text
    box.ack(first)
    erasure = box.next_batch()
    assert erasure is not None
    assert erasure.items == 1
    assert erasure.bundle is not None
    assert [e["request"]["method"] for e in erasure.bundle["entry"]] == ["DELETE"] * 5
    box.ack(erasure)
    summary = box.next_batch()
    assert summary is not None
    assert summary.bundle is None  # daily_summary not consented
    box.ack(summary)
    assert box.pending_count() == 0


def test_medication_item_with_consent(store: RecordStore) -> None:
    store.clinic_enqueue(
        "link-1",
        [
            (
                KIND_MEDICATION,
                "m1",
                "p1",
                {
                    "person_id": "p1",
                    "medication": "Metformin 500 mg",
                    "answer": "skipped",
                    "scheduled": WHEN.isoformat(),
                    "answered": WHEN.isoformat(),
                    "dosage": "500 mg",
                    "reason": "nausea",
                },
            )
        ],
    )
    batch = outbox(store).next_batch()
    assert batch is not None
    assert batch.bundle is not None
    validate_bundle(batch.bundle)
    (statement,) = resources(batch.bundle, "MedicationStatement")
    assert statement["status"] == "not-taken"
    assert statement["statusReason"] == [{"text": "nausea"}]


def test_summary_of_a_busy_day_leaves_the_readings_out(store: RecordStore) -> None:
    start = datetime(2025, 3, 10, 0, 0, tzinfo=TZ)
    for n in range(201):
        store.append_many(
            "p1",
            [("pulse", 60.0 + n % 20, "bpm", start + timedelta(minutes=n), None)],
            "manual",
            {},
            f"r{n}",
        )
    store.clinic_enqueue(
        "link-1", [(KIND_SUMMARY, "p1|2025-03-10", "p1", {"person_id": "p1", "day": "2025-03-10"})]
    )
    batch = outbox(store).next_batch()
    assert batch is not None
    assert batch.bundle is not None
    (summary,) = resources(batch.bundle, "Observation")
    assert "derivedFrom" not in summary
    stats = {c["code"]["coding"][0]["code"]: c for c in summary["component"]}
    assert stats["pulse-count"]["valueInteger"] == 201


def test_pull_summary_skips_alerts_it_cannot_express(store: RecordStore) -> None:
    store.append_many("p1", [("spo2", 97.0, "%", WHEN, None)], "manual", {}, "r1")
    bundle = outbox(store).pull_summary(
        "p1",
        days=3650,
        identified=False,
        now=WHEN + timedelta(hours=1),
        alerts=[alert_record(), alert_record(alert_id="x", severity="dire")],
    )
    validate_bundle(bundle)
    assert len(resources(bundle, "DetectedIssue")) == 1


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in (
        (1, 10),
        (2, 20),
        (3, 40),
        (8, 1280),
        (9, 2560),
        (10, 3600),
        (99, 3600),
    ):
        delays = [backoff_delay(attempt, rng) for _ in range(200)]
        assert ceiling / 2 <= min(delays)
        assert max(delays) <= ceiling
        assert len(set(delays)) > 100  # jittered
    assert backoff_delay(0, rng) <= 10
    assert BACKOFF_CAP == 3600


def test_operation_outcome_text() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "diagnostics": "  first\n problem "},
            {"severity": "error", "details": {"text": "second"}},
            "junk",
        ],
    }
    assert operation_outcome_text(json.dumps(outcome).encode()) == "first problem; second"
    response = {
        "resourceType": "Bundle",
        "entry": [{"response": {"outcome": outcome}}, "junk", {"response": {"outcome": 3}}],
    }
    assert operation_outcome_text(json.dumps(response).encode()) == "first problem; second"
    assert operation_outcome_text(b"<html>") == ""
    assert operation_outcome_text(b'"text"') == ""
    assert (
        len(
            operation_outcome_text(
                json.dumps(
                    {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "x" * 900}]}
                ).encode()
            )
        )
        == 500
    )


async def test_folder_transport_failure_is_transient(store: RecordStore, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store.append_many("p1", [("spo2", 97.0, "%", WHEN, None)], "manual", {}, "r1")
    box = outbox(store)
    with pytest.raises(DeliveryError) as err:
        await deliver_next(box, FolderTransport(blocker / "outbox", run), run)
    assert err.value.reason == REASON_TRANSIENT
    assert box.pending_count() == 1  # nothing acknowledged


async def test_http_transport_maps_answers(
    store: RecordStore, aiohttp_server: Any, socket_enabled: None
) -> None:
    server: FhirServer = await start_fhir(aiohttp_server)
    store.append_many("p1", [("spo2", 97.0, "%", WHEN, None)], "manual", {}, "r1")
    box = outbox(store)
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(session, server.base_url + "/", token="t0k")
        assert transport.headers()["Authorization"] == "Bearer t0k"
        server.fail(400, diagnostics="")
        with pytest.raises(DeliveryError) as err:
            await deliver_next(box, transport, run)
        assert (err.value.reason, err.value.status, err.value.diagnostics) == (
            REASON_REJECTED,
            400,
            "",
        )
        server.fail(503, retry_after=30)
        with pytest.raises(DeliveryError) as err:
            await deliver_next(box, transport, run)
        assert (err.value.reason, err.value.retry_after) == (REASON_TRANSIENT, 30.0)
        assert str(err.value) == "transient (HTTP 503)"
        assert await deliver_next(box, transport, run) is not None
        assert await deliver_next(box, transport, run) is None
    assert server.count("Observation") == 1


# Adaptive limits ----------------------------------------------------------------------


def test_limits_find_a_cap_in_few_refusals_and_probe_again() -> None:
    """Binary search between accepted and refused sizes; the bound is dropped later."""
    limits = LinkLimits()
    now = WHEN
    cap = 8
    sizes: list[int] = []
    for _ in range(20):
        size = limits.size(120)
        sizes.append(size)
        if size > cap:
            limits.refused(size, now)
        else:
            limits.accepted(size)
    assert limits.size(120) == cap
    assert limits.refusals <= 7
    assert sizes[-1] == cap
    restored = LinkLimits.from_state(json.loads(json.dumps(limits.as_state())))
    assert restored == limits
    assert not limits.probe(now + timedelta(hours=1))
    assert limits.probe(now + timedelta(hours=7))
    assert limits.size(120) == 120  # tries large bundles again
    limits.accepted(120)  # the server's limit grew
    assert limits.bad is None
    assert limits.size(120) == 120


def test_readings_go_as_batches_under_a_small_cap_until_batches_are_refused(
    store: RecordStore, tmp_path: Path
) -> None:
    """Batches once a small transaction was refused for its size; off for a while if the
    server refused batches, then tried again; never when the profile says so."""
    transport = FolderTransport(tmp_path / "out", run)
    limits = LinkLimits()
    sender = Sender(outbox(store), transport, run, limits)
    assert not sender.batch_mode(WHEN)  # nothing learned: transactions
    limits.refused(120, WHEN)
    assert not sender.batch_mode(WHEN)  # a large cap: transactions carry enough
    limits.refused(15, WHEN)
    assert sender.batch_mode(WHEN)
    sender.batch_off = WHEN
    assert not sender.batch_mode(WHEN + timedelta(hours=5))
    assert sender.batch_mode(WHEN + timedelta(hours=6))
    state = sender._limits_state()
    assert state["batch_off"] == WHEN.isoformat()
    assert LinkLimits.from_state(state["limits"]) == limits
    never = Sender(outbox(store), transport, run, limits, SenderProfile(batch_below=0))
    assert not never.batch_mode(WHEN)


@pytest.mark.parametrize("value", [None, "x", {"good": "many"}, {"bad": [1]}, {"refused_at": 3}])
def test_limits_from_unreadable_state_start_over(value: Any) -> None:
    assert LinkLimits.from_state(value) == LinkLimits()


def test_a_refusal_at_or_below_a_good_size_lowers_it() -> None:
    limits = LinkLimits(good=10)
    limits.refused(6, WHEN)
    assert (limits.good, limits.bad) == (5, 6)
    assert limits.size() == 5


@pytest.mark.parametrize(
    ("status", "outcome", "too_large"),
    [
        (400, "Transaction requires strict isolation but has too many entries", True),
        (400, "Transaction contains more update operations than allowed", True),
        (422, "Bundle exceeds the maximum of 100 entries", True),
        (400, "Request entity too large", True),
        (400, "Invalid string format", False),
        (422, "Observation.status: value not in value set", False),
        (404, "too many entries", False),
    ],
)
def test_size_refusals_are_told_from_content_refusals(
    status: int, outcome: str, too_large: bool
) -> None:
    body = json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid", "details": {"text": outcome}}],
        }
    ).encode()
    assert too_large_refusal(status, body) is too_large


def test_too_costly_code_is_a_size_refusal() -> None:
    body = json.dumps(
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "too-costly"}]}
    ).encode()
    assert too_large_refusal(422, body)
    assert not too_large_refusal(400, b"not json")
