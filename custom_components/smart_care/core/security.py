"""Security primitives: webhook signing, TOTP, keyed pseudonyms, encryption at rest, redaction.

Notes: docs/modules.md (core/security.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
import hashlib
import heapq
import hmac
import json
import logging
import math
import os
from pathlib import Path
import re
from secrets import token_bytes, token_hex
import stat
import threading
import time
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import pyotp

__all__ = [
    "DEFAULT_WINDOW",
    "REDACTED",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AuthError",
    "AuthReason",
    "DecryptError",
    "DecryptReason",
    "EncryptionCodec",
    "KeyFileError",
    "Keyring",
    "RequestVerifier",
    "TotpThrottle",
    "TotpVerifier",
    "new_pseudonym_key",
    "new_secret",
    "new_totp_secret",
    "provisioning_uri",
    "pseudonym",
    "redact_text",
    "reidentify",
    "sign",
    "signed_headers",
    "signing_string",
    "subscription_secret",
    "subscription_signature",
    "subscription_token",
]

_LOGGER = logging.getLogger(__name__)

type Clock = Callable[[], float]


# --- Errors ---------------------------------------------------------------------------


class AuthReason(StrEnum):
    """Why a request was refused; stable strings the webhook may log and return."""

    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_TIMESTAMP = "malformed_timestamp"
    EXPIRED = "expired"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED = "replayed"
    MISSING_TOTP = "missing_totp"
    BAD_TOTP = "bad_totp"
    TOTP_REPLAYED = "totp_replayed"


class AuthError(Exception):
    """A request failed authentication; ``reason`` says which check refused it."""

    def __init__(self, reason: AuthReason) -> None:
        """Carry only the reason: messages must never echo secrets or request data."""
        super().__init__(reason.value)
        self.reason = reason


class DecryptReason(StrEnum):
    """Why a stored blob could not be decrypted."""

    NOT_ENCRYPTED = "not_encrypted"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    AUTHENTICATION_FAILED = "authentication_failed"


class DecryptError(Exception):
    """A stored blob is not authentic, not ours, or needs a key we do not hold."""

    def __init__(self, reason: DecryptReason, key_id: str | None = None) -> None:
        """Keep the reason and (when known) the key id; never the payload."""
        detail = reason.value if key_id is None else f"{reason.value} (key {key_id})"
        super().__init__(detail)
        self.reason = reason
        self.key_id = key_id


class KeyFileError(Exception):
    """The key file is missing parts, malformed, or unsafe to use."""


# --- Webhook request signing -------------------------------------------------------------

SIGNATURE_HEADER: Final = "X-SmartCare-Signature"
TIMESTAMP_HEADER: Final = "X-SmartCare-Timestamp"
DEFAULT_WINDOW: Final = 300
DEFAULT_REPLAY_CACHE_SIZE: Final = 10_000

# ASCII digits only: int() would also take "+5", " 5", "1_000" and non-ASCII digits, none
# of which a clinic's `date +%s` produces. 12 digits reach the year 33658.
_TIMESTAMP_RE: Final = re.compile(r"[0-9]{1,12}")
_SIGNATURE_RE: Final = re.compile(r"[0-9a-fA-F]{64}")


def new_secret() -> str:
    """A fresh webhook secret: 32 random bytes as 64 lowercase hex characters.

    Hex rather than base64: no character a shell, URL or ``openssl -hmac`` option parser
    treats specially (base64url may start with "-").
    """
    return token_hex(32)


def _hmac_key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def signing_string(timestamp: int, body: bytes) -> bytes:
    """The exact bytes that are signed: ASCII ``f"{timestamp}."`` followed by the body."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        # The verifier only parses unsigned decimal seconds; refuse what it cannot check.
        raise ValueError("timestamp must be a non-negative integer (Unix seconds)")
    return f"{timestamp}.".encode("ascii") + bytes(body)


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``signing_string(timestamp, body)``.

    A text secret is keyed by its UTF-8 bytes, exactly as ``openssl dgst -hmac`` does.
    """
    return hmac.new(_hmac_key(secret), signing_string(timestamp, body), hashlib.sha256).hexdigest()


def signed_headers(
    secret: str | bytes, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The two headers a clinic sends with ``body`` (timestamp defaults to now)."""
    when = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(when), SIGNATURE_HEADER: sign(secret, when, body)}


class RequestVerifier:
    """Checks signature, freshness and single use of signed webhook requests.

    Thread-safe. Keep one instance per secret for the life of the webhook: the replay
    cache lives in memory (a restart forgets it; the ±window still bounds a replay).
    """

    def __init__(
        self,
        secret: str,
        window: int = DEFAULT_WINDOW,
        clock: Clock = time.time,
        replay_cache_size: int = DEFAULT_REPLAY_CACHE_SIZE,
    ) -> None:
        """Verify with ``secret``; accept timestamps within ``window`` seconds of ``clock``."""
        if not secret:
            raise ValueError("secret must not be empty")
        if window <= 0:
            raise ValueError("window must be positive")
        if replay_cache_size < 1:
            raise ValueError("replay_cache_size must be at least 1")
        self._key = _hmac_key(secret)
        self._window = window
        self._clock = clock
        self._max_entries = replay_cache_size
        # signature -> time after which its timestamp is outside the window; the heap
        # orders the same entries by that time so eviction is O(log n).
        self._seen: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    @property
    def window(self) -> int:
        """Accepted clock difference in seconds, either direction."""
        return self._window

    @property
    def replay_cache_len(self) -> int:
        """Signatures currently remembered (for tests and diagnostics)."""
        with self._lock:
            return len(self._seen)

    def verify(
        self, timestamp_header: str | None, signature_header: str | None, body: bytes
    ) -> None:
        """Return if the request is authentic, fresh and new; raise ``AuthError`` otherwise."""
        if signature_header is None or not signature_header.strip():
            raise AuthError(AuthReason.MISSING_SIGNATURE)
        if timestamp_header is None:
            raise AuthError(AuthReason.MALFORMED_TIMESTAMP)
        ts_text = timestamp_header.strip()
        if not _TIMESTAMP_RE.fullmatch(ts_text):
            raise AuthError(AuthReason.MALFORMED_TIMESTAMP)
        timestamp = int(ts_text)
        now = self._clock()
        # Checked before the HMAC: cheap, and an old request is refused whoever signed it.
        if abs(now - timestamp) > self._window:
            raise AuthError(AuthReason.EXPIRED)
        candidate = signature_header.strip()
        if not _SIGNATURE_RE.fullmatch(candidate):
            raise AuthError(AuthReason.BAD_SIGNATURE)
        # Normalised so an upper-case copy of a used signature is still a replay.
        candidate = candidate.lower()
        expected = sign(self._key, timestamp, body)
        if not hmac.compare_digest(expected.encode(), candidate.encode()):
            raise AuthError(AuthReason.BAD_SIGNATURE)
        # Only authentic requests reach the cache, so strangers cannot fill it.
        with self._lock:
            self._evict_expired(now)
            if candidate in self._seen:
                raise AuthError(AuthReason.REPLAYED)
            self._remember(candidate, timestamp + self._window)

    def _evict_expired(self, now: float) -> None:
        # An entry is needed while its timestamp could still pass the window check,
        # i.e. until now > timestamp + window; after that "expired" refuses it anyway.
        while self._expiry and self._expiry[0][0] < now:
            _, signature = heapq.heappop(self._expiry)
            del self._seen[signature]

    def _remember(self, signature: str, expires: float) -> None:
        if len(self._seen) >= self._max_entries:
            # Full of live entries: that takes more authentic requests within one window
            # than any clinic sends, so only the secret's holder (who can sign fresh ones
            # anyway) gets here. Dropping the entry closest to expiry keeps memory bounded
            # and bursts working, at the cost of replay protection for that one entry.
            _, oldest = heapq.heappop(self._expiry)
            del self._seen[oldest]
        self._seen[signature] = expires
        heapq.heappush(self._expiry, (expires, signature))


# --- FHIR Subscription notifications ---------------------------------------------------
# A clinic's FHIR server calls the same webhook with a rest-hook notification. Its
# credentials are derived from the link's signing secret (the clinic already holds it),
# each under its own label so the bearer token, which travels in a header, reveals
# nothing about the signing key:
#   printf 'smart-care/fhir-subscription/bearer' | openssl dgst -sha256 -hmac "$SECRET"
#   printf 'smart-care/fhir-subscription/signature' | openssl dgst -sha256 -hmac "$SECRET"

_SUBSCRIPTION_BEARER: Final = b"smart-care/fhir-subscription/bearer"
_SUBSCRIPTION_SIGNATURE: Final = b"smart-care/fhir-subscription/signature"


def subscription_token(secret: str | bytes) -> str:
    """The bearer token a clinic puts in ``Subscription.channel.header``."""
    return hmac.new(_hmac_key(secret), _SUBSCRIPTION_BEARER, hashlib.sha256).hexdigest()


def subscription_secret(secret: str | bytes) -> str:
    """The value of Medplum's subscription-secret extension for this link."""
    return hmac.new(_hmac_key(secret), _SUBSCRIPTION_SIGNATURE, hashlib.sha256).hexdigest()


def subscription_signature(subscription_key: str, body: bytes) -> str:
    """Medplum's ``X-Signature``: hex HMAC-SHA256 of the raw body, keyed by the secret text."""
    return hmac.new(subscription_key.encode(), bytes(body), hashlib.sha256).hexdigest()


# --- TOTP ----------------------------------------------------------------------------------

TOTP_DIGITS: Final = 6
TOTP_INTERVAL: Final = 30
TOTP_VALID_WINDOW: Final = 1
_TOTP_CODE_RE: Final = re.compile(r"[0-9]{6}")
# RFC 4226 §4 requires at least 128 bits of shared secret.
_TOTP_MIN_SECRET_BYTES: Final = 16


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, what authenticator apps expect)."""
    return pyotp.random_base32()


def _totp(secret: str) -> pyotp.TOTP:
    normalized = secret.strip().replace(" ", "").upper()
    try:
        raw = base64.b32decode(normalized + "=" * (-len(normalized) % 8))
    except ValueError:  # binascii.Error
        raise ValueError("TOTP secret is not valid base32") from None
    if len(raw) < _TOTP_MIN_SECRET_BYTES:
        raise ValueError("TOTP secret is shorter than 128 bits")
    return pyotp.TOTP(normalized, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def provisioning_uri(secret: str, account: str, issuer: str = "Smart Care") -> str:
    """The ``otpauth://`` URI (QR code content) that enrols ``secret`` in an app."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


class TotpVerifier:
    """Checks 6-digit TOTP codes (SHA-1, 30 s, ±1 step) and refuses their reuse.

    Reuse follows RFC 6238 §5.2: once a code is accepted, no code of the same or an
    earlier time step is accepted again. That refuses the same code replayed and also
    an older, still-valid code sent after a newer one. Persist ``last_step`` and pass
    it back after a restart to keep the guarantee across restarts.

    Call it only after the request's HMAC has been verified, so that strangers can
    neither guess codes nor burn the current one.
    """

    def __init__(self, secret: str, clock: Clock = time.time, last_step: int | None = None) -> None:
        """Verify codes of ``secret`` against ``clock``."""
        self._totp = _totp(secret)
        self._clock = clock
        self._last_step = last_step
        self._lock = threading.Lock()

    @property
    def last_step(self) -> int | None:
        """Time step of the last accepted code (store it to survive restarts)."""
        with self._lock:
            return self._last_step

    def verify(self, code: str | None) -> None:
        """Return if ``code`` is valid now and unused; raise ``AuthError`` otherwise."""
        if code is None or not code.strip():
            raise AuthError(AuthReason.MISSING_TOTP)
        code = code.strip()
        # Reject anything but six ASCII digits before any HMAC work.
        if not _TOTP_CODE_RE.fullmatch(code):
            raise AuthError(AuthReason.BAD_TOTP)
        # Own step arithmetic rather than pyotp's `at`/`verify`: those go through naive
        # local datetimes and can be an hour off around a DST change.
        step = int(self._clock() // TOTP_INTERVAL)
        matched: int | None = None
        for offset in range(-TOTP_VALID_WINDOW, TOTP_VALID_WINDOW + 1):
            candidate = step + offset
            if candidate < 0:
                continue
            # No early exit: the same work whichever step matches.
            expected = self._totp.generate_otp(candidate)
            if hmac.compare_digest(expected.encode(), code.encode()):
                matched = candidate  # the latest matching step wins (stricter reuse rule)
        if matched is None:
            raise AuthError(AuthReason.BAD_TOTP)
        with self._lock:
            if self._last_step is not None and matched <= self._last_step:
                raise AuthError(AuthReason.TOTP_REPLAYED)
            self._last_step = matched


class TotpThrottle:
    """Limits wrong TOTP codes per clinic link: ``max_failures`` per ``period`` seconds.

    After the ``max_failures``-th wrong code within ``period``, every code (right or
    wrong) is refused for ``lockout`` seconds without being checked, so a guesser learns
    nothing while locked. The state is a small dict the caller persists (``state``) and
    passes back after a restart; ``clear`` is the household's way out of a lockout.
    """

    def __init__(
        self,
        clock: Clock = time.time,
        max_failures: int = 5,
        period: int = 900,
        lockout: int = 900,
        state: Mapping[str, object] | None = None,
    ) -> None:
        """Start empty, or from a persisted ``state``."""
        self._clock = clock
        self.max_failures = max_failures
        self.period = period
        self.lockout = lockout
        self._failures: list[float] = []
        self._locked_until = 0.0
        if state:
            failures = state.get("failures")
            if isinstance(failures, list):
                self._failures = [float(t) for t in failures if isinstance(t, int | float)]
            until = state.get("locked_until")
            if isinstance(until, int | float):
                self._locked_until = float(until)

    @property
    def state(self) -> dict[str, object]:
        """What to persist."""
        return {"failures": list(self._failures), "locked_until": self._locked_until}

    def retry_after(self) -> int:
        """Seconds until codes are checked again (0: not locked)."""
        remaining = self._locked_until - self._clock()
        return max(0, math.ceil(remaining))

    def failed(self) -> int:
        """Record a wrong code; return the lockout in seconds it started (0 if none)."""
        now = self._clock()
        self._failures = [t for t in self._failures if now - t < self.period] + [now]
        if len(self._failures) >= self.max_failures:
            self._failures = []
            self._locked_until = now + self.lockout
            return self.lockout
        return 0

    def clear(self) -> None:
        """Lift a lockout and forget earlier wrong codes."""
        self._failures = []
        self._locked_until = 0.0


# --- Keyed pseudonyms ----------------------------------------------------------------------

PSEUDONYM_PREFIX: Final = "sc-"
PSEUDONYM_LENGTH: Final = 26  # base32 characters: 130 bits
_PSEUDONYM_DOMAIN: Final = b"smart-care/pseudonym/v1\x00"
_MIN_KEY_BYTES: Final = 16


def new_pseudonym_key() -> bytes:
    """A fresh 256-bit pseudonym key (keep it apart from the encryption keys)."""
    return token_bytes(32)


def _length_prefixed(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(4, "big") + data


def pseudonym(key: bytes, person_id: str, link_id: str) -> str:
    """A stable, keyed pseudonym of ``person_id`` for one clinic link.

    ``"sc-"`` + 26 lowercase base32 characters of HMAC-SHA256(key, domain ‖ link ‖ person).
    Fields are length-prefixed so ("ab", "c") and ("a", "bc") cannot collide; the link
    is part of the input so two clinics cannot join their data on the pseudonym.
    """
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError("pseudonym key must be at least 128 bits")
    message = _PSEUDONYM_DOMAIN + _length_prefixed(link_id) + _length_prefixed(person_id)
    digest = hmac.new(bytes(key), message, hashlib.sha256).digest()
    encoded = base64.b32encode(digest).decode("ascii").lower()
    return PSEUDONYM_PREFIX + encoded[:PSEUDONYM_LENGTH]


# reidentify() takes a parameter named like the function (the documented signature).
_pseudonym = pseudonym


def reidentify(key: bytes, link_id: str, pseudonym: str, candidates: Iterable[str]) -> str | None:
    """The candidate person id whose pseudonym on ``link_id`` is ``pseudonym``, or None."""
    wanted = pseudonym.encode()
    found: str | None = None
    for person_id in candidates:
        if hmac.compare_digest(_pseudonym(key, person_id, link_id).encode(), wanted):
            found = person_id
            break
    return found


# --- Encryption at rest --------------------------------------------------------------------

MAGIC: Final = b"SC1"
KEY_BYTES: Final = 32  # AES-256
NONCE_BYTES: Final = 12  # 96-bit random nonce: the GCM standard size
TAG_BYTES: Final = 16
KEY_FILE_VERSION: Final = 1
_KEY_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _check_key(key_id: str, key: bytes) -> None:
    if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
        raise ValueError("key ids are 1-32 characters of A-Z a-z 0-9 _ -")
    if len(key) != KEY_BYTES:
        raise ValueError(f"key {key_id} is not {KEY_BYTES} bytes")


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename still happened
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` 0600: private temp file, fsync, rename, fsync dir.

    A reader never sees half a file; key files and the outbox's bundle files use it.

    ``exclusive`` publishes with a hard link instead of a rename, which fails rather
    than replace a file that appeared meanwhile (never overwrite someone's keys).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{token_hex(6)}.tmp")
    # Created 0600 from the first byte (never briefly world-readable), refusing to
    # follow a planted symlink; fchmod because a umask could strip bits we need.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            os.link(tmp, path)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class Keyring:
    """AES-256 keys by id, one of them current; optionally backed by a 0600 key file.

    Keys are never removed by rotation: old blobs keep decrypting until re-encrypted
    and the old key is ``retire``d. When backed by a file, every change is written
    before it takes effect, so no blob is ever encrypted under a key not yet on disk.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str, path: Path | None = None) -> None:
        """Hold ``keys`` with ``current`` used for new blobs."""
        if current not in keys:
            raise ValueError("the current key id is not in the keyring")
        for key_id, key in keys.items():
            _check_key(key_id, key)
        self._keys: dict[str, bytes] = {k: bytes(v) for k, v in keys.items()}
        self._current = current
        self._path = path
        self._lock = threading.Lock()
        self.permissions_repaired = False

    # Construction -----------------------------------------------------------------

    @staticmethod
    def _new_key_id(existing: Iterable[str] = ()) -> str:
        taken = set(existing)
        while True:
            key_id = token_hex(4)
            if key_id not in taken:
                return key_id

    @classmethod
    def generate(cls) -> Keyring:
        """A keyring with one fresh key, in memory only."""
        key_id = cls._new_key_id()
        return cls({key_id: token_bytes(KEY_BYTES)}, key_id)

    @classmethod
    def create(cls, path: Path) -> Keyring:
        """Create a new key file at ``path``; refuse if one exists (it may guard data)."""
        keyring = cls.generate()
        key_id, _ = keyring.current()
        keyring.save(path, exclusive=True)
        return keyring

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Load the key file at ``path``.

        A file readable by group or others is repaired to 0600 and loaded, with
        ``permissions_repaired`` set so the caller can raise a repair issue (the key may
        have been copied; rotating and re-encrypting is the remedy). Refusing instead
        would lock the household out of its own health log after a backup restore,
        which commonly loosens modes. A file we cannot repair is refused.
        """
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise  # kept distinct: the caller may then create a key file
        except OSError as err:
            # ELOOP: a symlink; a key file must be a plain file we own.
            raise KeyFileError(f"cannot open key file {path}: {err.strerror}") from err
        repaired = False
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise KeyFileError(f"key file is not a regular file: {path}")
            loose = stat.S_IMODE(info.st_mode) & 0o077
            if loose:
                try:
                    # On the open descriptor: no race with a swapped path.
                    os.fchmod(fd, 0o600)
                except OSError as err:
                    raise KeyFileError(
                        f"key file {path} is readable by others and cannot be made private"
                    ) from err
                repaired = True
                _LOGGER.warning(
                    "Key file %s had mode %o; reset to 600. Consider rotating the key",
                    path,
                    stat.S_IMODE(info.st_mode),
                )
            chunks: list[bytes] = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
        keyring = cls._parse(b"".join(chunks), path)
        keyring.permissions_repaired = repaired
        return keyring

    @classmethod
    def _parse(cls, data: bytes, path: Path) -> Keyring:
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("version") != KEY_FILE_VERSION:
                raise KeyFileError(f"unsupported key file version in {path}")
            current = doc["current"]
            raw_keys = doc["keys"]
            if not isinstance(raw_keys, dict) or not isinstance(current, str):
                raise KeyFileError(f"malformed key file {path}")
            keys = {
                str(key_id): base64.b64decode(value, validate=True)
                for key_id, value in raw_keys.items()
            }
            return cls(keys, current, path)
        except KeyFileError:
            raise
        except (ValueError, KeyError, TypeError) as err:
            # ValueError covers bad JSON, bad base64 and bad key sizes/ids.
            raise KeyFileError(f"malformed key file {path}: {type(err).__name__}") from None

    # Persistence ------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The backing key file, if any."""
        return self._path

    def _serialize(self, keys: Mapping[str, bytes], current: str) -> bytes:
        doc = {
            "version": KEY_FILE_VERSION,
            "current": current,
            "keys": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(keys.items())},
        }
        return json.dumps(doc, indent=2).encode() + b"\n"

    def save(self, path: Path | None = None, *, exclusive: bool = False) -> None:
        """Write the key file atomically with mode 0600 (to ``path`` or the backing file).

        ``exclusive``: raise FileExistsError (also for a dangling symlink) without touching
        a file already at ``path``: a new key file never replaces keys that may guard data.
        """
        with self._lock:
            target = path or self._path
            if target is None:
                raise ValueError("no key file path")
            write_private(target, self._serialize(self._keys, self._current), exclusive=exclusive)
            self._path = target

    def _commit(self, keys: dict[str, bytes], current: str) -> None:
        # Caller holds the lock. Disk first, memory second: a failed write changes nothing.
        if self._path is not None:
            write_private(self._path, self._serialize(keys, current))
        self._keys = keys
        self._current = current

    # Keys -------------------------------------------------------------------------

    @property
    def current_id(self) -> str:
        """Id of the key that encrypts new blobs."""
        with self._lock:
            return self._current

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id held (current and older)."""
        with self._lock:
            return frozenset(self._keys)

    def current(self) -> tuple[str, bytes]:
        """The current key id and key, read together."""
        with self._lock:
            return self._current, self._keys[self._current]

    def get(self, key_id: str) -> bytes | None:
        """The key with ``key_id``, or None."""
        with self._lock:
            return self._keys.get(key_id)

    def rotate(self) -> str:
        """Add a fresh key, make it current, persist; return its id. Old keys stay."""
        with self._lock:
            key_id = self._new_key_id(self._keys)
            keys = {**self._keys, key_id: token_bytes(KEY_BYTES)}
            self._commit(keys, key_id)
            return key_id

    def retire(self, key_id: str) -> None:
        """Drop an old key once no blob needs it any more (the current key cannot go)."""
        with self._lock:
            if key_id == self._current:
                raise ValueError("cannot retire the current key")
            if key_id not in self._keys:
                raise KeyError(key_id)
            keys = {k: v for k, v in self._keys.items() if k != key_id}
            self._commit(keys, self._current)


class EncryptionCodec:
    """AES-256-GCM codec for the record store.

    Blob layout: ``b"SC1" | len(key_id) (1 byte) | key_id (ASCII) | nonce (12) |
    ciphertext + tag (16)``. The header is authenticated (it is the first part of the
    GCM associated data), followed by the caller's optional ``aad``: pass a context such
    as ``b"measurements/<person_id>"`` and a blob copied to another table or person fails
    to decrypt. Without ``aad`` it fits the record store's ``Codec`` protocol as is.

    Random nonces: safe for far more blobs than a household writes (2**32 per key).
    """

    def __init__(self, keyring: Keyring) -> None:
        """Encrypt with ``keyring``'s current key; decrypt with whichever key a blob names."""
        self._keyring = keyring

    @property
    def keyring(self) -> Keyring:
        """The keyring in use."""
        return self._keyring

    def encode(self, text: str, aad: bytes = b"") -> bytes:
        """Encrypt ``text`` (UTF-8) under the current key."""
        return self.encode_bytes(text.encode(), aad)

    def encode_bytes(self, data: bytes, aad: bytes = b"") -> bytes:
        """Encrypt raw bytes (the record's compact payloads) under the current key."""
        key_id, key = self._keyring.current()
        header = MAGIC + bytes([len(key_id)]) + key_id.encode("ascii")
        nonce = token_bytes(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, bytes(data), header + bytes(aad))
        return header + nonce + sealed

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        """The key id a blob was encrypted under (unauthenticated: a routing hint)."""
        return EncryptionCodec._parse(bytes(blob))[0]

    @staticmethod
    def _parse(blob: bytes) -> tuple[str, bytes, bytes, bytes]:
        if not blob.startswith(MAGIC):
            # Plaintext rows are refused, never passed through: accepting them would let
            # anyone with write access to the database inject unauthenticated records.
            raise DecryptError(DecryptReason.NOT_ENCRYPTED)
        if len(blob) < len(MAGIC) + 1:
            raise DecryptError(DecryptReason.MALFORMED)
        id_len = blob[len(MAGIC)]
        id_end = len(MAGIC) + 1 + id_len
        raw_id = blob[len(MAGIC) + 1 : id_end]
        key_id = raw_id.decode("ascii", errors="replace")
        if len(raw_id) != id_len or not _KEY_ID_RE.fullmatch(key_id):
            raise DecryptError(DecryptReason.MALFORMED)
        if len(blob) < id_end + NONCE_BYTES + TAG_BYTES:
            raise DecryptError(DecryptReason.MALFORMED, key_id)
        header = blob[:id_end]
        nonce = blob[id_end : id_end + NONCE_BYTES]
        return key_id, header, nonce, blob[id_end + NONCE_BYTES :]

    def decode(self, blob: bytes, aad: bytes = b"") -> str:
        """Decrypt a blob from ``encode``; raise ``DecryptError`` unless it is authentic."""
        # Authentic bytes came from encode(), which only ever stores UTF-8.
        return self.decode_bytes(blob, aad).decode()

    def decode_bytes(self, blob: bytes, aad: bytes = b"") -> bytes:
        """Decrypt a blob to its raw bytes; raise ``DecryptError`` unless it is authentic."""
        key_id, header, nonce, sealed = self._parse(bytes(blob))
        key = self._keyring.get(key_id)
        if key is None:
            raise DecryptError(DecryptReason.UNKNOWN_KEY, key_id)
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, header + bytes(aad))
        except InvalidTag:
            raise DecryptError(DecryptReason.AUTHENTICATION_FAILED, key_id) from None
        return plain

    def needs_reencrypt(self, blob: bytes) -> bool:
        """Whether a blob is under a key other than the current one."""
        return self.key_id_of(blob) != self._keyring.current_id

    def reencrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        """Decrypt with the blob's key and encrypt again under the current key."""
        return self.encode_bytes(self.decode_bytes(blob, aad), aad)


# --- Redaction -----------------------------------------------------------------------------

REDACTED: Final = "**REDACTED**"


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each sensitive string (case-insensitive) with REDACTED.

    Overlapping and adjacent occurrences are merged into one replacement, so no part of
    any secret survives (a left-to-right regex would leave the tail of an overlap).
    Only literal occurrences are found: pass encoded variants (URL, JSON) if relevant.
    """
    needles = {s for s in secrets if s}
    if not needles or not text:
        return text
    spans: list[tuple[int, int]] = []
    for needle in needles:
        # A lookahead finds overlapping occurrences; the group gives the matched length.
        pattern = re.compile(f"(?=({re.escape(needle)}))", re.IGNORECASE)
        spans.extend((m.start(1), m.end(1)) for m in pattern.finditer(text))
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    cursor = 0
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:
            end = max(end, next_end)
            continue
        parts += [text[cursor:start], REDACTED]
        cursor = end
        start, end = next_start, next_end
    parts += [text[cursor:start], REDACTED, text[end:]]
    return "".join(parts)
