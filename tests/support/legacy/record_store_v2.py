"""The health record store: the single place Smart Care keeps personal data.

A SQLite database in WAL mode. Appends are one small transaction each, so a reading
acknowledged to the user is on disk (fsync at commit) before the caller returns, and the
cost of an append does not grow with the size of the log. No Home Assistant import: the
integration calls these blocking methods from the executor.

Every personal payload passes through a ``Codec``: in Home Assistant that is
``core.security.EncryptionCodec`` (AES-256-GCM, keys in a separate 0600 key file, see
``household/keys.py``); ``PlainCodec`` is for pure tests and tools. Each ciphertext is bound to its
row with associated data (table, person and row identity), so a blob copied to another
person or row fails to decrypt. A measurement's value lives only inside its encrypted
payload; its ``dedupe_key`` is an HMAC under the keyring's stable index key (unchanged by
rotation). Left in plaintext because queries need them: person ids (random), vitals,
units, sources, times, row/reading/alert ids, alert status, clinic link ids, cursors and
the clinic audit trail (pseudonyms and outcomes, no request bodies).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import hmac
import json
import os
from pathlib import Path
import sqlite3
import threading
from typing import Any, Protocol, runtime_checkable
import uuid

SCHEMA_VERSION = 2

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
    -- no value column: the value is inside the encrypted payload
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
-- Clinic bridge (clinic/bridge.py / core/outbox.py / clinic/webhook.py). The measurement log
-- is the outbox of readings: per clinic link only a cursor (last row id the server
-- acknowledged) is kept.
CREATE TABLE IF NOT EXISTS clinic_cursors (
    link_id TEXT PRIMARY KEY,
    last_row_id INTEGER NOT NULL,
    updated TEXT NOT NULL
);
-- Everything else for a clinic (alert changes, daily summaries, medication answers,
-- erasures) waits here, in order, until the server acknowledged it.
CREATE TABLE IF NOT EXISTS clinic_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    person_id TEXT,
    payload BLOB NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clinic_outbox_link ON clinic_outbox (link_id, seq);
CREATE TABLE IF NOT EXISTS clinic_state (
    link_id TEXT NOT NULL,
    key TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (link_id, key)
);
-- People whose data went to a clinic (so removing one can ask the clinic to erase it).
CREATE TABLE IF NOT EXISTS clinic_people (
    link_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (link_id, person_id)
);
CREATE TABLE IF NOT EXISTS clinic_advice (
    advice_id TEXT PRIMARY KEY,
    link_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    received TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clinic_advice_person ON clinic_advice (person_id, received);
-- Readings and items a clinic server refused for their content (kept, never dropped
-- silently): sent again or discarded by the user through a repair.
CREATE TABLE IF NOT EXISTS clinic_quarantine (
    qid INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    person_id TEXT,
    payload BLOB NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (link_id, kind, item_key)
);
-- One row per clinic webhook request, accepted or not (no request bodies).
CREATE TABLE IF NOT EXISTS clinic_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    link_id TEXT NOT NULL,
    request_type TEXT NOT NULL,
    person TEXT,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    authority TEXT NOT NULL,
    signature TEXT
);
CREATE INDEX IF NOT EXISTS clinic_audit_link_time ON clinic_audit (link_id, time);
"""


class Codec(Protocol):
    """Turns a JSON text into the bytes stored, and back.

    ``aad`` names the row a blob belongs to; an encrypting codec authenticates it.
    """

    def encode(self, text: str, aad: bytes = b"") -> bytes:
        """Encode for storage."""

    def decode(self, blob: bytes, aad: bytes = b"") -> str:
        """Decode from storage."""


@runtime_checkable
class RekeyingCodec(Protocol):
    """A codec whose blobs name their key and can be moved to the current key."""

    def needs_reencrypt(self, blob: bytes) -> bool:
        """Whether a blob is under a key other than the current one."""

    def reencrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        """The same plaintext under the current key."""

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        """The key id a blob names."""


class PlainCodec:
    """Stores UTF-8 text; the file itself is 0600. For tests and tools only."""

    def encode(self, text: str, aad: bytes = b"") -> bytes:
        """Encode for storage."""
        return text.encode()

    def decode(self, blob: bytes, aad: bytes = b"") -> str:
        """Decode from storage."""
        return bytes(blob).decode()


class SchemaError(Exception):
    """The database was written by an incompatible version of Smart Care."""


def _aad(table: str, *parts: str | None) -> bytes:
    """Associated data naming a row: length-prefixed so no two rows can collide."""
    out = bytearray()
    for part in (table, *parts):
        data = b"\xff" if part is None else part.encode()
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


# Tables with an encrypted payload: (table, row key, columns naming the row for the AAD).
_SEALED_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("profiles", "person_id", ("person_id",)),
    ("measurements", "id", ("person_id", "reading_id", "vital", "time")),
    ("alerts", "alert_id", ("alert_id", "person_id")),
    ("settings", "rowid", ("person_id", "key")),
    ("pending", "pending_id", ("pending_id",)),
    ("clinic_outbox", "seq", ("link_id", "kind", "item_key", "person_id")),
    ("clinic_state", "rowid", ("link_id", "key")),
    ("clinic_advice", "advice_id", ("advice_id", "link_id", "person_id")),
    ("clinic_quarantine", "qid", ("link_id", "kind", "item_key", "person_id")),
)


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


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One item waiting in a clinic link's outbox."""

    seq: int
    kind: str
    key: str
    person_id: str | None
    payload: Mapping[str, Any]
    created: datetime


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("measurement times must be timezone-aware")
    # Fixed-width UTC text sorts in time order, which the index relies on.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class RecordStore:
    """Profiles and measurement logs of one household."""

    def __init__(
        self, path: Path, codec: Codec | None = None, *, index_key: bytes | None = None
    ) -> None:
        """Open (creating if needed) the database at ``path``.

        ``index_key`` keys the HMAC that turns dedupe keys (which embed the value) into
        opaque tokens; without it they are stored as given (tests and tools only).
        """
        self._path = path
        self._codec: Codec = codec or PlainCodec()
        self._index_key = None if index_key is None else bytes(index_key)
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
        # Deleted and replaced cells are zeroed where that costs no extra I/O, so old
        # ciphertexts (and the plaintext keys of removed rows) do not linger in free space.
        self._conn.execute("PRAGMA secure_delete=FAST")
        self._conn.executescript(_SCHEMA)
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            version = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[
                0
            ]
        if version != str(SCHEMA_VERSION):
            self._conn.close()
            raise SchemaError(f"record schema {version}, expected {SCHEMA_VERSION}")
        for suffix in ("-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)

    @property
    def path(self) -> Path:
        """Location of the database file."""
        return self._path

    @property
    def codec(self) -> Codec:
        """The codec every payload passes through."""
        return self._codec

    def _seal(self, value: Any, aad: bytes) -> bytes:
        return self._codec.encode(json.dumps(value, sort_keys=True), aad)

    def _open(self, blob: bytes, aad: bytes) -> Any:
        return json.loads(self._codec.decode(blob, aad))

    def _dedupe(self, key: str) -> str:
        if self._index_key is None:
            return key
        return hmac.new(self._index_key, b"dedupe\x00" + key.encode(), hashlib.sha256).hexdigest()

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
        now = _iso(datetime.now(UTC))
        with self._transaction() as cur:
            # Encoded under the lock: a key rotation cannot miss a blob being written.
            blob = self._seal(dict(profile), _aad("profiles", person_id))
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
        result: dict[str, Any] = self._open(row[0], _aad("profiles", person_id))
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
        with self._transaction() as cur:
            blob = self._seal(value, _aad("settings", person_id, key))
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
        return {row[0]: self._open(row[1], _aad("settings", person_id, row[0])) for row in rows}

    # Alerts -------------------------------------------------------------------------

    def put_alert(
        self, alert_id: str, person_id: str, status: str, payload: Mapping[str, Any]
    ) -> None:
        """Create or update an alert."""
        with self._transaction() as cur:
            blob = self._seal(dict(payload), _aad("alerts", alert_id, person_id))
            cur.execute(
                "INSERT OR REPLACE INTO alerts (alert_id, person_id, status, payload, updated) "
                "VALUES (?, ?, ?, ?, ?)",
                (alert_id, person_id, status, blob, _iso(datetime.now(UTC))),
            )

    def alerts(
        self, *, person_id: str | None = None, active_only: bool = False
    ) -> list[dict[str, Any]]:
        """Alerts, oldest first; ``active_only`` leaves out resolved ones."""
        sql = "SELECT payload, alert_id, person_id FROM alerts WHERE 1 = 1"
        args: list[Any] = []
        if person_id is not None:
            sql += " AND person_id = ?"
            args.append(person_id)
        if active_only:
            sql += " AND status != 'resolved'"
        sql += " ORDER BY rowid"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._open(row[0], _aad("alerts", row[1], row[2])) for row in rows]

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
        group = reading_id or uuid.uuid4().hex
        recorded = _iso(datetime.now(UTC))
        stored: list[StoredMeasurement] = []
        whens = [_iso(item[3]) for item in values]  # refuse naive times before writing
        with self._transaction() as cur:
            for (vital, value, unit, time, dedupe_key), when in zip(values, whens, strict=True):
                key = self._dedupe(dedupe_key or f"{person_id}|{vital}|{when}|{value!r}|{source}")
                blob = self._seal(
                    {"value": value, "details": payload},
                    _aad("measurements", person_id, group, vital, when),
                )
                cur.execute(
                    "INSERT OR IGNORE INTO measurements (person_id, vital, unit, time, "
                    "source, dedupe_key, reading_id, payload, recorded) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (person_id, vital, unit, when, source, key, group, blob, recorded),
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
            rows = cur.execute(
                "SELECT id, person_id, vital, time, payload FROM measurements WHERE reading_id = ?",
                (reading_id,),
            ).fetchall()
            # The payload is bound to its person: move it by sealing it for the new one.
            cur.executemany(
                "UPDATE measurements SET person_id = ?, payload = ? WHERE id = ?",
                [
                    (
                        person_id,
                        self._codec.encode(
                            self._codec.decode(
                                blob, _aad("measurements", old, reading_id, vital, when)
                            ),
                            _aad("measurements", person_id, reading_id, vital, when),
                        ),
                        row_id,
                    )
                    for row_id, old, vital, when, blob in rows
                ],
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
        with self._transaction() as cur:
            blob = self._seal(dict(payload), _aad("pending", pending_id))
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
        return {row[0]: self._open(row[1], _aad("pending", row[0])) for row in rows}

    def delete_pending(self, pending_id: str) -> bool:
        """Drop a held reading; True if it existed."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM pending WHERE pending_id = ?", (pending_id,))
            return cur.rowcount > 0

    def _row(self, row: tuple[Any, ...]) -> StoredMeasurement:
        row_id, reading_id, person_id, vital, unit, when, source, blob = row
        sealed = self._open(blob, _aad("measurements", person_id, reading_id, vital, when))
        return StoredMeasurement(
            row_id=row_id,
            reading_id=reading_id,
            person_id=person_id,
            vital=vital,
            value=sealed["value"],
            unit=unit,
            time=datetime.fromisoformat(when),
            source=source,
            details=sealed["details"],
        )

    _COLUMNS = "id, reading_id, person_id, vital, unit, time, source, payload"

    def latest(self, person_id: str) -> dict[str, StoredMeasurement]:
        """The most recent measurement of each vital for a person."""
        # One indexed lookup per vital: a correlated subquery over the whole log grew with
        # years of readings (docs/performance.md).
        rows = []
        with self._lock:
            vitals = self._conn.execute(
                "SELECT DISTINCT vital FROM measurements WHERE person_id = ?", (person_id,)
            ).fetchall()
            for (vital,) in vitals:
                rows.append(
                    self._conn.execute(
                        f"SELECT {self._COLUMNS} FROM measurements "
                        "WHERE person_id = ? AND vital = ? ORDER BY time DESC, id DESC LIMIT 1",
                        (person_id, vital),
                    ).fetchone()
                )
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

    def has_reading(self, reading_id: str) -> bool:
        """Whether any value of this reading is already in the log."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM measurements WHERE reading_id = ? LIMIT 1", (reading_id,)
            ).fetchone()
        return row is not None

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

    # Clinic bridge: cursors, outbox, link state ------------------------------------------

    def max_measurement_id(self) -> int:
        """Row id of the newest measurement (0 for an empty log)."""
        with self._lock:
            row = self._conn.execute("SELECT max(id) FROM measurements").fetchone()
        return int(row[0] or 0)

    def measurements_after(self, row_id: int, limit: int) -> list[StoredMeasurement]:
        """Up to about ``limit`` measurements with an id above ``row_id``, oldest first.

        The values of one reading are never split: when the limit falls inside a reading,
        its remaining values are included too (a blood pressure panel stays whole).
        """
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM measurements WHERE id > ? ORDER BY id LIMIT ?",
                (row_id, max(1, limit)),
            ).fetchall()
            if rows:
                last_id, last_reading = rows[-1][0], rows[-1][1]
                rows += self._conn.execute(
                    f"SELECT {self._COLUMNS} FROM measurements "
                    "WHERE id > ? AND reading_id = ? ORDER BY id",
                    (last_id, last_reading),
                ).fetchall()
        return [self._row(row) for row in rows]

    def count_measurements_after(self, row_id: int) -> int:
        """Number of measurements with an id above ``row_id``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FROM measurements WHERE id > ?", (row_id,)
            ).fetchone()
        return int(row[0])

    def clinic_cursor(self, link_id: str) -> int | None:
        """Last measurement row id a clinic link has delivered, or None if never set."""
        with self._lock:
            row = self._conn.execute(
                "SELECT last_row_id FROM clinic_cursors WHERE link_id = ?", (link_id,)
            ).fetchone()
        return None if row is None else int(row[0])

    def clinic_ack(
        self,
        link_id: str,
        *,
        cursor: int | None = None,
        seqs: Iterable[int] = (),
        state: Mapping[str, Any] | None = None,
        quarantine: Iterable[tuple[str, str, str | None, Mapping[str, Any]]] = (),
    ) -> None:
        """Record a delivery in one transaction: move the cursor, drop items, update state.

        The cursor only moves forward, so a late or repeated acknowledgement cannot make
        a clinic link send readings twice or skip any. ``quarantine`` (kind, key, person,
        payload) are what the server refused: kept in the same commit that moves past them.
        """
        now = _iso(datetime.now(UTC))
        with self._transaction() as cur:
            for kind, key, person_id, payload in quarantine:
                cur.execute(
                    "INSERT OR IGNORE INTO clinic_quarantine (link_id, kind, item_key, "
                    "person_id, payload, created) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        link_id,
                        kind,
                        key,
                        person_id,
                        self._seal(
                            dict(payload),
                            _aad("clinic_quarantine", link_id, kind, key, person_id),
                        ),
                        now,
                    ),
                )
            if cursor is not None:
                cur.execute(
                    "INSERT INTO clinic_cursors (link_id, last_row_id, updated) VALUES (?, ?, ?) "
                    "ON CONFLICT(link_id) DO UPDATE SET "
                    "last_row_id = max(last_row_id, excluded.last_row_id), "
                    "updated = excluded.updated",
                    (link_id, cursor, now),
                )
            cur.executemany(
                "DELETE FROM clinic_outbox WHERE link_id = ? AND seq = ?",
                [(link_id, seq) for seq in seqs],
            )
            self._put_clinic_state(cur, link_id, state or {})

    def clinic_rewind(self, link_id: str, cursor: int) -> None:
        """Set a link's cursor back (its server lost what it had acknowledged)."""
        now = _iso(datetime.now(UTC))
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO clinic_cursors (link_id, last_row_id, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(link_id) DO UPDATE SET last_row_id = excluded.last_row_id, "
                "updated = excluded.updated",
                (link_id, cursor, now),
            )

    def clinic_quarantined(self, link_id: str | None = None) -> list[dict[str, Any]]:
        """What clinic servers refused, oldest first.

        Each: qid, link_id, kind, key, person_id, created, and what was stored with it
        (``payload``, ``label``, ``status``, ``outcome``).
        """
        sql = (
            "SELECT qid, link_id, kind, item_key, person_id, payload, created "
            "FROM clinic_quarantine"
        )
        args: tuple[Any, ...] = ()
        if link_id is not None:
            sql += " WHERE link_id = ?"
            args = (link_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY qid", args).fetchall()
        return [
            {
                "qid": row[0],
                "link_id": row[1],
                "kind": row[2],
                "key": row[3],
                "person_id": row[4],
                "created": row[6],
                **self._open(row[5], _aad("clinic_quarantine", row[1], row[2], row[3], row[4])),
            }
            for row in rows
        ]

    def clinic_quarantine_release(self, qid: int, *, retry: bool, actor: str) -> str | None:
        """Send a quarantined entry again (back into the outbox) or discard it.

        One transaction, with an audit row either way. Returns the link id, or None when
        the entry is gone (already released).
        """
        with self._transaction() as cur:
            row = cur.execute(
                "SELECT link_id, kind, item_key, person_id, payload FROM clinic_quarantine "
                "WHERE qid = ?",
                (qid,),
            ).fetchone()
            if row is None:
                return None
            link_id, kind, key, person_id, blob = row
            held = self._open(blob, _aad("clinic_quarantine", link_id, kind, key, person_id))
            cur.execute("DELETE FROM clinic_quarantine WHERE qid = ?", (qid,))
            now = _iso(datetime.now(UTC))
            if retry:
                cur.execute(
                    "INSERT INTO clinic_outbox (link_id, kind, item_key, person_id, payload, "
                    "created) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        link_id,
                        kind,
                        key,
                        person_id,
                        self._seal(
                            held.get("payload") or {},
                            _aad("clinic_outbox", link_id, kind, key, person_id),
                        ),
                        now,
                    ),
                )
            cur.execute(
                "INSERT INTO clinic_audit (time, link_id, request_type, person, status, "
                "outcome, authority, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    link_id,
                    "quarantine_retry" if retry else "quarantine_discard",
                    None,
                    0,
                    f"{kind} {'queued again' if retry else 'discarded'}",
                    actor,
                    None,
                ),
            )
        return str(link_id)

    def measurements_by_ids(self, row_ids: Iterable[int]) -> list[StoredMeasurement]:
        """The measurements with these row ids that still exist, oldest first."""
        ids = sorted({int(r) for r in row_ids})
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM measurements WHERE id IN ({marks}) ORDER BY id",
                ids,
            ).fetchall()
        return [self._row(row) for row in rows]

    def clinic_enqueue(
        self,
        link_id: str,
        items: Iterable[tuple[str, str, str | None, Mapping[str, Any]]],
        state: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """Append (kind, key, person_id, payload) items to a link's outbox; return their seqs.

        ``state`` is written in the same transaction (e.g. "summaries queued up to day X"),
        so a crash leaves either both or neither.
        """
        now = _iso(datetime.now(UTC))
        seqs: list[int] = []
        with self._transaction() as cur:
            for kind, key, person_id, payload in items:
                blob = self._seal(
                    dict(payload), _aad("clinic_outbox", link_id, kind, key, person_id)
                )
                cur.execute(
                    "INSERT INTO clinic_outbox (link_id, kind, item_key, person_id, payload, "
                    "created) VALUES (?, ?, ?, ?, ?, ?)",
                    (link_id, kind, key, person_id, blob, now),
                )
                assert cur.lastrowid is not None
                seqs.append(cur.lastrowid)
            self._put_clinic_state(cur, link_id, state or {})
        return seqs

    def clinic_items(self, link_id: str, limit: int) -> list[OutboxItem]:
        """The oldest ``limit`` items of a link's outbox, in order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, item_key, person_id, payload, created FROM clinic_outbox "
                "WHERE link_id = ? ORDER BY seq LIMIT ?",
                (link_id, max(1, limit)),
            ).fetchall()
        return [
            OutboxItem(
                seq=row[0],
                kind=row[1],
                key=row[2],
                person_id=row[3],
                payload=self._open(row[4], _aad("clinic_outbox", link_id, row[1], row[2], row[3])),
                created=datetime.fromisoformat(row[5]),
            )
            for row in rows
        ]

    def clinic_item_count(self, link_id: str) -> int:
        """Number of items waiting in a link's outbox."""
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FROM clinic_outbox WHERE link_id = ?", (link_id,)
            ).fetchone()
        return int(row[0])

    def _put_clinic_state(
        self, cur: sqlite3.Cursor, link_id: str, values: Mapping[str, Any]
    ) -> None:
        cur.executemany(
            "INSERT OR REPLACE INTO clinic_state (link_id, key, payload) VALUES (?, ?, ?)",
            [
                (link_id, key, self._seal(value, _aad("clinic_state", link_id, key)))
                for key, value in values.items()
            ],
        )

    def clinic_state(self, link_id: str) -> dict[str, Any]:
        """Every state value of a clinic link (cursor aside)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, payload FROM clinic_state WHERE link_id = ?", (link_id,)
            ).fetchall()
        return {row[0]: self._open(row[1], _aad("clinic_state", link_id, row[0])) for row in rows}

    def clinic_put_state(self, link_id: str, values: Mapping[str, Any]) -> None:
        """Set state values of a clinic link (JSON-able, not personal)."""
        with self._transaction() as cur:
            self._put_clinic_state(cur, link_id, values)

    def clinic_note_people(self, link_id: str, person_ids: Iterable[str]) -> None:
        """Remember that data of these people is going to a clinic link."""
        with self._transaction() as cur:
            cur.executemany(
                "INSERT OR IGNORE INTO clinic_people (link_id, person_id) VALUES (?, ?)",
                [(link_id, person_id) for person_id in person_ids],
            )

    def clinic_people(self, link_id: str) -> set[str]:
        """People whose data went (or is going) to a clinic link."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT person_id FROM clinic_people WHERE link_id = ?", (link_id,)
            ).fetchall()
        return {row[0] for row in rows}

    def clinic_forget_person(self, link_id: str, person_id: str) -> int:
        """Drop a person's waiting items and sharing note for one link; return items dropped."""
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM clinic_outbox WHERE link_id = ? AND person_id = ?",
                (link_id, person_id),
            )
            dropped = cur.rowcount
            cur.execute(
                "DELETE FROM clinic_quarantine WHERE link_id = ? AND person_id = ?",
                (link_id, person_id),
            )
            cur.execute(
                "DELETE FROM clinic_people WHERE link_id = ? AND person_id = ?",
                (link_id, person_id),
            )
        return dropped

    def clinic_link_ids(self) -> set[str]:
        """Every clinic link with a cursor, state, shared people or waiting items."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT link_id FROM clinic_cursors UNION SELECT link_id FROM clinic_state "
                "UNION SELECT link_id FROM clinic_people UNION SELECT link_id FROM clinic_outbox "
                "UNION SELECT link_id FROM clinic_quarantine"
            ).fetchall()
        return {row[0] for row in rows}

    def clinic_forget_link(self, link_id: str) -> None:
        """Remove a clinic link's delivery state (its audit trail stays)."""
        with self._transaction() as cur:
            for table in (
                "clinic_cursors",
                "clinic_outbox",
                "clinic_state",
                "clinic_people",
                "clinic_quarantine",
            ):
                cur.execute(f"DELETE FROM {table} WHERE link_id = ?", (link_id,))

    # Clinic advice and audit ---------------------------------------------------------------

    def put_advice(
        self, advice_id: str, link_id: str, person_id: str, payload: Mapping[str, Any]
    ) -> bool:
        """Store a clinician's advice for a person; False if this advice id is already held."""
        with self._transaction() as cur:
            blob = self._seal(dict(payload), _aad("clinic_advice", advice_id, link_id, person_id))
            cur.execute(
                "INSERT OR IGNORE INTO clinic_advice (advice_id, link_id, person_id, payload, "
                "received) VALUES (?, ?, ?, ?, ?)",
                (advice_id, link_id, person_id, blob, _iso(datetime.now(UTC))),
            )
            return cur.rowcount > 0

    def advice(self, person_id: str | None = None) -> list[dict[str, Any]]:
        """Clinic advice, oldest first, each with advice_id, link_id, person_id, received."""
        sql = "SELECT advice_id, link_id, person_id, payload, received FROM clinic_advice"
        args: list[Any] = []
        if person_id is not None:
            sql += " WHERE person_id = ?"
            args.append(person_id)
        sql += " ORDER BY received, rowid"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [
            self._open(row[3], _aad("clinic_advice", row[0], row[1], row[2]))
            | {"advice_id": row[0], "link_id": row[1], "person_id": row[2], "received": row[4]}
            for row in rows
        ]

    def clinic_person_ids(self) -> set[str]:
        """People named anywhere in the clinic tables (advice, outbox, sharing notes)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT person_id FROM clinic_advice UNION SELECT person_id FROM clinic_people "
                "UNION SELECT person_id FROM clinic_outbox WHERE person_id IS NOT NULL "
                "UNION SELECT person_id FROM clinic_quarantine WHERE person_id IS NOT NULL"
            ).fetchall()
        return {row[0] for row in rows}

    def delete_clinic_advice(self, person_id: str) -> int:
        """Remove a person's clinic advice; return rows removed."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM clinic_advice WHERE person_id = ?", (person_id,))
            return cur.rowcount

    def clinic_audit(
        self,
        link_id: str,
        request_type: str,
        person: str | None,
        status: int,
        outcome: str,
        authority: str,
        signature: str | None = None,
    ) -> None:
        """Append one webhook request to the audit trail."""
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO clinic_audit (time, link_id, request_type, person, status, outcome, "
                "authority, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _iso(datetime.now(UTC)),
                    link_id,
                    request_type,
                    person,
                    status,
                    outcome,
                    authority,
                    signature,
                ),
            )

    def clinic_audit_rows(
        self, link_id: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Audit rows, oldest first."""
        sql = (
            "SELECT time, link_id, request_type, person, status, outcome, authority, signature "
            "FROM clinic_audit WHERE 1 = 1"
        )
        args: list[Any] = []
        if link_id is not None:
            sql += " AND link_id = ?"
            args.append(link_id)
        if since is not None:
            sql += " AND time >= ?"
            args.append(_iso(since))
        sql += " ORDER BY id"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        keys = ("time", "link_id", "type", "person", "status", "outcome", "authority", "signature")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def alerts_updated_since(self, since: datetime) -> list[dict[str, Any]]:
        """Alerts (any status) changed at or after ``since``, oldest change first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload, alert_id, person_id FROM alerts WHERE updated >= ? "
                "ORDER BY updated, rowid",
                (_iso(since),),
            ).fetchall()
        return [self._open(row[0], _aad("alerts", row[1], row[2])) for row in rows]

    # Key rotation ------------------------------------------------------------------------

    def reencrypt_all(self) -> dict[str, int]:
        """Move every blob not under the codec's current key to it; return counts by table.

        One transaction: a failure (e.g. a blob that does not decrypt) changes nothing.
        Writers encode under the same lock, so no blob under an old key can slip in.
        """
        codec = self._codec
        if not isinstance(codec, RekeyingCodec):
            return {}
        counts: dict[str, int] = {}
        with self._transaction() as cur:
            for table, row_key, columns in _SEALED_TABLES:
                rows = cur.execute(
                    f"SELECT {row_key}, payload, {', '.join(columns)} FROM {table}"
                ).fetchall()
                updates = [
                    (codec.reencrypt(row[1], _aad(table, *row[2:])), row[0])
                    for row in rows
                    if codec.needs_reencrypt(row[1])
                ]
                cur.executemany(
                    f"UPDATE {table} SET payload = ? WHERE {row_key} = ?",
                    updates,
                )
                counts[table] = len(updates)
        # Old ciphertexts would otherwise stay in the WAL until the next checkpoint.
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts

    def key_ids_in_use(self) -> set[str]:
        """Every key id some stored blob names (empty for a codec without key ids)."""
        codec = self._codec
        if not isinstance(codec, RekeyingCodec):
            return set()
        used: set[str] = set()
        with self._lock:
            for table, _, _ in _SEALED_TABLES:
                for (blob,) in self._conn.execute(f"SELECT payload FROM {table}"):
                    used.add(codec.key_id_of(blob))
        return used
