"""The health record store: the single place Smart Care keeps personal data.

A SQLite database in WAL mode. Appends are one small transaction each, so a reading
acknowledged to the user is on disk (fsync at commit) before the caller returns, and the
cost of an append does not grow with the size of the log. No Home Assistant import: the
integration calls these blocking methods from the executor.

Row payloads pass through a ``Codec`` so encryption at rest can be added behind this
interface without touching callers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import sqlite3
import threading
from typing import Any, Protocol
import uuid

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    person_id TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id TEXT NOT NULL,
    vital TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    reading_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    recorded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS measurements_person_vital_time
    ON measurements (person_id, vital, time);
CREATE INDEX IF NOT EXISTS measurements_reading ON measurements (reading_id);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    status TEXT NOT NULL,
    payload BLOB NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts (status);
CREATE TABLE IF NOT EXISTS settings (
    person_id TEXT NOT NULL,
    key TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (person_id, key)
);
CREATE TABLE IF NOT EXISTS pending (
    pending_id TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    created TEXT NOT NULL
);
"""


class Codec(Protocol):
    """Turns a JSON text into the bytes stored, and back."""

    def encode(self, text: str) -> bytes:
        """Encode for storage."""

    def decode(self, blob: bytes) -> str:
        """Decode from storage."""


class PlainCodec:
    """Stores UTF-8 text; the file itself is 0600."""

    def encode(self, text: str) -> bytes:
        """Encode for storage."""
        return text.encode()

    def decode(self, blob: bytes) -> str:
        """Decode from storage."""
        return bytes(blob).decode()


@dataclass(frozen=True, slots=True)
class StoredMeasurement:
    """One row of a person's measurement log."""

    row_id: int
    reading_id: str
    person_id: str
    vital: str
    value: float
    unit: str
    time: datetime
    source: str
    details: Mapping[str, Any] = field(default_factory=dict)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("measurement times must be timezone-aware")
    # Fixed-width UTC text sorts in time order, which the index relies on.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class RecordStore:
    """Profiles and measurement logs of one household."""

    def __init__(self, path: Path, codec: Codec | None = None) -> None:
        """Open (creating if needed) the database at ``path``."""
        self._path = path
        self._codec: Codec = codec or PlainCodec()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file 0600 before SQLite opens it: it holds health data.
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed reading survives power loss, not only a process kill.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        for suffix in ("-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)

    @property
    def path(self) -> Path:
        """Location of the database file."""
        return self._path

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    # Profiles -----------------------------------------------------------------

    def put_profile(self, person_id: str, profile: Mapping[str, Any]) -> None:
        """Create or replace a person's profile."""
        blob = self._codec.encode(json.dumps(dict(profile), sort_keys=True))
        now = _iso(datetime.now(UTC))
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO profiles (person_id, payload, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(person_id) DO UPDATE SET payload=excluded.payload, "
                "updated=excluded.updated",
                (person_id, blob, now),
            )

    def get_profile(self, person_id: str) -> dict[str, Any] | None:
        """Return a person's profile, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT payload FROM profiles WHERE person_id = ?", (person_id,)
            ).fetchone()
        if row is None:
            return None
        result: dict[str, Any] = json.loads(self._codec.decode(row[0]))
        return result

    def person_ids(self) -> list[str]:
        """Every person with a profile or measurements."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT person_id FROM profiles UNION SELECT DISTINCT person_id FROM measurements"
            ).fetchall()
        return sorted(r[0] for r in rows)

    def delete_person(self, person_id: str) -> int:
        """Remove everything held about a person; return rows removed."""
        removed = 0
        with self._transaction() as cur:
            for table in ("measurements", "profiles", "alerts", "settings"):
                cur.execute(f"DELETE FROM {table} WHERE person_id = ?", (person_id,))
                removed += cur.rowcount
        return removed

    # Per-person settings (thresholds, alert tracker state) ------------------------

    def put_setting(self, person_id: str, key: str, value: Any) -> None:
        """Store one JSON-able setting of a person."""
        blob = self._codec.encode(json.dumps(value, sort_keys=True))
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO settings (person_id, key, payload) VALUES (?, ?, ?)",
                (person_id, key, blob),
            )

    def get_settings(self, person_id: str) -> dict[str, Any]:
        """Every setting of a person."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, payload FROM settings WHERE person_id = ?", (person_id,)
            ).fetchall()
        return {row[0]: json.loads(self._codec.decode(row[1])) for row in rows}

    # Alerts -------------------------------------------------------------------------

    def put_alert(
        self, alert_id: str, person_id: str, status: str, payload: Mapping[str, Any]
    ) -> None:
        """Create or update an alert."""
        blob = self._codec.encode(json.dumps(dict(payload), sort_keys=True))
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO alerts (alert_id, person_id, status, payload, updated) "
                "VALUES (?, ?, ?, ?, ?)",
                (alert_id, person_id, status, blob, _iso(datetime.now(UTC))),
            )

    def alerts(
        self, *, person_id: str | None = None, active_only: bool = False
    ) -> list[dict[str, Any]]:
        """Alerts, oldest first; ``active_only`` leaves out resolved ones."""
        sql = "SELECT payload FROM alerts WHERE 1 = 1"
        args: list[Any] = []
        if person_id is not None:
            sql += " AND person_id = ?"
            args.append(person_id)
        if active_only:
            sql += " AND status != 'resolved'"
        sql += " ORDER BY rowid"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [json.loads(self._codec.decode(row[0])) for row in rows]

    # Measurements -------------------------------------------------------------

    def append(
        self,
        person_id: str,
        vital: str,
        value: float,
        unit: str,
        time: datetime,
        source: str,
        details: Mapping[str, Any] | None = None,
        dedupe_key: str | None = None,
        reading_id: str | None = None,
    ) -> StoredMeasurement | None:
        """Append one measurement; return it, or None if it was already logged.

        ``dedupe_key`` identifies the same reading received twice (e.g. re-sent from a
        device's memory); it defaults to person + vital + time + value + source.
        ``reading_id`` groups the values of one reading (a blood pressure reading gives
        three) so they can be re-assigned together.
        """
        rows = self.append_many(
            person_id,
            [(vital, value, unit, time, dedupe_key)],
            source,
            details,
            reading_id,
        )
        return rows[0] if rows else None

    def append_many(
        self,
        person_id: str,
        values: list[tuple[str, float, str, datetime, str | None]],
        source: str,
        details: Mapping[str, Any] | None = None,
        reading_id: str | None = None,
    ) -> list[StoredMeasurement]:
        """Append the values of one reading in one transaction; return those newly logged.

        Each value is (vital, value, unit, time, dedupe_key or None).
        """
        payload = dict(details or {})
        blob = self._codec.encode(json.dumps(payload, sort_keys=True))
        group = reading_id or uuid.uuid4().hex
        recorded = _iso(datetime.now(UTC))
        stored: list[StoredMeasurement] = []
        with self._transaction() as cur:
            for vital, value, unit, time, dedupe_key in values:
                when = _iso(time)
                key = dedupe_key or f"{person_id}|{vital}|{when}|{value!r}|{source}"
                cur.execute(
                    "INSERT OR IGNORE INTO measurements (person_id, vital, value, unit, time, "
                    "source, dedupe_key, reading_id, payload, recorded) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (person_id, vital, value, unit, when, source, key, group, blob, recorded),
                )
                if cur.rowcount == 0:
                    continue
                assert cur.lastrowid is not None
                stored.append(
                    StoredMeasurement(
                        cur.lastrowid,
                        group,
                        person_id,
                        vital,
                        value,
                        unit,
                        time.astimezone(UTC),
                        source,
                        payload,
                    )
                )
        return stored

    def reassign(self, reading_id: str, person_id: str) -> list[StoredMeasurement]:
        """Move every value of one reading to another person, keeping its time."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE measurements SET person_id = ? WHERE reading_id = ?",
                (person_id, reading_id),
            )
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM measurements WHERE reading_id = ? ORDER BY id",
                (reading_id,),
            ).fetchall()
        return [self._row(row) for row in rows]

    # Readings waiting for a person ---------------------------------------------

    def put_pending(self, pending_id: str, payload: Mapping[str, Any]) -> None:
        """Hold a reading that could not be attributed."""
        blob = self._codec.encode(json.dumps(dict(payload), sort_keys=True))
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO pending (pending_id, payload, created) VALUES (?, ?, ?)",
                (pending_id, blob, _iso(datetime.now(UTC))),
            )

    def list_pending(self) -> dict[str, dict[str, Any]]:
        """Every held reading by id."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT pending_id, payload FROM pending ORDER BY created"
            ).fetchall()
        return {row[0]: json.loads(self._codec.decode(row[1])) for row in rows}

    def delete_pending(self, pending_id: str) -> bool:
        """Drop a held reading; True if it existed."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM pending WHERE pending_id = ?", (pending_id,))
            return cur.rowcount > 0

    def _row(self, row: tuple[Any, ...]) -> StoredMeasurement:
        return StoredMeasurement(
            row_id=row[0],
            reading_id=row[1],
            person_id=row[2],
            vital=row[3],
            value=row[4],
            unit=row[5],
            time=datetime.fromisoformat(row[6]),
            source=row[7],
            details=json.loads(self._codec.decode(row[8])),
        )

    _COLUMNS = "id, reading_id, person_id, vital, value, unit, time, source, payload"

    def latest(self, person_id: str) -> dict[str, StoredMeasurement]:
        """The most recent measurement of each vital for a person."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM measurements AS m WHERE person_id = ? AND id = ("
                "SELECT id FROM measurements WHERE person_id = m.person_id "
                "AND vital = m.vital ORDER BY time DESC, id DESC LIMIT 1)",
                (person_id,),
            ).fetchall()
        return {row[3]: self._row(row) for row in rows}

    def history(
        self,
        person_id: str,
        since: datetime | None = None,
        vital: str | None = None,
        limit: int | None = None,
    ) -> list[StoredMeasurement]:
        """A person's measurements in time order, optionally from ``since`` on."""
        sql = f"SELECT {self._COLUMNS} FROM measurements WHERE person_id = ?"
        args: list[Any] = [person_id]
        if vital is not None:
            sql += " AND vital = ?"
            args.append(vital)
        if since is not None:
            sql += " AND time >= ?"
            args.append(_iso(since))
        # Newest first so LIMIT keeps the most recent; reversed below into time order.
        sql += " ORDER BY time DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        rows.reverse()
        return [self._row(row) for row in rows]

    def count(self, person_id: str | None = None) -> int:
        """Number of measurements, for one person or all."""
        with self._lock:
            if person_id is None:
                row = self._conn.execute("SELECT count(*) FROM measurements").fetchone()
            else:
                row = self._conn.execute(
                    "SELECT count(*) FROM measurements WHERE person_id = ?", (person_id,)
                ).fetchone()
        return int(row[0])
