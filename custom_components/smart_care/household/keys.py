"""The household record's encryption keys (HA glue around ``core.security.Keyring``).

Notes: docs/modules.md (household/keys.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
from pathlib import Path
from secrets import token_bytes
import threading
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import (
    ConfigEntryError,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import issue_registry as ir

from ..const import DOMAIN, ISSUE_KEY_MISSING, ISSUE_KEY_PERMISSIONS, ISSUE_UNREADABLE
from ..core.security import (
    KEY_BYTES,
    DecryptError,
    EncryptionCodec,
    KeyFileError,
    Keyring,
)
from ..core.store.record_store import RecordStore, SchemaError
from .issues import async_raise_issue
from .runtime import get_household, record_path

_LOGGER = logging.getLogger(__name__)

INDEX_KEY_ID: Final = "index"
KEY_FILE_NAME: Final = "keys_{entry_id}.json"


SERVICE_ROTATE_KEY: Final = "rotate_key"


class RecordKeyMissing(Exception):
    """The database exists but its key file is missing or cannot be used."""


def key_path(hass: HomeAssistant, entry_id: str) -> Path:
    """Where a household's key file lives (next to, but not inside, its database)."""
    return Path(hass.config.path(".storage", DOMAIN, KEY_FILE_NAME.format(entry_id=entry_id)))


def _issue_id(kind: str, entry_id: str) -> str:
    return f"{kind}_{entry_id}"


def create_keyring(path: Path) -> Keyring:
    """Create the key file: one data key and the index key. Never replaces a file."""
    first = Keyring.generate()
    key_id, key = first.current()
    keyring = Keyring({key_id: key, INDEX_KEY_ID: token_bytes(KEY_BYTES)}, key_id)
    keyring.save(path, exclusive=True)  # 0600, fsynced; never replaces a key file
    return Keyring.load(path)


def open_record(db_path: Path, keys: Path) -> tuple[RecordStore, Keyring]:
    """Load (or, for a new household, create) the keys, then open the database.

    Blocking. Raises ``RecordKeyMissing`` without opening the database when the key
    file is missing or unusable and a database exists (it would be unreadable).
    """
    db_exists = any(
        Path(f"{db_path}{suffix}").exists() for suffix in ("", "-wal", "-shm", "-journal")
    )
    try:
        keyring = Keyring.load(keys)
    except FileNotFoundError:
        if db_exists:
            raise RecordKeyMissing("key file missing") from None
        keyring = create_keyring(keys)
    except KeyFileError as err:
        raise RecordKeyMissing(str(err)) from None
    if keyring.get(INDEX_KEY_ID) is None or keyring.current_id == INDEX_KEY_ID:
        raise RecordKeyMissing("key file has no index key")
    index_key = keyring.get(INDEX_KEY_ID)
    store = RecordStore(db_path, EncryptionCodec(keyring), index_key=index_key)
    return store, keyring


class _Opening:
    """A record opened in the executor for a setup that may stop waiting for it.

    Home Assistant cancels a setup still running when it stops (say, a reload, or the
    migration of a large record). The thread cannot be stopped and finishes opening; then
    whoever is left holding the store closes it, rather than the garbage collector.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._handed: RecordStore | None = None

    def open(self, db_path: Path, keys: Path) -> tuple[RecordStore, Keyring]:
        store, keyring = open_record(db_path, keys)
        with self._lock:
            if not self._abandoned:
                self._handed = store
                return store, keyring
        store.close()
        raise _Abandoned

    def abandon(self) -> RecordStore | None:
        """Stop waiting; return the store if the thread already handed it over."""
        with self._lock:
            self._abandoned = True
            return self._handed


class _Abandoned(Exception):
    """Opened after its setup was cancelled, and closed again."""


@dataclass(frozen=True, slots=True)
class OpenedRecord:
    """A household's opened store and its keyring."""

    store: RecordStore
    keyring: Keyring


async def async_open_record(hass: HomeAssistant, entry: ConfigEntry) -> OpenedRecord:
    """Open the household's record; raise ConfigEntryError (with a repair issue) if not."""
    db_path = record_path(hass, entry.entry_id)
    keys = key_path(hass, entry.entry_id)
    placeholders = {"key_file": str(keys), "database": str(db_path)}
    opening = _Opening()
    try:
        store, keyring = await hass.async_add_executor_job(opening.open, db_path, keys)
    except asyncio.CancelledError:
        if (handed := opening.abandon()) is not None:
            # Opened just as the wait was cancelled: the result went nowhere.
            hass.async_add_executor_job(handed.close)
        raise
    except RecordKeyMissing as err:
        # The reason names only the file and what is wrong with it, never key material.
        _LOGGER.error("Health record key file %s cannot be used: %s", keys, err)
        _async_issue(hass, entry, ISSUE_KEY_MISSING, ir.IssueSeverity.CRITICAL, placeholders)
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key=ISSUE_KEY_MISSING,
            translation_placeholders=placeholders,
        ) from None
    except SchemaError as err:
        _LOGGER.error("Health record %s: %s", db_path, err)
        _async_issue(hass, entry, ISSUE_UNREADABLE, ir.IssueSeverity.CRITICAL, placeholders)
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key=ISSUE_UNREADABLE,
            translation_placeholders=placeholders,
        ) from None
    ir.async_delete_issue(hass, DOMAIN, _issue_id(ISSUE_KEY_MISSING, entry.entry_id))
    if keyring.permissions_repaired:
        _async_issue(
            hass,
            entry,
            ISSUE_KEY_PERMISSIONS,
            ir.IssueSeverity.WARNING,
            {"key_file": str(keys)},
            persistent=True,
        )
    return OpenedRecord(store, keyring)


def unreadable_error(
    hass: HomeAssistant, entry: ConfigEntry, err: DecryptError
) -> ConfigEntryError:
    """Raise the "record unreadable" issue; return the error that stops the entry."""
    db_path = record_path(hass, entry.entry_id)
    keys = key_path(hass, entry.entry_id)
    placeholders = {"key_file": str(keys), "database": str(db_path)}
    # DecryptError carries only a reason and a key id: safe to log.
    _LOGGER.error("Health record %s cannot be decrypted: %s", db_path, err)
    _async_issue(hass, entry, ISSUE_UNREADABLE, ir.IssueSeverity.CRITICAL, placeholders)
    return ConfigEntryError(
        translation_domain=DOMAIN,
        translation_key=ISSUE_UNREADABLE,
        translation_placeholders=placeholders,
    )


@callback
def async_record_loaded(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The household loaded: clear a stale "unreadable" issue."""
    ir.async_delete_issue(hass, DOMAIN, _issue_id(ISSUE_UNREADABLE, entry.entry_id))


@callback
def _async_issue(
    hass: HomeAssistant,
    entry: ConfigEntry,
    kind: str,
    severity: ir.IssueSeverity,
    placeholders: dict[str, str],
    *,
    persistent: bool = False,
) -> None:
    async_raise_issue(
        hass,
        _issue_id(kind, entry.entry_id),
        kind,
        placeholders,
        persistent=persistent,
        severity=severity,
    )


async def async_remove_keys(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a removed household's key file (its database is deleted with it)."""
    path = key_path(hass, entry_id)
    await hass.async_add_executor_job(lambda: path.unlink(missing_ok=True))
    for kind in (ISSUE_KEY_MISSING, ISSUE_UNREADABLE, ISSUE_KEY_PERMISSIONS):
        ir.async_delete_issue(hass, DOMAIN, _issue_id(kind, entry_id))


# --- Rotation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did (counts and key ids only, never data)."""

    new_key: str
    reencrypted: dict[str, int]
    retired: tuple[str, ...]
    kept: tuple[str, ...]


def rotate(store: RecordStore, keyring: Keyring) -> Rotation:
    """New data key, every row re-encrypted under it (one transaction), old keys retired.

    Blocking. Order matters for crash safety: the new key is on disk before any row
    uses it, and an old key is retired only after no stored blob names it. A failure
    in between leaves extra keys in the file, which the next rotation retires.
    """
    new_key = keyring.rotate()
    counts = store.reencrypt_all()
    in_use = store.key_ids_in_use()
    retired: list[str] = []
    kept: list[str] = []
    for key_id in sorted(keyring.key_ids - {new_key, INDEX_KEY_ID}):
        if key_id in in_use:
            kept.append(key_id)  # only if a writer bypassed the store's lock: keep it
            continue
        keyring.retire(key_id)
        retired.append(key_id)
    return Rotation(new_key, counts, tuple(retired), tuple(kept))


async def async_rotate_key(call: ServiceCall) -> None:
    """Service ``smart_care.rotate_key`` (administrators only)."""
    hass = call.hass
    household = get_household(hass)
    if household is None:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_household")
    codec = household.store.codec
    if not isinstance(codec, EncryptionCodec):
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_household")
    try:
        result = await household.record.batch(lambda store: rotate(store, codec.keyring))
    except DecryptError as err:
        # Nothing changed in the database; the new key is current for new rows.
        _LOGGER.error("Key rotation stopped: a stored row cannot be decrypted (%s)", err)
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="rotate_key_failed"
        ) from None
    _LOGGER.warning(
        "Health record key rotated to %s: %d rows re-encrypted (%s), keys retired: %s",
        result.new_key,
        sum(result.reencrypted.values()),
        ", ".join(f"{table} {n}" for table, n in result.reencrypted.items() if n) or "none",
        ", ".join(result.retired) or "none",
    )
    if result.kept:
        _LOGGER.warning("Keys still in use after rotation, kept: %s", ", ".join(result.kept))
    ir.async_delete_issue(hass, DOMAIN, _issue_id(ISSUE_KEY_PERMISSIONS, household.entry.entry_id))
