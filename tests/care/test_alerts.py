"""Assessment and the alert lifecycle in a real HA: events, entities, services, restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import json
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)

from custom_components.smart_care.const import DOMAIN, EVENT_ALERT, SIGNAL_ALERTS_UPDATED
from custom_components.smart_care.core.clinical.vitals import Vital, VitalSample
from custom_components.smart_care.core.store.record_store import StoredMeasurement
from custom_components.smart_care.household.keys import key_path
from custom_components.smart_care.household.runtime import record_path
from tests.conftest import add_person

PAYLOAD_KEYS = {
    "alert_id",
    "person_id",
    "person",
    "code",
    "kind",
    "severity",
    "vital",
    "value",
    "unit",
    "threshold",
    "message",
    "placeholders",
    "time",
    "opened_at",
    "updated_at",
    "status",
    "acknowledged_by",
    "acknowledged_at",
    "snoozed_until",
    "resolved_at",
    "translation_key",
    "peak_severity",
    "language",
    "messages",
    "titles",
    "clinical_message",
    "device_languages",
    "action",
}


@pytest.fixture
def alerts(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Every smart_care_alert fired."""
    fired: list[dict[str, Any]] = []

    @callback
    def _listen(event: Event) -> None:
        fired.append(dict(event.data))

    hass.bus.async_listen(EVENT_ALERT, _listen)
    return fired


async def record(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call(
        DOMAIN, "record_measurement", {"person": "Grandma", **data}, blocking=True
    )
    await hass.async_block_till_done()


async def call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    response = await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )
    await hass.async_block_till_done()
    return response


def state(hass: HomeAssistant, entity_id: str) -> str:
    st = hass.states.get(entity_id)
    assert st is not None, entity_id
    return st.state


async def test_high_blood_pressure_raises_one_alert(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    await record(hass, systolic=150, diastolic=85)
    assert [a["action"] for a in alerts] == ["opened"]
    alert = alerts[0]
    assert set(alert) == PAYLOAD_KEYS
    assert alert["code"] == "systolic_bp_high"
    assert alert["severity"] == "warning"
    assert alert["kind"] == "threshold"
    assert (alert["vital"], alert["value"], alert["unit"]) == ("systolic_bp", 150.0, "mmHg")
    assert alert["threshold"] == 140.0
    assert alert["person"] == "Grandma"
    assert alert["status"] == "open"
    assert state(hass, "binary_sensor.grandma_vital_signs_abnormal") == "on"
    assert state(hass, "sensor.grandma_health_status") == "warning"
    health = hass.states.get("sensor.grandma_health_status")
    assert health is not None
    assert health.attributes["alerts"][0]["alert_id"] == alert["alert_id"]
    event = hass.states.get("event.grandma_alert")
    assert event is not None
    assert event.attributes["event_type"] == "opened"
    assert event.attributes["alert_id"] == alert["alert_id"]


async def test_flapping_value_raises_one_alert_then_resolves(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    for systolic in (141, 139, 142, 138, 143, 139):
        await record(hass, systolic=systolic, diastolic=80)
    assert [a["action"] for a in alerts] == ["opened"]
    # Well inside the limits: resolved, once.
    await record(hass, systolic=118, diastolic=76)
    assert [a["action"] for a in alerts] == ["opened", "resolved"]
    assert alerts[1]["alert_id"] == alerts[0]["alert_id"]
    assert alerts[1]["status"] == "resolved"
    assert state(hass, "binary_sensor.grandma_vital_signs_abnormal") == "off"
    assert state(hass, "sensor.grandma_health_status") == "normal"


async def test_worse_value_escalates_same_alert(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    await record(hass, systolic=150, diastolic=85)
    alert_id = alerts[0]["alert_id"]
    await call(hass, "acknowledge_alert", alert_id=alert_id)
    await record(hass, systolic=186, diastolic=85)
    assert [a["action"] for a in alerts] == ["opened", "acknowledged", "escalated"]
    assert alerts[2]["alert_id"] == alert_id
    assert alerts[2]["severity"] == "urgent"
    # Escalation needs attention again, even after an acknowledgement.
    assert alerts[2]["status"] == "open"


async def test_acknowledge_snooze_resolve(
    hass: HomeAssistant,
    grandma: str,
    alerts: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    await record(hass, spo2=90)
    opened = [a for a in alerts if a["code"] == "spo2_low"]
    assert opened[0]["severity"] == "urgent"
    alert_id = opened[0]["alert_id"]
    response = await call(hass, "snooze_alert", alert_id=alert_id, minutes=15)
    assert response["status"] == "snoozed"
    freezer.tick(timedelta(minutes=16))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert alerts[-1]["action"] == "reopened"
    assert alerts[-1]["status"] == "open"
    response = await call(hass, "acknowledge_alert", alert_id=alert_id)
    assert response == {"status": "acknowledged"}
    # Acknowledging twice changes nothing and fires nothing.
    count = len(alerts)
    await call(hass, "acknowledge_alert", alert_id=alert_id)
    assert len(alerts) == count
    response = await call(hass, "resolve_alert", alert_id=alert_id)
    assert response == {"status": "resolved"}
    assert alerts[-1]["action"] == "resolved"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "acknowledge_alert", alert_id=alert_id)
    assert err.value.translation_key == "unknown_alert"
    for service in ("snooze_alert", "resolve_alert"):
        with pytest.raises(ServiceValidationError):
            await call(hass, service, alert_id="nope")


async def test_snooze_then_value_normal_needs_no_reopen(
    hass: HomeAssistant,
    grandma: str,
    alerts: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    await record(hass, temperature=38.4)
    alert_id = alerts[0]["alert_id"]
    await call(hass, "snooze_alert", alert_id=alert_id, minutes=10)
    await record(hass, temperature=36.8)
    assert alerts[-1]["action"] == "resolved"
    freezer.tick(timedelta(minutes=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert alerts[-1]["action"] == "resolved"


async def test_acknowledge_from_phone(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    await record(hass, systolic=182, diastolic=85)
    alert_id = alerts[0]["alert_id"]
    hass.bus.async_fire("mobile_app_notification_action", {"action": "OTHER_ACTION"})
    hass.bus.async_fire("mobile_app_notification_action", {"action": "SMART_CARE_ACK_not-an-alert"})
    await hass.async_block_till_done()
    assert len(alerts) == 1
    hass.bus.async_fire("mobile_app_notification_action", {"action": f"SMART_CARE_ACK_{alert_id}"})
    await hass.async_block_till_done()
    assert alerts[-1]["action"] == "acknowledged"
    assert alerts[-1]["acknowledged_by"].startswith("mobile_app:")
    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"SMART_CARE_SNOOZE_{alert_id}"}
    )
    await hass.async_block_till_done()
    assert alerts[-1]["action"] == "snoozed"


async def test_open_alert_survives_restart(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    alerts: list[dict[str, Any]],
) -> None:
    await record(hass, systolic=165, diastolic=85)
    alert_id = alerts[0]["alert_id"]
    await call(hass, "acknowledge_alert", alert_id=alert_id)
    assert await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.grandma_vital_signs_abnormal") == "on"
    response = await call(hass, "get_alerts", person="Grandma")
    (restored,) = [a for a in response["alerts"] if a["code"] == "systolic_bp_high"]
    assert restored["alert_id"] == alert_id
    assert restored["status"] == "acknowledged"
    # The tracker state survived too: a normal value resolves the same alert.
    await record(hass, systolic=120, diastolic=78)
    assert alerts[-1]["action"] == "resolved"
    assert alerts[-1]["alert_id"] == alert_id
    response = await call(hass, "get_alerts", include_resolved=True)
    assert [a["status"] for a in response["alerts"] if a["alert_id"] == alert_id] == ["resolved"]


_COMMIT_THEN_DIE = textwrap.dedent(
    """
    import json, os, signal, sys
    from datetime import datetime
    from pathlib import Path
    job = json.loads(sys.argv[1])
    sys.path.insert(0, job["root"])
    from custom_components.smart_care.household.keys import open_record
    store, _ = open_record(Path(job["db"]), Path(job["keys"]))
    values = [(v, x, u, datetime.fromisoformat(t), k) for v, x, u, t, k in job["values"]]
    stored, together = store.append_reading(
        job["person_id"], values, job["source"], job["details"], job["reading_id"],
        [tuple(a) for a in job["alerts"]], job["settings"])
    assert together and stored
    print("committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # after the commit, before any event
    """
)


def _run_and_die(job: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _COMMIT_THEN_DIE, job],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_alert_committed_then_killed_is_there_and_announced_on_restart(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    alerts: list[dict[str, Any]],
) -> None:
    """One transaction holds the reading and its alert; a hard kill before the event loses
    neither, and the restarted household announces the alert it never announced."""
    data = loaded_household.runtime_data
    person = data.household.person_by_alias("Grandma")
    sample = VitalSample(Vital.SPO2, 85.0, dt_util.utcnow())
    assert sample.time is not None
    row = StoredMeasurement(
        0, "kill-reading", person.person_id, "spo2", 85.0, sample.unit, sample.time, "manual", {}
    )
    # What the household commits for this reading: the real alert manager's write.
    write = await data.alerts.async_prepare_readings(person, [row], [])
    write.rollback()  # this process is not the one that commits it
    staged = {record["code"]: alert_id for alert_id, _status, record in write.alerts}
    assert "spo2_low" in staged  # and NEWS2, from the same low value
    entry_id = loaded_household.entry_id
    job = {
        "root": str(Path(__file__).resolve().parents[2]),
        "db": str(record_path(hass, entry_id)),
        "keys": str(key_path(hass, entry_id)),
        "person_id": person.person_id,
        "values": [["spo2", 85.0, sample.unit, sample.time.isoformat(), None]],
        "source": "manual",
        "details": {},
        "reading_id": "kill-reading",
        "alerts": write.alerts,
        "settings": write.settings,
    }
    assert await hass.config_entries.async_unload(entry_id)
    proc = await hass.async_add_executor_job(_run_and_die, json.dumps(job))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "committed" in proc.stdout
    assert alerts == []

    assert await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done()
    # The alerts are there, and announced once now.
    assert sorted((a["code"], a["alert_id"], a["action"]) for a in alerts) == sorted(
        (code, alert_id, "opened") for code, alert_id in staged.items()
    )
    response = await call(hass, "get_alerts", person="Grandma")
    assert {a["code"]: a["alert_id"] for a in response["alerts"]} == staged
    household = loaded_household.runtime_data.household
    assert household.people[person.person_id].latest["spo2"].value == 85.0
    # Announced is remembered: another restart does not announce it again.
    assert await hass.config_entries.async_reload(entry_id)
    await hass.async_block_till_done()
    assert len(alerts) == len(staged)
    # And the tracker came back with them: a normal value resolves that same alert.
    await record(hass, spo2=97)
    assert (staged["spo2_low"], "resolved") in [(a["alert_id"], a["action"]) for a in alerts]


async def test_alert_goes_out_right_after_the_commit_before_the_entities(
    hass: HomeAssistant, grandma: str, loaded_household: MockConfigEntry
) -> None:
    """The event is the first thing a committed reading causes: its values are in the
    record when it fires, the sensors show them only afterwards, and it fires once."""
    await record(hass, systolic=120, diastolic=80)
    store = loaded_household.runtime_data.household.store
    seen: list[tuple[str, str, float]] = []

    @callback
    def _listen(event: Event) -> None:
        newest = store.latest(event.data["person_id"])["systolic_bp"]
        sensor = state(hass, "sensor.grandma_systolic_blood_pressure")
        seen.append((event.data["action"], sensor, newest.value))

    hass.bus.async_listen(EVENT_ALERT, _listen)
    await record(hass, systolic=150, diastolic=85)
    assert seen == [("opened", "120.0", 150.0)]
    assert state(hass, "sensor.grandma_systolic_blood_pressure") == "150.0"


async def test_backfilled_reading_does_not_alert(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    week_ago = dt_util.now() - timedelta(days=7)
    await record(hass, systolic=190, diastolic=110, time=week_ago.isoformat())
    assert alerts == []


async def test_news2_partial_score(
    hass: HomeAssistant, grandma: str, alerts: list[dict[str, Any]]
) -> None:
    assert state(hass, "sensor.grandma_early_warning_score") == "unknown"
    # SpO2 90 scores 3, pulse 115 scores 2, systolic 120 scores 0.
    await record(hass, spo2=90, pulse=115, systolic=120, diastolic=80)
    news = hass.states.get("sensor.grandma_early_warning_score")
    assert news is not None
    assert news.state == "5"
    assert news.attributes["complete"] is False
    assert news.attributes["risk"] is None
    assert news.attributes["partial_risk"] == "medium"
    assert set(news.attributes["missing"]) == {
        "respiration_rate",
        "on_oxygen",
        "consciousness",
        "temperature_c",
    }
    assert "partial" in news.attributes["label"]
    (news_alert,) = [a for a in alerts if a["code"] == "news2"]
    assert news_alert["severity"] == "urgent"
    assert news_alert["kind"] == "news2"


async def test_alert_entities_hear_of_a_reading_only_when_score_or_alerts_change(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    alerts: list[dict[str, Any]],
) -> None:
    """The alert entities (status, score, abnormal flags) are told of a reading only when
    it changes the early warning score or an alert: a same-band value leaves them be."""
    person = loaded_household.runtime_data.household.person_by_alias("Grandma")
    told: list[Context | None] = []
    async_dispatcher_connect(
        hass,
        SIGNAL_ALERTS_UPDATED.format(person.person_id),
        lambda _vitals=None, context=None: told.append(context),
    )
    await record(hass, spo2=97, pulse=70)  # the first score: 0 + 0
    assert len(told) == 1
    assert state(hass, "sensor.grandma_early_warning_score") == "0"
    await record(hass, spo2=98, pulse=72)  # the same bands: the same score
    await record(hass, weight=70)  # not a NEWS2 sign
    assert len(told) == 1
    await record(hass, systolic=105, diastolic=70)  # systolic 101-110 scores 1
    assert len(told) == 2
    assert state(hass, "sensor.grandma_early_warning_score") == "1"
    assert alerts == []  # a score of 1 alone does not alert (RCP: low)
    await record(hass, spo2=90)  # SpO2 <= 91 scores 3: alerts, and the score with them
    assert "news2" in {a["code"] for a in alerts}
    assert len(told) == 3
    assert state(hass, "sensor.grandma_early_warning_score") == "4"
    assert state(hass, "sensor.grandma_health_status") == "urgent"


async def test_device_flag_alert(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    alerts: list[dict[str, Any]],
) -> None:
    from custom_components.smart_care.core.gatt import decode
    from custom_components.smart_care.household.runtime import DeviceSource

    household = loaded_household.runtime_data.household
    source = DeviceSource(entry_id="x", key="AA:BB:CC:DD:EE:FF", name="BP cuff")
    # GSS Blood Pressure Measurement: flags 0x14 (pulse rate + measurement status), 120/80
    # mmHg, MAP 90, pulse 72, status bit 2 = irregular pulse.
    data = bytes.fromhex("14780050005a0048000400")
    result = await household.async_ingest_reading(source, decode("2a35", data))
    assert result.status == "stored"
    assert [a["code"] for a in alerts] == ["device_irregular_pulse"]
    # A different, clean reading: 118/78 mmHg, MAP 88, pulse 70, no status bits.
    clean = bytes.fromhex("1476004e00580046000000")
    await household.async_ingest_reading(source, decode("2a35", clean))
    assert [(a["code"], a["action"]) for a in alerts][-1] == ("device_irregular_pulse", "resolved")


async def test_overdue_measurement(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    alerts: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    await add_person(
        hass, loaded_household, alias="Grandma", expected_measurements=["blood_pressure"]
    )
    await record(hass, systolic=125, diastolic=80)
    assert state(hass, "binary_sensor.grandma_measurement_overdue") == "off"
    freezer.tick(timedelta(hours=27))
    async_fire_time_changed(hass)
    # The periodic check runs as a background task.
    await hass.async_block_till_done(wait_background_tasks=True)
    (stale,) = [a for a in alerts if a["code"] == "stale_blood_pressure"]
    assert stale["severity"] == "warning"
    assert stale["placeholders"]["hours"] == "27"
    assert state(hass, "binary_sensor.grandma_measurement_overdue") == "on"
    await record(hass, systolic=126, diastolic=81)
    assert alerts[-1]["action"] == "resolved"
    assert state(hass, "binary_sensor.grandma_measurement_overdue") == "off"


async def test_personal_thresholds(
    hass: HomeAssistant,
    grandma: str,
    alerts: list[dict[str, Any]],
    hass_admin_user: MockUser,
    hass_read_only_user: MockUser,
) -> None:
    limits = {"systolic_bp": {"warning_high": 155}}
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "set_thresholds",
            {"person": "Grandma", "thresholds": limits},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_thresholds",
            {"person": "Grandma", "thresholds": {"systolic_bp": {"warning_high": 500}}},
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
    # Fully translatable: the field as typed and numbers only, no English sentence inside.
    assert err.value.translation_key == "thresholds_implausible"
    assert err.value.translation_placeholders == {
        "field": "systolic_bp.warning_high",
        "value": "500",
        "low": "40",
        "high": "300",
        "unit": "mmHg",
    }
    await hass.services.async_call(
        DOMAIN,
        "set_thresholds",
        {"person": "Grandma", "thresholds": limits},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    await record(hass, systolic=150, diastolic=85)
    assert alerts == []
    await record(hass, systolic=156, diastolic=85)
    assert alerts[0]["threshold"] == 155.0


async def test_trends_come_from_memory_and_follow_the_window(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    alerts: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trend window is read from the record once, then kept from the readings stored."""
    store = loaded_household.runtime_data.household.store
    reads: list[object] = []
    history = store.history

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return history(*args, **kwargs)

    monkeypatch.setattr(store, "history", counted)
    for weight in (60.0, 60.5):
        await record(hass, weight=weight)
        freezer.tick(timedelta(days=1))
    await record(hass, weight=62.2)  # +2.2 kg within 3 days
    gained = [a for a in alerts if a["code"] == "weight_gain_3d"]
    assert [a["action"] for a in gained] == ["opened"]
    assert len(reads) == 1  # the window was read once, at the first weight
    # 20 days on, the earlier weights left the window: one weight is no gain.
    freezer.tick(timedelta(days=20))
    await record(hass, weight=62.2)
    gained = [a for a in alerts if a["code"] == "weight_gain_3d"]
    assert [a["action"] for a in gained] == ["opened", "resolved"]
    assert len(reads) == 1


async def test_acknowledge_during_a_readings_commit_is_kept(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    alerts: list[dict[str, Any]],
) -> None:
    """An acknowledge arriving while a reading's alert changes are being committed waits for
    that commit, so the reading (assessed before it) cannot overwrite it on disk."""
    await record(hass, systolic=150, diastolic=85)
    alert_id = alerts[0]["alert_id"]
    store = loaded_household.runtime_data.household.store
    real_append = store.append_reading
    entered, release = threading.Event(), threading.Event()

    def gated_append(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return real_append(*args, **kwargs)

    store.append_reading = gated_append
    try:
        # A worse reading: assessed (escalates the alert), then held before its commit.
        # Plain service calls: each task waiting for all tasks (block_till_done) would wait
        # for the other.
        reading = hass.async_create_task(
            hass.services.async_call(
                DOMAIN,
                "record_measurement",
                {"person": "Grandma", "systolic": 186, "diastolic": 85},
                blocking=True,
            )
        )
        assert await hass.async_add_executor_job(entered.wait, 30)
        acknowledge = hass.async_create_task(
            hass.services.async_call(
                DOMAIN, "acknowledge_alert", {"alert_id": alert_id}, blocking=True
            )
        )
        for _ in range(20):
            await asyncio.sleep(0)
        assert not acknowledge.done()  # waits for the reading in flight
        release.set()
        await reading
        await acknowledge
    finally:
        release.set()
        store.append_reading = real_append
    await hass.async_block_till_done()
    assert [a["action"] for a in alerts] == ["opened", "escalated", "acknowledged"]
    assert await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    response = await call(hass, "get_alerts", person="Grandma")
    (restored,) = [a for a in response["alerts"] if a["alert_id"] == alert_id]
    assert restored["status"] == "acknowledged"
    assert restored["severity"] == "urgent"


async def test_acting_on_an_alert_carries_the_callers_context(
    hass: HomeAssistant, grandma: str, hass_admin_user: MockUser
) -> None:
    """Acknowledged, snoozed or resolved by a user: the event and states name the call."""
    fired: list[Event] = []
    hass.bus.async_listen(EVENT_ALERT, callback(lambda event: fired.append(event)))
    await record(hass, spo2=90)
    alert_id = fired[-1].data["alert_id"]
    for service, extra in (
        ("snooze_alert", {"minutes": 15}),
        ("acknowledge_alert", {}),
        ("resolve_alert", {}),
    ):
        context = Context(user_id=hass_admin_user.id)
        await hass.services.async_call(
            DOMAIN, service, {"alert_id": alert_id, **extra}, blocking=True, context=context
        )
        await hass.async_block_till_done()
        assert fired[-1].context is context, service
        event_entity = hass.states.get("event.grandma_alert")
        assert event_entity is not None
        assert event_entity.context is context, service
