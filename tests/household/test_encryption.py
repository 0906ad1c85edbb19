"""Encryption at rest of the household record, on a real Home Assistant and real files."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
import hashlib
import json
from pathlib import Path
import sqlite3

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.smart_care.const import DOMAIN
from custom_components.smart_care.core.security import DecryptError, EncryptionCodec
from custom_components.smart_care.household.keys import INDEX_KEY_ID, key_path, open_record, rotate
from custom_components.smart_care.household.runtime import Household, record_path
from tests.conftest import SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_TEXT

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
# Identity field names: even the shape of a profile must not show.
FIELD_NAMES = (b"id_number", b"birth_date", b"conditions", b"allergies", b"medications")
SYSTOLIC = 142.5


def household(hass: HomeAssistant) -> Household:
    (entry,) = [e for e in hass.config_entries.async_entries(DOMAIN) if e.state.recoverable]
    result: Household = entry.runtime_data.household
    return result


def raw_files(hass: HomeAssistant, entry: MockConfigEntry) -> bytes:
    db = record_path(hass, entry.entry_id)
    return b"".join(
        Path(f"{db}{suffix}").read_bytes()
        for suffix in ("", "-wal")
        if Path(f"{db}{suffix}").exists()
    )


async def record_reading(hass: HomeAssistant) -> None:
    await hass.services.async_call(
        DOMAIN,
        "record_measurement",
        {"person": "Grandma", "systolic": SYSTOLIC, "diastolic": 91, "pulse": 77},
        blocking=True,
    )
    await hass.async_block_till_done()


def snapshot(db: Path) -> dict[str, str | None]:
    """Content hashes of the database and its side files (None: absent)."""
    result: dict[str, str | None] = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db}{suffix}")
        result[suffix] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return result


def issue(hass: HomeAssistant, kind: str, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{kind}_{entry.entry_id}")


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_database_holds_no_plaintext_and_keys_live_apart(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await record_reading(hass)
    data = raw_files(hass, loaded_household)
    assert data  # the test reads something
    for needle in (
        SENTINEL_ID.encode(),
        SENTINEL_TEXT.encode(),
        SENTINEL_BIRTH.encode(),
        str(SYSTOLIC).encode(),
        b"Metformin",
        b'"value"',
        *FIELD_NAMES,
    ):
        assert needle not in data, needle
    keys = key_path(hass, loaded_household.entry_id)
    db = record_path(hass, loaded_household.entry_id)
    assert keys.exists()
    assert keys != db
    assert keys.parent == db.parent  # both in HA's private .storage/smart_care
    assert keys.stat().st_mode & 0o777 == 0o600
    assert db.stat().st_mode & 0o777 == 0o600
    doc = json.loads(keys.read_text())
    assert INDEX_KEY_ID in doc["keys"]
    assert doc["current"] != INDEX_KEY_ID
    # No key material in the database either.
    for encoded in doc["keys"].values():
        assert encoded.encode() not in data
    # Dedupe keys are opaque tokens, not "person|vital|time|value|source".
    with closing(sqlite3.connect(db)) as conn:
        tokens = [row[0] for row in conn.execute("SELECT dedupe FROM measurements")]
        columns = [row[1] for row in conn.execute("PRAGMA table_info(measurements)")]
    assert tokens
    # 128 bits of an HMAC, not "person|vital|time|value|source".
    assert all(isinstance(t, bytes) and len(t) == 16 for t in tokens)
    assert "value" not in columns


async def test_restart_reads_everything_back(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await record_reading(hass)
    assert await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert loaded_household.state is ConfigEntryState.LOADED
    home = household(hass)
    (person_id,) = home.people
    assert home.people[person_id].latest["systolic_bp"].value == SYSTOLIC
    profile = await hass.async_add_executor_job(home.store.get_profile, person_id)
    assert profile is not None
    assert profile["id_number"] == SENTINEL_ID
    state = hass.states.get("sensor.grandma_systolic_blood_pressure")
    assert state is not None
    assert float(state.state) == SYSTOLIC


async def test_rotate_key_reencrypts_everything(
    hass: HomeAssistant,
    loaded_household: MockConfigEntry,
    grandma: str,
    hass_admin_user: MockUser,
    hass_read_only_user: MockUser,
) -> None:
    await record_reading(hass)
    home = household(hass)
    codec = home.store.codec
    assert isinstance(codec, EncryptionCodec)
    old_key = codec.keyring.current_id
    keys = key_path(hass, loaded_household.entry_id)
    index_before = json.loads(keys.read_text())["keys"][INDEX_KEY_ID]

    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN, "rotate_key", {}, blocking=True, context=Context(user_id=hass_read_only_user.id)
        )
    assert codec.keyring.current_id == old_key

    await hass.services.async_call(
        DOMAIN, "rotate_key", {}, blocking=True, context=Context(user_id=hass_admin_user.id)
    )
    new_key = codec.keyring.current_id
    assert new_key != old_key
    doc = json.loads(keys.read_text())
    assert set(doc["keys"]) == {new_key, INDEX_KEY_ID}  # the old key is gone from disk
    assert doc["keys"][INDEX_KEY_ID] == index_before  # dedupe tokens stay valid
    assert keys.stat().st_mode & 0o777 == 0o600
    in_use = await hass.async_add_executor_job(home.store.key_ids_in_use)
    assert in_use == {new_key}
    # Not even a stale copy of an old-key blob in the database or its WAL.
    old_header = b"SC1" + bytes([len(old_key)]) + old_key.encode()
    assert old_header not in raw_files(hass, loaded_household)

    # Still readable after a restart, and a re-sent reading is still a duplicate.
    assert await hass.config_entries.async_reload(loaded_household.entry_id)
    await hass.async_block_till_done()
    home = household(hass)
    (person_id,) = home.people
    assert home.people[person_id].latest["systolic_bp"].value == SYSTOLIC
    profile = await hass.async_add_executor_job(home.store.get_profile, person_id)
    assert profile is not None
    assert profile["birth_date"] == SENTINEL_BIRTH


async def test_missing_key_file_stops_the_entry_and_touches_nothing(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await record_reading(hass)
    await unload(hass, loaded_household)
    keys = key_path(hass, loaded_household.entry_id)
    db = record_path(hass, loaded_household.entry_id)
    keys.unlink()
    files = snapshot(db)

    assert not await hass.config_entries.async_setup(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert loaded_household.state is ConfigEntryState.SETUP_ERROR
    found = issue(hass, "record_key_missing", loaded_household)
    assert found is not None
    assert found.severity is ir.IssueSeverity.CRITICAL
    assert found.translation_placeholders == {"key_file": str(keys), "database": str(db)}
    # No new key over the old data, and the database not even opened.
    assert not keys.exists()
    assert snapshot(db) == files


async def test_corrupted_row_raises_an_issue_not_a_crash(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await record_reading(hass)
    await unload(hass, loaded_household)
    db = record_path(hass, loaded_household.entry_id)
    with sqlite3.connect(db) as conn:
        (blob,) = conn.execute("SELECT payload FROM profiles").fetchone()
        damaged = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
        conn.execute("UPDATE profiles SET payload = ?", (damaged,))
    conn.close()

    assert not await hass.config_entries.async_setup(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert loaded_household.state is ConfigEntryState.SETUP_ERROR
    found = issue(hass, "record_unreadable", loaded_household)
    assert found is not None
    assert found.severity is ir.IssueSeverity.CRITICAL
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == 3
    conn.close()


async def test_loose_key_file_permissions_raise_a_warning(
    hass: HomeAssistant, loaded_household: MockConfigEntry, grandma: str
) -> None:
    await unload(hass, loaded_household)
    keys = key_path(hass, loaded_household.entry_id)
    keys.chmod(0o644)
    assert await hass.config_entries.async_setup(loaded_household.entry_id)
    await hass.async_block_till_done()
    assert loaded_household.state is ConfigEntryState.LOADED
    assert keys.stat().st_mode & 0o777 == 0o600
    found = issue(hass, "record_key_permissions", loaded_household)
    assert found is not None
    assert found.severity is ir.IssueSeverity.WARNING
    await hass.services.async_call(DOMAIN, "rotate_key", {}, blocking=True)
    assert issue(hass, "record_key_permissions", loaded_household) is None


def test_blob_cannot_move_between_people_or_rows(tmp_path: Path) -> None:
    store, _ = open_record(tmp_path / "r.db", tmp_path / "keys.json")
    try:
        store.put_profile("p1", {"id_number": "A"})
        store.put_profile("p2", {"id_number": "B"})
        store.append("p1", "weight", 70.0, "kg", T0, "manual")
        store.append("p1", "weight", 90.0, "kg", T0.replace(hour=9), "manual")
        with sqlite3.connect(tmp_path / "r.db") as conn:
            (p1,) = conn.execute("SELECT payload FROM profiles WHERE person_id='p1'").fetchone()
            conn.execute("UPDATE profiles SET payload = ? WHERE person_id = 'p2'", (p1,))
            first, second = conn.execute("SELECT payload FROM readings ORDER BY rid")
            conn.execute("UPDATE readings SET payload = ? WHERE rid = 1", second)
        conn.close()
        assert store.get_profile("p1") == {"id_number": "A"}
        with pytest.raises(DecryptError):
            store.get_profile("p2")
        with pytest.raises(DecryptError):
            store.history("p1")
    finally:
        store.close()


def test_value_rows_are_bound_to_their_sealed_reading(tmp_path: Path) -> None:
    """A value row's plaintext columns (time, vital, person) cannot be edited unnoticed."""
    store, _ = open_record(tmp_path / "r.db", tmp_path / "keys.json")
    try:
        store.append("p1", "weight", 70.0, "kg", T0, "manual")
        store.append("p2", "weight", 90.0, "kg", T0, "manual")
        assert [m.value for m in store.history("p1")] == [70.0]
        with sqlite3.connect(tmp_path / "r.db") as conn:
            conn.execute("UPDATE measurements SET time = time + 1 WHERE id = 1")
        conn.close()
        with pytest.raises(DecryptError):
            store.history("p1")
        with sqlite3.connect(tmp_path / "r.db") as conn:
            conn.execute("UPDATE measurements SET time = time - 1 WHERE id = 1")
            # Moving p2's value row to p1 (person column) breaks p2's reading.
            conn.execute(
                "UPDATE measurements SET person = (SELECT person FROM measurements "
                "WHERE id = 1) WHERE id = 2"
            )
        conn.close()
        with pytest.raises(DecryptError):
            store.history("p1")
    finally:
        store.close()


def test_rotation_keeps_dedupe_and_reassign(tmp_path: Path) -> None:
    store, keyring = open_record(tmp_path / "r.db", tmp_path / "keys.json")
    try:
        first = store.append("p1", "glucose", 5.5, "mmol/L", T0, "ble", dedupe_key="dev|7")
        assert first is not None
        result = rotate(store, keyring)
        assert sum(result.reencrypted.values()) == 1
        assert store.append("p1", "glucose", 5.5, "mmol/L", T0, "ble", dedupe_key="dev|7") is None
        assert store.append("p1", "glucose", 5.5, "mmol/L", T0, "ble") is not None
        moved = store.reassign(first.reading_id, "p2")
        assert [m.value for m in moved] == [5.5]
        assert [m.value for m in store.history("p2")] == [5.5]
        assert store.key_ids_in_use() == {keyring.current_id}
    finally:
        store.close()
    # The same files open again; a second database never gets a fresh key over old data.
    store, again = open_record(tmp_path / "r.db", tmp_path / "keys.json")
    store.close()
    assert again.current_id == keyring.current_id
