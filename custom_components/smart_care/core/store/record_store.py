"""The health record store: the single place Smart Care keeps personal data (docs/modules.md)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import hashlib
import hmac
import json
import os
from pathlib import Path
import re
import sqlite3
import threading
from typing import Any, Protocol, runtime_checkable
import uuid
import zlib

SCHEMA_VERSION = 3
# SQLite copies the WAL into the database file inside the commit that crosses
# ``wal_autocheckpoint`` pages: that reading waits for the copy and a second fsync (the
# slowest 1 % of readings). The glue runs ``checkpoint()`` off the reading path every
# CHECKPOINT_EVERY commits; SQLite's own stays as the backstop, at a larger WAL.
CHECKPOINT_EVERY = 64
_AUTOCHECKPOINT_PAGES = 4000

# The measurement log (schema 3). Kept apart: the migration from schema 2 creates it.
_LOG_SCHEMA = """
-- Names kept as small integers in the measurement log (person ids, vitals, units, sources):
-- a value row is then a few bytes of integers instead of four repeated strings.
CREATE TABLE IF NOT EXISTS names (
    code INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (kind, name)
);
-- One row per reading: its values and details, sealed together (one nonce and tag per
-- reading, not per value). The AAD names the person, the reading and every value row of
-- it (id, vital, unit, time, source), so a row's plaintext columns cannot be altered or
-- moved without the reading failing to decrypt.
CREATE TABLE IF NOT EXISTS readings (
    rid INTEGER PRIMARY KEY,
    reading_id BLOB NOT NULL UNIQUE,
    person INTEGER NOT NULL,
    recorded INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person INTEGER NOT NULL,
    vital INTEGER NOT NULL,
    unit INTEGER NOT NULL,
    time INTEGER NOT NULL,  -- microseconds since 1970-01-01 UTC
    source INTEGER NOT NULL,
    reading INTEGER NOT NULL,
    -- no value column: the value is inside its reading's encrypted payload
    dedupe BLOB NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS measurements_person_vital_time
    ON measurements (person, vital, time);
CREATE INDEX IF NOT EXISTS measurements_reading ON measurements (reading);
CREATE INDEX IF NOT EXISTS readings_person ON readings (person);
"""
_LOG_STATEMENTS = tuple(
    part.strip() for part in _LOG_SCHEMA.split(";") if part.strip().strip("-").strip()
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    person_id TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    updated TEXT NOT NULL
);
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
    return _utc_text(value.astimezone(UTC))


def _utc_text(value: datetime) -> str:
    """``%Y-%m-%dT%H:%M:%S.%f+00:00`` of a UTC time: isoformat(), a fraction of strftime's cost."""
    if value.year < 1000:  # strftime's %Y does not pad: keep its text (dedupe keys hash it)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Columns of a value row, in the order _materialize reads them.
_M_COLUMNS = "id, person, vital, unit, time, source, reading"
_HEX_ID = re.compile(r"[0-9a-f]{32}")

# Preset dictionary for the deflate of a reading's payload: the strings a reading's JSON
# repeats, so even a one-value reading compresses. Payloads name their format in their
# first byte; never change this dictionary for format 1 (stored blobs depend on it).
_ZDICT = (
    b'"sequence":"context":"meal":"sample":"location":"user_index":"measurement_status":'
    b'"sensor_status":"device_time":"raw":"units":"tester":"health":"note":"manual":'
    b'"glucose","heart_rate","weight","spo2","temperature","systolic_bp","diastolic_bp",'
    b'"pulse","mean_arterial_pressure","plx_spot_check","blood_pressure",'
    b'"attribution":"device_owner","user_button","only_person","manual","pending",'
    b'"source":"status_flags":[],"kind":"device":"A4:C1:38:00:00:00",'
    b'{"d":{"attribution":"device_owner","device":"","kind":"","status_flags":[]},"v":[[0,'
)
_FORMAT_DEFLATE_JSON = 1


def _us(value: datetime) -> int:
    """Microseconds since 1970 UTC: the integer time column (sorts in time order)."""
    if value.tzinfo is None:
        raise ValueError("measurement times must be timezone-aware")
    return (value - _EPOCH) // _MICROSECOND


def _from_us(stamp: int) -> datetime:
    return _EPOCH + timedelta(microseconds=stamp)


def _iso_us(stamp: int) -> str:
    """The schema-2 time text, still part of a default dedupe key."""
    return _utc_text(_from_us(stamp))


def _reading_key(reading_id: str) -> bytes | str:
    """A reading id as stored: 16 bytes for a UUID in hex (almost all), else the text."""
    if _HEX_ID.fullmatch(reading_id):
        return bytes.fromhex(reading_id)
    return reading_id


def _reading_text(stored: bytes | str) -> str:
    return stored.hex() if isinstance(stored, bytes) else str(stored)


def _pack(entries: list[tuple[Any, Mapping[str, Any]]]) -> bytes:
    """A reading's (value, details) pairs, in value-row order: compact JSON, deflated."""
    distinct: list[Mapping[str, Any]] = []
    index: list[int] = []
    for _, details in entries:
        for position, seen in enumerate(distinct):
            if seen is details or seen == details:
                index.append(position)
                break
        else:
            index.append(len(distinct))
            distinct.append(details)
    values = [value for value, _ in entries]
    body: dict[str, Any]
    if len(distinct) == 1:
        body = {"d": distinct[0], "v": values}
    else:  # values of one reading logged with different details (kept as they were)
        body = {"D": distinct, "i": index, "v": values}
    text = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _ZDICT)
    return bytes([_FORMAT_DEFLATE_JSON]) + packer.compress(text) + packer.flush()


def _unpack(data: bytes) -> list[tuple[Any, dict[str, Any]]]:
    if not data or data[0] != _FORMAT_DEFLATE_JSON:
        raise ValueError("unknown reading payload format")
    unpacker = zlib.decompressobj(-15, _ZDICT)
    body = json.loads(unpacker.decompress(data[1:]) + unpacker.flush())
    values = body["v"]
    if "d" in body:
        return [(value, body["d"]) for value in values]
    return [(value, body["D"][i]) for value, i in zip(values, body["i"], strict=True)]


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
        # Taken before ``_lock`` where both are held: checkpoints, truncation, close.
        self._checkpoint_lock = threading.Lock()
        self._commits = 0
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file 0600 before SQLite opens it: it holds health data.
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._codes: dict[tuple[str, str], int] = {}
        self._names_by_code: dict[int, str] = {}
        try:
            self._set_up()
        except BaseException:
            self._conn.close()  # a refused schema or a failed migration leaves nothing open
            raise
        for suffix in ("-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)

    def _set_up(self) -> None:
        """Pragmas, the schema, a schema-2 record's migration, the names' codes."""
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed reading survives power loss, not only a process kill.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
        # Deleted and replaced cells are zeroed where that costs no extra I/O, so old
        # ciphertexts (and the plaintext keys of removed rows) do not linger in free space.
        self._conn.execute("PRAGMA secure_delete=FAST")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        found = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if found is not None and found[0] == "2":
            self._migrate_from_2()
        self._conn.executescript(_SCHEMA + _LOG_SCHEMA)
        self._load_names()
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            version = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[
                0
            ]
        if version != str(SCHEMA_VERSION):
            raise SchemaError(f"record schema {version}, expected {SCHEMA_VERSION}")

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

    def _dedupe(self, key: str) -> bytes:
        if self._index_key is None:
            return key.encode()
        # 128 bits of the HMAC: as unguessable, and the unique index is half the size.
        digest = hmac.new(self._index_key, b"dedupe\x00" + key.encode(), hashlib.sha256)
        return digest.digest()[:16]

    def _encode_bytes(self, data: bytes, aad: bytes) -> bytes:
        encode = getattr(self._codec, "encode_bytes", None)
        if encode is not None:
            return bytes(encode(data, aad))
        return self._codec.encode(base64.b64encode(data).decode(), aad)

    def _decode_bytes(self, blob: bytes, aad: bytes) -> bytes:
        decode = getattr(self._codec, "decode_bytes", None)
        if decode is not None:
            return bytes(decode(blob, aad))
        return base64.b64decode(self._codec.decode(blob, aad))

    def _load_names(self) -> None:
        try:
            rows = self._conn.execute("SELECT code, kind, name FROM names").fetchall()
        except sqlite3.OperationalError:  # a rolled-back migration: no names table yet
            rows = []
        self._codes = {(kind, name): code for code, kind, name in rows}
        self._names_by_code = {code: name for code, _, name in rows}

    def _code(self, cur: sqlite3.Cursor, kind: str, name: str) -> int:
        code = self._codes.get((kind, name))
        if code is None:
            cur.execute("INSERT INTO names (kind, name) VALUES (?, ?)", (kind, name))
            assert cur.lastrowid is not None
            code = cur.lastrowid
            self._codes[kind, name] = code
            self._names_by_code[code] = name
        return code

    def _vital_codes(self) -> list[int]:
        return [code for (kind, _), code in self._codes.items() if kind == "v"]

    def _migrate_from_2(self) -> None:
        """Schema 2 (a JSON blob and text keys per value) to 3, in one transaction.

        Every value keeps its row id (clinic cursors point at them), dedupe token, time,
        details and reading; each is decrypted under its schema-2 binding, so a tampered
        row stops the migration instead of being carried over.
        """
        with self._transaction() as cur:
            seq = cur.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'measurements'"
            ).fetchone()
            cur.execute("ALTER TABLE measurements RENAME TO measurements_v2")
            cur.execute("DROP INDEX IF EXISTS measurements_person_vital_time")
            cur.execute("DROP INDEX IF EXISTS measurements_reading")
            for statement in _LOG_STATEMENTS:
                cur.execute(statement)
            reader = self._conn.cursor()
            batch: list[tuple[Any, ...]] = []
            for row in reader.execute(
                "SELECT id, person_id, vital, unit, time, source, dedupe_key, reading_id, "
                "payload, recorded FROM measurements_v2 ORDER BY reading_id, id"
            ):
                if batch and row[7] != batch[0][7]:
                    self._migrate_reading(cur, batch)
                    batch = []
                batch.append(row)
            if batch:
                self._migrate_reading(cur, batch)
            cur.execute("DROP TABLE measurements_v2")
            if seq is not None:  # ids of deleted rows are never handed out again
                cur.execute(
                    "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'measurements'",
                    (seq[0],),
                )
                if cur.rowcount == 0:
                    cur.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('measurements', ?)",
                        (seq[0],),
                    )
            cur.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", ("3",))
        # Rewrite the file: the schema-2 blobs leave it, and it shrinks to the new size.
        with self._checkpoint_lock, self._lock:
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _migrate_reading(self, cur: sqlite3.Cursor, rows: list[tuple[Any, ...]]) -> None:
        reading_id = rows[0][7]
        person = self._code(cur, "p", rows[0][1])
        recorded = _us(datetime.fromisoformat(rows[0][9]))
        cur.execute(
            "INSERT INTO readings (reading_id, person, recorded, payload) VALUES (?, ?, ?, ?)",
            (_reading_key(reading_id), person, recorded, b""),
        )
        assert cur.lastrowid is not None
        rid = cur.lastrowid
        known: dict[int, tuple[Any, Mapping[str, Any]]] = {}
        for row_id, person_id, vital, unit, when, source, dedupe, _, blob, _ in rows:
            sealed = self._open(blob, _aad("measurements", person_id, reading_id, vital, when))
            known[row_id] = (sealed["value"], sealed["details"])
            token = (
                bytes.fromhex(dedupe)[:16]
                if self._index_key is not None and re.fullmatch(r"[0-9a-f]{64}", dedupe)
                else dedupe.encode()
            )
            cur.execute(
                "INSERT INTO measurements (id, person, vital, unit, time, source, reading, "
                "dedupe) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    self._code(cur, "p", person_id),
                    self._code(cur, "v", vital),
                    self._code(cur, "u", unit),
                    _us(datetime.fromisoformat(when)),
                    self._code(cur, "s", source),
                    rid,
                    token,
                ),
            )
        self._seal_reading(cur, rid, reading_id, person, known)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                self._load_names()  # names added in the rolled-back transaction are gone
                raise
            cur.execute("COMMIT")
            self._commits += 1

    def close(self) -> None:
        """Close the database (after a checkpoint that may be running)."""
        with self._checkpoint_lock, self._lock:
            self._closed = True
            self._conn.close()

    @property
    def checkpoint_due(self) -> bool:
        """Whether enough commits went to the WAL to copy it into the database file now."""
        return self._commits >= CHECKPOINT_EVERY and not self._closed

    def checkpoint(self) -> None:
        """Copy the WAL into the database file, from a connection of its own.

        PASSIVE: it neither waits for nor blocks the store's reads and commits, which go on
        in the meantime under ``_lock``; durability is unchanged (each commit was fsync'd).
        """
        with self._checkpoint_lock:
            if self._closed:
                return
            self._commits = 0
            conn = sqlite3.connect(self._path, isolation_level=None)
            try:
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()

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
            found = {r[0] for r in self._conn.execute("SELECT person_id FROM profiles")}
            # One indexed probe per known person, not a scan of the log.
            for (kind, name), code in self._codes.items():
                if kind == "p" and name not in found:
                    probe = "SELECT 1 FROM readings WHERE person = ? LIMIT 1"
                    if self._conn.execute(probe, (code,)).fetchone() is not None:
                        found.add(name)
        return sorted(found)

    def delete_person(self, person_id: str) -> int:
        """Remove everything held about a person; return rows removed."""
        removed = 0
        with self._transaction() as cur:
            person = self._codes.get(("p", person_id))
            if person is not None:
                cur.execute("DELETE FROM measurements WHERE person = ?", (person,))
                removed += cur.rowcount
                cur.execute("DELETE FROM readings WHERE person = ?", (person,))
            for table in ("profiles", "alerts", "settings"):
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

    def put_alerts_and_setting(
        self,
        person_id: str,
        alerts: Iterable[tuple[str, str, Mapping[str, Any]]],
        key: str,
        value: Any,
    ) -> None:
        """Alert rows (alert_id, status, payload) and one setting of a person, one commit.

        The alert tracker's state goes with the alerts it refers to: one fsync, and a crash
        leaves both or neither.
        """
        with self._transaction() as cur:
            self._put_alerts_in(cur, person_id, alerts, {key: value})

    def _put_alerts_in(
        self,
        cur: sqlite3.Cursor,
        person_id: str,
        alerts: Iterable[tuple[str, str, Mapping[str, Any]]],
        settings: Mapping[str, Any],
    ) -> None:
        now = ""
        for alert_id, status, payload in alerts:
            now = now or _iso(datetime.now(UTC))
            blob = self._seal(dict(payload), _aad("alerts", alert_id, person_id))
            cur.execute(
                "INSERT OR REPLACE INTO alerts (alert_id, person_id, status, payload, "
                "updated) VALUES (?, ?, ?, ?, ?)",
                (alert_id, person_id, status, blob, now),
            )
        for key, value in settings.items():
            cur.execute(
                "INSERT OR REPLACE INTO settings (person_id, key, payload) VALUES (?, ?, ?)",
                (person_id, key, self._seal(value, _aad("settings", person_id, key))),
            )

    def put_setting_lazily(self, person_id: str, key: str, value: Any) -> None:
        """Store a setting without waiting for the disk (``synchronous=OFF``, one commit).

        Only for state whose loss after a crash is harmless (the next durable commit flushes
        it anyway): e.g. "these alerts were announced", lost means announced once more.
        """
        blob = self._seal(value, _aad("settings", person_id, key))
        # All under one hold of the lock: no other commit may run while sync is off.
        with self._lock:
            self._conn.execute("PRAGMA synchronous=OFF")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO settings (person_id, key, payload) VALUES (?, ?, ?)",
                    (person_id, key, blob),
                )
                self._commits += 1
            finally:
                self._conn.execute("PRAGMA synchronous=FULL")

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
        stamps = [_us(item[3]) for item in values]  # refuse naive times before writing
        with self._transaction() as cur:
            return self._append_in(cur, person_id, values, stamps, source, payload, group)

    def append_reading(
        self,
        person_id: str,
        values: list[tuple[str, float, str, datetime, str | None]],
        source: str,
        details: Mapping[str, Any] | None,
        reading_id: str,
        alerts: Iterable[tuple[str, str, Mapping[str, Any]]] = (),
        settings: Mapping[str, Any] | None = None,
    ) -> tuple[list[StoredMeasurement], bool]:
        """One reading and the alert rows and settings it causes, in one commit (one fsync).

        The alert rows and settings were worked out for every value being new: they are
        written only if every value is (the second item says whether they were). A reading
        already logged, wholly or in part, commits alone and its caller assesses what was
        really stored.
        """
        payload = dict(details or {})
        stamps = [_us(item[3]) for item in values]  # refuse naive times before writing
        with self._transaction() as cur:
            stored = self._append_in(cur, person_id, values, stamps, source, payload, reading_id)
            together = len(stored) == len(values)
            if together:
                self._put_alerts_in(cur, person_id, alerts, settings or {})
            return stored, together

    def append_readings(
        self,
        person_id: str,
        readings: list[
            tuple[list[tuple[str, float, str, datetime, str | None]], str, Mapping[str, Any], str]
        ],
    ) -> list[list[StoredMeasurement]]:
        """Many readings of a person, each (values, source, details, reading_id), one commit.

        For a device's stored records (backfill): one fsync for the transfer instead of one
        a record. Return the newly logged rows of each reading, in order.
        """
        stamped = [(r, [_us(item[3]) for item in r[0]]) for r in readings]  # refuse naive times
        with self._transaction() as cur:
            return [
                self._append_in(cur, person_id, values, stamps, source, dict(details), group)
                for (values, source, details, group), stamps in stamped
            ]

    def _append_in(
        self,
        cur: sqlite3.Cursor,
        person_id: str,
        values: list[tuple[str, float, str, datetime, str | None]],
        stamps: list[int],
        source: str,
        payload: dict[str, Any],
        group: str,
    ) -> list[StoredMeasurement]:
        person = self._code(cur, "p", person_id)
        source_code = self._code(cur, "s", source)
        rkey = _reading_key(group)
        found = cur.execute(
            "SELECT rid, person, payload FROM readings WHERE reading_id = ?", (rkey,)
        ).fetchone()
        if found is None:
            cur.execute(
                "INSERT INTO readings (reading_id, person, recorded, payload) VALUES (?, ?, ?, ?)",
                (rkey, person, _us(datetime.now(UTC)), b""),
            )
            assert cur.lastrowid is not None
            rid, owner, held = cur.lastrowid, person, None
        else:
            rid, owner, held = found
            if owner != person:  # a reading is one person's; reassign() moves it whole
                raise ValueError("this reading id is already another person's reading")
        # What the reading already holds is opened before its value rows change.
        known: dict[int, tuple[Any, dict[str, Any]]] = {}
        if held:
            known = self._unseal_reading(cur, rid, group, owner, held)
        stored: list[StoredMeasurement] = []
        for (vital, value, unit, time, dedupe_key), stamp in zip(values, stamps, strict=True):
            key = self._dedupe(
                dedupe_key or f"{person_id}|{vital}|{_iso_us(stamp)}|{value!r}|{source}"
            )
            cur.execute(
                "INSERT OR IGNORE INTO measurements (person, vital, unit, time, source, "
                "reading, dedupe) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    person,
                    self._code(cur, "v", vital),
                    self._code(cur, "u", unit),
                    stamp,
                    source_code,
                    rid,
                    key,
                ),
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
        if not stored:
            if found is None:  # every value was a duplicate: no empty reading is kept
                cur.execute("DELETE FROM readings WHERE rid = ?", (rid,))
            return stored
        for row in stored:
            known[row.row_id] = (row.value, payload)
        self._seal_reading(cur, rid, group, owner, known)
        return stored

    def reassign(self, reading_id: str, person_id: str) -> list[StoredMeasurement]:
        """Move every value of one reading to another person, keeping its time."""
        rkey = _reading_key(reading_id)
        with self._transaction() as cur:
            found = cur.execute(
                "SELECT rid, person, payload FROM readings WHERE reading_id = ?", (rkey,)
            ).fetchone()
            if found is None:
                return []
            rid, owner, blob = found
            # The payload is bound to its person: move it by sealing it for the new one.
            known = self._unseal_reading(cur, rid, reading_id, owner, blob)
            person = self._code(cur, "p", person_id)
            cur.execute("UPDATE measurements SET person = ? WHERE reading = ?", (person, rid))
            cur.execute("UPDATE readings SET person = ? WHERE rid = ?", (person, rid))
            self._seal_reading(cur, rid, reading_id, person, known)
            rows = cur.execute(
                f"SELECT {_M_COLUMNS} FROM measurements WHERE reading = ? ORDER BY id", (rid,)
            ).fetchall()
            return self._materialize(cur, rows)

    # Sealed readings: one blob per reading, bound to every value row it holds.

    def _reading_aad(self, person: int, reading_id: str, rows: Iterable[tuple[Any, ...]]) -> bytes:
        name = self._names_by_code.__getitem__
        return _aad(
            "readings",
            name(person),
            reading_id,
            *(
                f"{row_id}|{name(p)}|{name(v)}|{name(u)}|{t}|{name(s)}"
                for row_id, p, v, u, t, s in rows
            ),
        )

    def _value_rows(self, cur: sqlite3.Cursor, rid: int) -> list[tuple[Any, ...]]:
        return cur.execute(
            "SELECT id, person, vital, unit, time, source FROM measurements "
            "WHERE reading = ? ORDER BY id",
            (rid,),
        ).fetchall()

    def _seal_reading(
        self,
        cur: sqlite3.Cursor,
        rid: int,
        reading_id: str,
        person: int,
        known: Mapping[int, tuple[Any, Mapping[str, Any]]],
    ) -> None:
        rows = self._value_rows(cur, rid)
        data = _pack([known[row[0]] for row in rows])
        blob = self._encode_bytes(data, self._reading_aad(person, reading_id, rows))
        cur.execute("UPDATE readings SET payload = ? WHERE rid = ?", (blob, rid))

    def _unseal_reading(
        self,
        cur: sqlite3.Cursor,
        rid: int,
        reading_id: str,
        person: int,
        blob: bytes,
        rows: list[tuple[Any, ...]] | None = None,
    ) -> dict[int, tuple[Any, dict[str, Any]]]:
        if rows is None:
            rows = self._value_rows(cur, rid)
        data = self._decode_bytes(blob, self._reading_aad(person, reading_id, rows))
        entries = _unpack(data)
        if len(entries) != len(rows):
            raise ValueError("a sealed reading does not match its value rows")
        return {row[0]: entry for row, entry in zip(rows, entries, strict=True)}

    def _materialize(
        self, cur: sqlite3.Cursor | sqlite3.Connection, rows: list[tuple[Any, ...]]
    ) -> list[StoredMeasurement]:
        """Value rows (``_M_COLUMNS``) as measurements: each reading decrypted once."""
        rids = sorted({row[6] for row in rows})
        readings: dict[int, tuple[str, int, bytes]] = {}
        siblings: dict[int, list[tuple[Any, ...]]] = {rid: [] for rid in rids}
        for start in range(0, len(rids), 500):
            chunk = rids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for rid, rkey, person, blob in cur.execute(
                f"SELECT rid, reading_id, person, payload FROM readings WHERE rid IN ({marks})",
                chunk,
            ):
                readings[rid] = (_reading_text(rkey), person, blob)
            for row in cur.execute(
                "SELECT id, person, vital, unit, time, source, reading FROM measurements "
                f"WHERE reading IN ({marks}) ORDER BY id",
                chunk,
            ):
                siblings[row[6]].append(row[:6])
        opened: dict[int, tuple[Any, dict[str, Any]]] = {}
        for rid in rids:
            reading_id, person, blob = readings[rid]
            rows_of = siblings[rid]
            data = self._decode_bytes(blob, self._reading_aad(person, reading_id, rows_of))
            entries = _unpack(data)
            if len(entries) != len(rows_of):
                raise ValueError("a sealed reading does not match its value rows")
            for row, entry in zip(rows_of, entries, strict=True):
                opened[row[0]] = entry
        name = self._names_by_code
        out = []
        for row_id, person, vital, unit, stamp, source, rid in rows:
            value, details = opened[row_id]
            out.append(
                StoredMeasurement(
                    row_id=row_id,
                    reading_id=readings[rid][0],
                    person_id=name[person],
                    vital=name[vital],
                    value=value,
                    unit=name[unit],
                    time=_from_us(stamp),
                    source=name[source],
                    details=details,
                )
            )
        return out

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

    def latest(self, person_id: str) -> dict[str, StoredMeasurement]:
        """The most recent measurement of each vital for a person."""
        # One indexed lookup per known vital (a handful): flat in the log's size, with no
        # scan of the person's rows to find which vitals they have.
        with self._lock:
            person = self._codes.get(("p", person_id))
            if person is None:
                return {}
            rows = []
            for vital in self._vital_codes():
                row = self._conn.execute(
                    f"SELECT {_M_COLUMNS} FROM measurements WHERE person = ? AND vital = ? "
                    "ORDER BY time DESC, id DESC LIMIT 1",
                    (person, vital),
                ).fetchone()
                if row is not None:
                    rows.append(row)
            found = self._materialize(self._conn, rows)
        return {m.vital: m for m in found}

    def history(
        self,
        person_id: str,
        since: datetime | None = None,
        vital: str | None = None,
        limit: int | None = None,
        until: datetime | None = None,
    ) -> list[StoredMeasurement]:
        """A person's measurements in time order, optionally from ``since`` on, before ``until``."""
        with self._lock:
            person = self._codes.get(("p", person_id))
            if person is None:
                return []
            if vital is None:
                vitals = self._vital_codes()
            else:
                code = self._codes.get(("v", vital))
                vitals = [] if code is None else [code]
            # A range on the (person, vital, time) index per vital, merged: no scan of the
            # person's whole log for a time window.
            sql = f"SELECT {_M_COLUMNS} FROM measurements WHERE person = ? AND vital = ?"
            extra: list[Any] = []
            if since is not None:
                sql += " AND time >= ?"
                extra.append(_us(since))
            if until is not None:
                sql += " AND time < ?"
                extra.append(_us(until))
            # Newest first so LIMIT keeps the most recent; reversed below into time order.
            sql += " ORDER BY time DESC, id DESC"
            if limit is not None:
                sql += " LIMIT ?"
                extra.append(limit)
            rows: list[tuple[Any, ...]] = []
            for code in vitals:
                rows += self._conn.execute(sql, [person, code, *extra]).fetchall()
            rows.sort(key=lambda row: (row[4], row[0]), reverse=True)
            if limit is not None:
                rows = rows[:limit]
            rows.reverse()
            return self._materialize(self._conn, rows)

    def has_reading(self, reading_id: str) -> bool:
        """Whether any value of this reading is already in the log."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM readings WHERE reading_id = ? LIMIT 1", (_reading_key(reading_id),)
            ).fetchone()
        return row is not None

    def count(self, person_id: str | None = None) -> int:
        """Number of measurements, for one person or all."""
        with self._lock:
            if person_id is None:
                row = self._conn.execute("SELECT count(*) FROM measurements").fetchone()
            else:
                person = self._codes.get(("p", person_id))
                if person is None:
                    return 0
                row = self._conn.execute(
                    "SELECT count(*) FROM measurements WHERE person = ?", (person,)
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
                f"SELECT {_M_COLUMNS} FROM measurements WHERE id > ? ORDER BY id LIMIT ?",
                (row_id, max(1, limit)),
            ).fetchall()
            if rows:
                last_id, last_reading = rows[-1][0], rows[-1][6]
                rows += self._conn.execute(
                    f"SELECT {_M_COLUMNS} FROM measurements "
                    "WHERE id > ? AND reading = ? ORDER BY id",
                    (last_id, last_reading),
                ).fetchall()
            return self._materialize(self._conn, rows)

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
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows += self._conn.execute(
                    f"SELECT {_M_COLUMNS} FROM measurements WHERE id IN "
                    f"({', '.join('?' * len(chunk))}) ORDER BY id",
                    chunk,
                ).fetchall()
            return self._materialize(self._conn, rows)

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
            updates = []
            for rid, rkey, person, blob in cur.execute(
                "SELECT rid, reading_id, person, payload FROM readings"
            ).fetchall():
                if codec.needs_reencrypt(blob):
                    aad = self._reading_aad(person, _reading_text(rkey), self._value_rows(cur, rid))
                    updates.append((codec.reencrypt(blob, aad), rid))
            cur.executemany("UPDATE readings SET payload = ? WHERE rid = ?", updates)
            counts["readings"] = len(updates)
        # Old ciphertexts would otherwise stay in the WAL until the next checkpoint.
        with self._checkpoint_lock, self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts

    def key_ids_in_use(self) -> set[str]:
        """Every key id some stored blob names (empty for a codec without key ids)."""
        codec = self._codec
        if not isinstance(codec, RekeyingCodec):
            return set()
        used: set[str] = set()
        with self._lock:
            for table in (*(t[0] for t in _SEALED_TABLES), "readings"):
                for (blob,) in self._conn.execute(f"SELECT payload FROM {table}"):
                    used.add(codec.key_id_of(blob))
        return used
