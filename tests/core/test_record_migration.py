"""A schema-2 record (JSON blob and text keys per value) migrates to the compact schema 3.

The schema-2 record is written by ``tests/support/legacy/record_store_v2.py``, a frozen copy of the
store as the previous release shipped it, through the same keys the household uses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3
import uuid

import pytest

from custom_components.smart_care.core.security import DecryptError, EncryptionCodec
from custom_components.smart_care.household.keys import INDEX_KEY_ID, open_record, rotate
from tests.support.legacy import record_store_v2 as v2
from tests.support.open_files import open_files

END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 365 * 5
# (hour, kind, values) of each day's readings: 8 readings, 13 values a day.
SLOTS = (
    (7, "blood_pressure", (("systolic_bp", 120, "mmHg"), ("diastolic_bp", 78, "mmHg"))),
    (7, "weight", (("weight", 70.25, "kg"),)),
    (8, "glucose", (("glucose", 5.4, "mmol/L"),)),
    (9, "plx_spot_check", (("spo2", 97, "%"), ("pulse", 71, "bpm"))),
    (12, "temperature", (("temperature", 36.6, "°C"),)),
    (14, "heart_rate", (("heart_rate", 68, "bpm"),)),
    (19, "glucose", (("glucose", 7.1, "mmol/L"),)),
    (21, "blood_pressure", (("systolic_bp", 131, "mmHg"), ("diastolic_bp", 84, "mmHg"))),
)


def _legacy_store(path: Path, keys: Path) -> v2.RecordStore:
    store, keyring = open_record(path, keys)  # creates the keys (and a schema-3 file)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    legacy = v2.RecordStore(path, EncryptionCodec(keyring), index_key=keyring.get(INDEX_KEY_ID))
    # Test speed only: the migration, not this writer, is under test.
    legacy._conn.execute("PRAGMA synchronous=OFF")
    return legacy


def _five_years(store: v2.RecordStore) -> int:
    readings = 0
    for day in range(DAYS):
        midnight = END - timedelta(days=DAYS - day)
        for hour, kind, values in SLOTS:
            when = midnight + timedelta(hours=hour, minutes=day % 60, microseconds=day)
            device = f"A4:C1:38:00:00:{hour:02X}"
            prefix = f"{device}|{kind}|{when.isoformat()}"
            store.append_many(
                "grandma",
                [(v, x + (day % 7) / 10, u, when, f"{prefix}|{v}") for v, x, u in values],
                f"device:{device}",
                {"device": device, "kind": kind, "status_flags": [], "sequence": day},
                uuid.uuid5(uuid.NAMESPACE_URL, prefix).hex,
            )
            readings += 1
    # Odd ones the log also holds: manual values (default dedupe key, random reading id,
    # a non-hex reading id), values of one reading with different details, another person.
    store.append("grandma", "weight", 71.0, "kg", END, "manual")
    store.append("grandpa", "glucose", 6.0, "mmol/L", END, "manual", reading_id="manual-1")
    store.append("grandpa", "pulse", 60, "bpm", END, "ble", {"a": 1}, "k1", "mixed")
    store.append("grandpa", "spo2", 95, "%", END, "ble", {"a": 2}, "k2", "mixed")
    return readings + 4


def _rows(store: object) -> list[tuple[object, ...]]:
    return _fields(store.measurements_after(0, 10**9))  # type: ignore[attr-defined]


def _fields(rows: object) -> list[tuple[object, ...]]:
    """Measurements as plain tuples (the two stores have their own dataclasses)."""
    return [
        (
            m.row_id,
            m.reading_id,
            m.person_id,
            m.vital,
            m.value,
            m.unit,
            m.time,
            m.source,
            dict(m.details),
        )
        for m in rows  # type: ignore[attr-defined]
    ]


def _size(path: Path) -> int:
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def test_five_year_record_migrates_losing_nothing(tmp_path: Path) -> None:
    path, keys = tmp_path / "record.db", tmp_path / "keys.json"
    legacy = _legacy_store(path, keys)
    readings = _five_years(legacy)
    legacy.put_profile("grandma", {"alias": "Grandma"})
    legacy.put_alert("a1", "grandma", "open", {"kind": "bp_high"})
    legacy.clinic_ack("clinic", cursor=1234)
    # The newest row deleted: its id must never be handed out again (clinic cursors).
    newest = legacy.max_measurement_id()
    with legacy._transaction() as cur:
        cur.execute("DELETE FROM measurements WHERE id = ?", (newest,))
    before = _rows(legacy)
    latest_before = _fields(legacy.latest("grandma").values())
    window = END - timedelta(days=15)
    history_before = _fields(legacy.history("grandma", since=window))
    legacy.close()
    size_before = _size(path)
    assert len(before) == DAYS * 11 + 3

    store, keyring = open_record(path, keys)
    try:
        assert store.count() == len(before)
        assert _rows(store) == before
        assert sorted(_fields(store.latest("grandma").values())) == sorted(latest_before)
        assert _fields(store.history("grandma", since=window)) == history_before
        assert store.person_ids() == ["grandma", "grandpa"]
        assert store.get_profile("grandma") == {"alias": "Grandma"}
        assert [a["kind"] for a in store.alerts(active_only=True)] == ["bp_high"]
        assert store.clinic_cursor("clinic") == 1234
        # Dedupe tokens carried over: every stored value is refused when sent again.
        for row_id, _, person, vital, value, unit, when, source, details in before[:50]:
            prefix = f"{details['device']}|{details['kind']}|{when.isoformat()}"
            sent = [(vital, value, unit, when, f"{prefix}|{vital}")]
            assert store.append_many(str(person), sent, str(source)) == [], row_id
        assert store.append("grandma", "weight", 71.0, "kg", END, "manual") is None
        fresh = store.append("grandma", "weight", 72.0, "kg", END, "manual")
        assert fresh is not None
        assert fresh.row_id > newest
        with sqlite3.connect(path) as conn:
            (version,) = conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
        assert version == "3"
        assert "measurements_v2" not in tables
        # Rotation moves the migrated readings to a new key, and they still read back.
        result = rotate(store, keyring)
        assert result.reencrypted["readings"] == readings - 1 + 1  # "mixed" twice, fresh
        assert _rows(store)[:-1] == before
    finally:
        store.close()
    # Compact: well under half the schema-2 size (figures in docs/performance.md).
    assert _size(path) < size_before / 2


def test_a_tampered_schema_2_row_stops_the_migration_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path, keys = tmp_path / "record.db", tmp_path / "keys.json"
    legacy = _legacy_store(path, keys)
    legacy.append("grandma", "weight", 70.0, "kg", END, "manual")
    legacy.append("grandma", "weight", 90.0, "kg", END + timedelta(hours=1), "manual")
    with legacy._transaction() as cur:
        cur.execute("UPDATE measurements SET time = ? WHERE id = 1", (v2._iso(END + timedelta(1)),))
    legacy.close()
    with pytest.raises(DecryptError) as refused:
        open_record(path, keys)
    # The failed open holds no file, even while its traceback is still alive.
    assert refused.traceback
    assert open_files(path) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            "2",
        )
        assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (2,)
    conn.close()
