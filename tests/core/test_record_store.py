"""The record store on real files: durability, dedupe, ordering, permissions."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
import signal
import sqlite3
import subprocess
import sys
import textwrap

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.smart_care.core.store.record_store import (
    CHECKPOINT_EVERY,
    RecordStore,
    SchemaError,
    _iso,
    _iso_us,
    _us,
)
from tests.support.open_files import open_files

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    s = RecordStore(tmp_path / "sub" / "record.db")
    yield s
    s.close()


def test_file_is_private(store: RecordStore) -> None:
    assert store.path.stat().st_mode & 0o777 == 0o600


def test_a_record_that_cannot_be_opened_is_left_closed(tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    newer = RecordStore(path)
    newer.close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaError, match="record schema 99") as refused:
        RecordStore(path)
    # The refused open holds no file, even while its traceback is still alive.
    assert refused.traceback
    assert open_files(path) == 0


def test_profile_round_trip(store: RecordStore) -> None:
    assert store.get_profile("p1") is None
    store.put_profile("p1", {"id_number": "X1", "sex": "male"})
    store.put_profile("p1", {"id_number": "X2"})
    assert store.get_profile("p1") == {"id_number": "X2"}
    assert store.person_ids() == ["p1"]


def test_append_dedupe_and_latest(store: RecordStore) -> None:
    assert store.append("p1", "weight", 70.0, "kg", T0, "manual") is not None
    assert store.append("p1", "weight", 70.0, "kg", T0, "manual") is None
    assert store.append("p1", "weight", 69.0, "kg", T0 - timedelta(days=1), "manual")
    assert store.append("p1", "spo2", 97.0, "%", T0 + timedelta(hours=1), "manual", {"a": 1})
    latest = store.latest("p1")
    assert latest["weight"].value == 70.0
    assert latest["spo2"].details == {"a": 1}
    assert latest["spo2"].time == T0 + timedelta(hours=1)
    assert store.count("p1") == 3
    assert store.count() == 3


def test_explicit_dedupe_key(store: RecordStore) -> None:
    assert store.append("p1", "glucose", 5.5, "mmol/L", T0, "ble", dedupe_key="dev|seq7")
    assert store.append("p1", "glucose", 5.5, "mmol/L", T0, "ble", dedupe_key="dev|seq7") is None


def test_history_order_filters_and_limit(store: RecordStore) -> None:
    for i in range(10):
        store.append("p1", "weight", 70.0 + i, "kg", T0 + timedelta(days=9 - i), "manual")
    store.append("p1", "spo2", 97.0, "%", T0, "manual")
    store.append("p2", "weight", 50.0, "kg", T0, "manual")
    weights = store.history("p1", vital="weight")
    assert [m.value for m in weights] == [79.0 - i for i in range(10)]
    assert [m.value for m in store.history("p1", since=T0 + timedelta(days=8))] == [71.0, 70.0]
    assert [m.value for m in store.history("p1", vital="weight", limit=3)] == [72.0, 71.0, 70.0]
    assert len(store.history("p1")) == 11


def test_naive_time_is_refused(store: RecordStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.append("p1", "weight", 70.0, "kg", datetime(2026, 1, 1), "manual")
    assert store.count() == 0


def test_delete_person(store: RecordStore) -> None:
    store.put_profile("p1", {"sex": "male"})
    store.append("p1", "weight", 70.0, "kg", T0, "manual")
    store.append("p2", "weight", 60.0, "kg", T0, "manual")
    assert store.delete_person("p1") == 2
    assert store.person_ids() == ["p2"]


def _killed_then_count(db: Path, code: str) -> int:
    """Run ``code`` (it prints "acknowledged", then kills itself); count p1's rows after."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "acknowledged" in proc.stdout
    store = RecordStore(db)
    try:
        return store.count("p1")
    finally:
        store.close()


def test_reading_survives_kill_right_after_append(tmp_path: Path) -> None:
    """A reading acknowledged to the caller is on disk even if the process dies at once."""
    db = tmp_path / "record.db"
    root = Path(__file__).resolve().parents[2]
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from datetime import UTC, datetime
        sys.path.insert(0, {str(root)!r})
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "rs", {str(root / "custom_components/smart_care/core/store/record_store.py")!r})
        rs = importlib.util.module_from_spec(spec); sys.modules["rs"] = rs
        spec.loader.exec_module(rs)
        store = rs.RecordStore(__import__("pathlib").Path({str(db)!r}))
        for i in range(50):
            store.append("p1", "spo2", 90.0 + i % 10, "%",
                         datetime(2026, 1, 1, 0, i, tzinfo=UTC), "ble")
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert _killed_then_count(db, code) == 50


def test_checkpoint_copies_the_wal_from_its_own_connection(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "record.db")
    try:
        for i in range(CHECKPOINT_EVERY):
            store.append("p1", "pulse", 60.0 + i % 7, "bpm", T0 + timedelta(minutes=i), "ble")
        assert store.checkpoint_due
        before = store.path.stat().st_size
        store.checkpoint()
        assert not store.checkpoint_due
        # The committed pages are in the database file now, not only in the WAL.
        assert store.path.stat().st_size > before
        assert store.count("p1") == CHECKPOINT_EVERY
        assert store.append("p1", "pulse", 99.0, "bpm", T0 - timedelta(days=1), "ble")
    finally:
        store.close()
    store.checkpoint()  # after close: nothing to do, and no error
    assert not store.checkpoint_due


def test_kill_while_checkpoints_run_loses_no_acknowledged_reading(tmp_path: Path) -> None:
    """Checkpoints in another thread, then a hard kill: every acknowledged reading is there."""
    db = tmp_path / "record.db"
    root = Path(__file__).resolve().parents[2]
    code = textwrap.dedent(
        f"""
        import os, signal, sys, threading
        from datetime import UTC, datetime, timedelta
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "rs", {str(root / "custom_components/smart_care/core/store/record_store.py")!r})
        rs = importlib.util.module_from_spec(spec); sys.modules["rs"] = rs
        spec.loader.exec_module(rs)
        store = rs.RecordStore(__import__("pathlib").Path({str(db)!r}))
        done = threading.Event()
        def checkpoints():
            while not done.is_set():
                store.checkpoint()
        worker = threading.Thread(target=checkpoints, daemon=True)
        worker.start()
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(300):
            store.append("p1", "spo2", 90.0 + i % 10, "%", t0 + timedelta(minutes=i), "ble")
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert _killed_then_count(db, code) == 300


def test_lazy_setting_leaves_commits_fsynced(tmp_path: Path) -> None:
    """The "announced" marker is written without fsync; every other commit still syncs."""
    store = RecordStore(tmp_path / "record.db")
    try:
        store.put_setting_lazily("p1", "alert_unannounced", [["a1", "opened"]])
        assert store.get_settings("p1") == {"alert_unannounced": [["a1", "opened"]]}
        # 2 = FULL: the connection is back to syncing at every commit.
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        store.close()


@settings(max_examples=500, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)), st.integers(min_value=-840, max_value=840))
def test_time_text_is_strftimes(moment: datetime, offset: int) -> None:
    """The stored time text (and the time in a default dedupe key, which is hashed) is
    byte for byte what ``strftime`` made of it, years before 1000 included."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    assert _iso_us(_us(moment)) == text
    try:
        local = moment.astimezone(timezone(timedelta(minutes=offset)))
    except OverflowError:  # the shift leaves datetime's range
        return
    assert _iso(local) == text
