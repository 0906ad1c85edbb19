"""Security core: signing (with openssl/curl interop), replay, TOTP, pseudonyms, encryption."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
from pathlib import Path
import re
import shutil
import stat
import subprocess
import threading
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pyotp
import pytest

from custom_components.smart_care.core.security import (
    REDACTED,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AuthError,
    AuthReason,
    DecryptError,
    DecryptReason,
    EncryptionCodec,
    KeyFileError,
    Keyring,
    RequestVerifier,
    TotpVerifier,
    new_pseudonym_key,
    new_secret,
    new_totp_secret,
    provisioning_uri,
    pseudonym,
    redact_text,
    reidentify,
    sign,
    signed_headers,
    signing_string,
)
from custom_components.smart_care.core.store.record_store import RecordStore

NOW = 1_700_000_000
SECRET = "3f1c9a0d5e7b2468ace013579bdf2468ace013579bdf02468ace13579bdf0246"
BODY = b'{"type":"advice","text":"Drink water; re-measure BP tomorrow 08:00"}'
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
BASH = shutil.which("bash")

# Fuzz volumes (reported to the lead): keep in sync with the settings below.
FUZZ_ARBITRARY = 3000
FUZZ_NEAR_VALID = 1500
FUZZ_TAMPER = 400
FUZZ_SEEN = {"arbitrary": 0, "near_valid": 0, "tamper": 0}  # inputs actually run


class Clock:
    """A settable clock."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def verifier(**kwargs: Any) -> tuple[RequestVerifier, Clock]:
    clock = Clock()
    return RequestVerifier(SECRET, clock=clock, **kwargs), clock


def reason_of(exc: pytest.ExceptionInfo[AuthError]) -> str:
    return exc.value.reason.value


# --- signing -------------------------------------------------------------------------------


def test_canonical_string_and_known_vector() -> None:
    assert signing_string(NOW, b"{}") == b"1700000000.{}"
    # Regression vector (computed with `printf '%s.%s' 1700000000 '{"a":1}' |
    # openssl dgst -sha256 -hmac abc`): pins the documented format forever.
    assert sign("abc", NOW, b'{"a":1}') == (
        "fb71abe59ec0c6311de6d3d1b21482ac86ef3b5fa5d03530df0a4d8cf6f735a6"
    )
    assert sign(b"abc", NOW, b'{"a":1}') == sign("abc", NOW, b'{"a":1}')


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_sign_refuses_timestamps_the_verifier_cannot_parse(bad: Any) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        sign(SECRET, bad, BODY)


def test_new_secret_is_hex_text() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for value in secrets:
        assert len(value) == 64
        assert set(value) <= set("0123456789abcdef")


def test_round_trip_and_headers() -> None:
    v, _ = verifier()
    headers = signed_headers(SECRET, BODY, timestamp=NOW)
    assert headers == {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: sign(SECRET, NOW, BODY)}
    v.verify(headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], BODY)


def test_signed_headers_default_to_now() -> None:
    headers = signed_headers(SECRET, BODY)
    RequestVerifier(SECRET).verify(headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], BODY)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamp_inside_window_accepted(offset: int) -> None:
    v, _ = verifier()
    ts = NOW + offset
    v.verify(str(ts), sign(SECRET, ts, BODY), BODY)


@pytest.mark.parametrize("offset", [-301, 301, -100_000, 100_000])
def test_timestamp_outside_window_expired(offset: int) -> None:
    v, _ = verifier()
    ts = NOW + offset
    with pytest.raises(AuthError) as exc:
        v.verify(str(ts), sign(SECRET, ts, BODY), BODY)
    assert reason_of(exc) == "expired"


def test_custom_window() -> None:
    v, _ = verifier(window=10)
    v.verify(str(NOW - 10), sign(SECRET, NOW - 10, BODY), BODY)
    with pytest.raises(AuthError, match="expired"):
        v.verify(str(NOW - 11), sign(SECRET, NOW - 11, BODY), BODY)


@pytest.mark.parametrize("signature", [None, "", "   "])
def test_missing_signature(signature: str | None) -> None:
    v, _ = verifier()
    with pytest.raises(AuthError) as exc:
        v.verify(str(NOW), signature, BODY)
    assert reason_of(exc) == "missing_signature"


@pytest.mark.parametrize(
    "timestamp",
    [None, "", " ", "abc", "-5", "+1700000000", "1700000000.5", "1_700_000_000", "1e9",
     "١٧٠٠٠٠٠٠٠٠", "１７００００００００", "0x6553f100", "1" * 13],
)  # fmt: skip
def test_malformed_timestamp(timestamp: str | None) -> None:
    v, _ = verifier()
    with pytest.raises(AuthError) as exc:
        v.verify(timestamp, sign(SECRET, NOW, BODY), BODY)
    assert reason_of(exc) == "malformed_timestamp"


def test_whitespace_around_headers_is_tolerated() -> None:
    v, _ = verifier()
    v.verify(f" {NOW} ", f" {sign(SECRET, NOW, BODY)}\t", BODY)


@pytest.mark.parametrize(
    ("ts", "signature", "body"),
    [
        (NOW, sign("another-secret", NOW, BODY), BODY),  # wrong secret
        (NOW, sign(SECRET, NOW, BODY), BODY + b" "),  # body changed
        (NOW, sign(SECRET, NOW - 1, BODY), BODY),  # timestamp changed
        (NOW, sign(SECRET, NOW, BODY)[:-1], BODY),  # truncated
        (NOW, sign(SECRET, NOW, BODY) + "0", BODY),  # too long
        (NOW, "z" * 64, BODY),  # not hex
        (NOW, "sha256=" + sign(SECRET, NOW, BODY), BODY),  # prefixes are not a format
        (NOW, "é" * 64, BODY),  # non-ASCII must not crash compare_digest
    ],
)
def test_bad_signature(ts: int, signature: str, body: bytes) -> None:
    v, _ = verifier()
    with pytest.raises(AuthError) as exc:
        v.verify(str(ts), signature, body)
    assert reason_of(exc) == "bad_signature"


def test_uppercase_hex_accepted_and_counts_as_same_signature() -> None:
    v, _ = verifier()
    signature = sign(SECRET, NOW, BODY)
    v.verify(str(NOW), signature.upper(), BODY)
    with pytest.raises(AuthError, match="replayed"):
        v.verify(str(NOW), signature, BODY)


def test_replay_rejected_within_window() -> None:
    v, clock = verifier()
    signature = sign(SECRET, NOW, BODY)
    v.verify(str(NOW), signature, BODY)
    for delta in (0, 1, 299, 300):
        clock.now = NOW + delta
        with pytest.raises(AuthError) as exc:
            v.verify(str(NOW), signature, BODY)
        assert reason_of(exc) == "replayed"
    # Once the timestamp has left the window, the window refuses it (the entry is gone).
    clock.now = NOW + 301
    with pytest.raises(AuthError, match="expired"):
        v.verify(str(NOW), signature, BODY)


def test_failed_requests_do_not_enter_replay_cache() -> None:
    v, _ = verifier()
    with pytest.raises(AuthError):
        v.verify(str(NOW), "0" * 64, BODY)
    assert v.replay_cache_len == 0
    v.verify(str(NOW), sign(SECRET, NOW, BODY), BODY)
    assert v.replay_cache_len == 1


def test_replay_cache_evicts_entries_older_than_window() -> None:
    v, clock = verifier()
    for i in range(5):
        body = f"{i}".encode()
        v.verify(str(NOW), sign(SECRET, NOW, body), body)
    assert v.replay_cache_len == 5
    clock.now = NOW + 300  # boundary: entries still needed (still inside the window)
    v.verify(str(NOW + 300), sign(SECRET, NOW + 300, b"x"), b"x")
    assert v.replay_cache_len == 6
    clock.now = NOW + 301
    v.verify(str(NOW + 301), sign(SECRET, NOW + 301, b"y"), b"y")
    assert v.replay_cache_len == 2  # the five at NOW are gone


def test_replay_cache_is_bounded_and_drops_soonest_expiry() -> None:
    v, clock = verifier(replay_cache_size=3)
    # Timestamps out of arrival order: the entry closest to expiry is NOW - 200.
    stamps = [NOW + 100, NOW - 200, NOW + 50]
    for ts in stamps:
        v.verify(str(ts), sign(SECRET, ts, BODY), BODY)
    assert v.replay_cache_len == 3
    v.verify(str(NOW), sign(SECRET, NOW, BODY), BODY)
    assert v.replay_cache_len == 3
    # The three kept are refused as replays (refusals add nothing to the cache)...
    for ts in (NOW + 100, NOW + 50, NOW):
        with pytest.raises(AuthError, match="replayed"):
            v.verify(str(ts), sign(SECRET, ts, BODY), BODY)
    # ...and the dropped one (NOW - 200) is the price of bounded memory.
    v.verify(str(NOW - 200), sign(SECRET, NOW - 200, BODY), BODY)
    for i in range(1000):
        body = f"burst {i}".encode()
        v.verify(str(NOW), sign(SECRET, NOW, body), body)
    assert v.replay_cache_len == 3
    assert len(v._expiry) == 3  # heap and dict stay in step


@pytest.mark.parametrize(
    "kwargs", [{"secret": ""}, {"window": 0}, {"replay_cache_size": 0}]
)  # fmt: skip
def test_verifier_refuses_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        RequestVerifier(**{"secret": SECRET, **kwargs})


_header_text = st.one_of(st.none(), st.text(), st.text(alphabet="0123456789abcdefABCDEF "))


@settings(max_examples=FUZZ_ARBITRARY, deadline=None)
@given(timestamp=_header_text, signature=_header_text, body=st.binary())
def test_fuzz_verify_arbitrary_input_only_raises_auth_error(
    timestamp: str | None, signature: str | None, body: bytes
) -> None:
    v = RequestVerifier(SECRET, clock=lambda: NOW)
    # Anything but AuthError propagates and fails the test; acceptance would be a forgery.
    with pytest.raises(AuthError) as exc:
        v.verify(timestamp, signature, body)
    assert isinstance(exc.value.reason, AuthReason)
    FUZZ_SEEN["arbitrary"] += 1


@settings(max_examples=FUZZ_NEAR_VALID, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    offset=st.integers(-1000, 1000),
    body=st.binary(max_size=256),
    mutate=st.sampled_from(["none", "body", "sig", "ts", "case"]),
    data=st.data(),
)
def test_fuzz_verify_near_valid_requests(
    offset: int, body: bytes, mutate: str, data: st.DataObject
) -> None:
    ts = NOW + offset
    signature = sign(SECRET, ts, body)
    ts_text = str(ts)
    if mutate == "body":
        body = body + data.draw(st.binary(min_size=1, max_size=4))
    elif mutate == "sig":
        i = data.draw(st.integers(0, 63))
        signature = signature[:i] + ("0" if signature[i] != "0" else "1") + signature[i + 1 :]
    elif mutate == "ts":
        ts_text = str(ts + data.draw(st.integers(1, 5)))
    elif mutate == "case":
        signature = signature.upper()
    v = RequestVerifier(SECRET, clock=lambda: NOW)
    FUZZ_SEEN["near_valid"] += 1
    # The window is checked on the timestamp as sent (a shifted one may enter or leave it)
    # before the HMAC.
    if abs(int(ts_text) - NOW) > 300:
        expected: str | None = "expired"
    elif mutate in ("body", "sig", "ts"):
        expected = "bad_signature"
    else:
        expected = None
    if expected is None:
        v.verify(ts_text, signature, body)
        with pytest.raises(AuthError, match="replayed"):
            v.verify(ts_text, signature, body)
    else:
        with pytest.raises(AuthError) as exc:
            v.verify(ts_text, signature, body)
        assert reason_of(exc) == expected


# --- openssl / curl interop (what docs/clinic.md tells clinics to run) --------------------


# The documented recipe for any body (binary-safe): timestamp, ".", then the body file.
OPENSSL_FILE_RECIPE = (
    """{ printf '%s.' "$TS"; cat "$BODY_FILE"; } | openssl dgst -sha256 -hmac "$SECRET" """
)


def _openssl_hmac(secret: str, timestamp: int, body_file: Path) -> str:
    assert BASH is not None
    out = subprocess.run(
        [BASH, "-c", OPENSSL_FILE_RECIPE],
        env={"PATH": os.environ["PATH"], "TS": str(timestamp), "SECRET": secret,
             "BODY_FILE": str(body_file)},
        capture_output=True, check=True, text=True, timeout=10,
    ).stdout  # fmt: skip
    # OpenSSL 3 prints "SHA2-256(stdin)= <hex>", 1.1 "(stdin)= <hex>".
    return out.strip().rsplit("= ", 1)[1]


@pytest.mark.skipif(OPENSSL is None or BASH is None, reason="openssl or bash not installed")
@pytest.mark.parametrize(
    "body",
    [BODY, b"", b"line1\nline2\n", "血压 138/86 mmHg".encode(), b"\x00\xff binary %s %d",
     json.dumps({"q": "'\"$(rm -rf /)`"}).encode()],
)  # fmt: skip
def test_openssl_reproduces_signature(body: bytes, tmp_path: Path) -> None:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body)
    for secret in (SECRET, new_secret()):
        assert _openssl_hmac(secret, NOW, body_file) == sign(secret, NOW, body)


@pytest.mark.skipif(OPENSSL is None or BASH is None, reason="openssl or bash not installed")
def test_openssl_printf_one_liner_for_text_bodies() -> None:
    assert BASH is not None
    body = '{"a":1}'
    out = subprocess.run(
        [BASH, "-c", """printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" """],
        env={"PATH": os.environ["PATH"], "TS": str(NOW), "BODY": body, "SECRET": SECRET},
        capture_output=True, check=True, text=True, timeout=10,
    ).stdout  # fmt: skip
    assert out.strip().rsplit("= ", 1)[1] == sign(SECRET, NOW, body.encode())


# The clinic's copy-paste example, verbatim apart from the variables set by the test.
CLINIC_CURL_EXAMPLE = r"""
set -eu
TS=$(date +%s)
SIG=$( { printf '%s.' "$TS"; cat body.json; } \
      | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //')
curl -sS -X POST "$URL" \
  -H 'Content-Type: application/json' \
  -H "X-SmartCare-Timestamp: $TS" \
  -H "X-SmartCare-Signature: $SIG" \
  --data-binary @body.json
"""


@pytest.fixture
def verifying_server(socket_enabled: None) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server answering 204 for verified requests, 401 + reason otherwise.

    The HA test plugin blocks sockets; this one listens on 127.0.0.1 only.
    """
    outcomes: list[str] = []
    verifier_ = RequestVerifier(SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                verifier_.verify(
                    self.headers.get(TIMESTAMP_HEADER), self.headers.get(SIGNATURE_HEADER), body
                )
            except AuthError as err:
                outcomes.append(err.reason.value)
                self.send_response(401)
                self.end_headers()
                self.wfile.write(err.reason.value.encode())
                return
            outcomes.append("ok:" + body.decode())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/webhook/test", outcomes
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.skipif(
    OPENSSL is None or CURL is None or BASH is None, reason="openssl, curl or bash missing"
)
def test_clinic_curl_example_is_accepted_once(
    verifying_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    assert BASH is not None
    url, outcomes = verifying_server
    # A multi-line body with UTF-8: --data-binary keeps it byte-exact (-d would strip newlines).
    (tmp_path / "body.json").write_text('{\n  "advice": "复查血压 / re-check BP"\n}\n')
    env = {"PATH": os.environ["PATH"], "SECRET": SECRET, "URL": url}
    for _ in range(2):
        subprocess.run(
            [BASH, "-c", CLINIC_CURL_EXAMPLE], env=env, cwd=tmp_path, check=True, timeout=15
        )
    assert outcomes[0] == 'ok:{\n  "advice": "复查血压 / re-check BP"\n}\n'
    # A second run in the same second signs the same bytes: a replay. Otherwise it is new.
    assert outcomes[1] in ("replayed", outcomes[0])


# --- TOTP ------------------------------------------------------------------------------------

# RFC 6238 appendix B: ASCII "12345678901234567890", SHA-1; 6-digit codes are the low digits.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_VECTORS = [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"),
               (2000000000, "279037")]  # fmt: skip


@pytest.mark.parametrize(("at", "code"), RFC_VECTORS)
def test_totp_rfc6238_vectors(at: int, code: str) -> None:
    TotpVerifier(RFC_SECRET, clock=Clock(at)).verify(code)


def _code(secret: str, at: float) -> str:
    # pyotp's own generator as the independent reference (TZ here is UTC).
    return pyotp.TOTP(secret).at(int(at))


def test_totp_accepts_one_step_either_side_only() -> None:
    secret = new_totp_secret()
    for delta in (-30, 0, 30):
        TotpVerifier(secret, clock=Clock(NOW)).verify(_code(secret, NOW + delta))
    for delta in (-60, 60, 3600):
        code = _code(secret, NOW + delta)
        if code in {_code(secret, NOW + d) for d in (-30, 0, 30)}:
            continue  # 1-in-a-million collision of 6-digit codes
        with pytest.raises(AuthError) as exc:
            TotpVerifier(secret, clock=Clock(NOW)).verify(code)
        assert reason_of(exc) == "bad_totp"


def test_totp_wrong_code() -> None:
    secret = RFC_SECRET
    good = _code(secret, 59)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthError, match="bad_totp"):
        TotpVerifier(secret, clock=Clock(59)).verify(wrong)


@pytest.mark.parametrize("code", [None, "", "   "])
def test_totp_missing(code: str | None) -> None:
    with pytest.raises(AuthError) as exc:
        TotpVerifier(RFC_SECRET, clock=Clock(59)).verify(code)
    assert reason_of(exc) == "missing_totp"


@pytest.mark.parametrize(
    "code",
    ["28708", "2870820", "28708a", "287 082", "-87082", "２８７０８２", "٢٨٧٠٨٢", "287082\n1"],
)
def test_totp_rejects_non_six_digit_codes(code: str) -> None:
    with pytest.raises(AuthError) as exc:
        TotpVerifier(RFC_SECRET, clock=Clock(59)).verify(code)
    assert reason_of(exc) == "bad_totp"


def test_totp_replay_and_older_code_refused() -> None:
    secret = new_totp_secret()
    clock = Clock(NOW)
    v = TotpVerifier(secret, clock=clock)
    current, previous = _code(secret, NOW), _code(secret, NOW - 30)
    v.verify(current)
    with pytest.raises(AuthError) as exc:
        v.verify(current)
    assert reason_of(exc) == "totp_replayed"
    if previous != current:
        # RFC 6238 §5.2: after a newer code, an older still-valid one is no longer usable.
        with pytest.raises(AuthError, match="totp_replayed"):
            v.verify(previous)
    clock.now = NOW + 30
    upcoming = _code(secret, NOW + 30)
    if upcoming != current:
        v.verify(upcoming)
        assert v.last_step == (NOW + 30) // 30


def test_totp_last_step_survives_restart() -> None:
    secret = new_totp_secret()
    first = TotpVerifier(secret, clock=Clock(NOW))
    code = _code(secret, NOW)
    first.verify(code)
    restarted = TotpVerifier(secret, clock=Clock(NOW + 5), last_step=first.last_step)
    with pytest.raises(AuthError, match="totp_replayed"):
        restarted.verify(code)


def test_totp_secret_and_uri() -> None:
    secret = new_totp_secret()
    assert len(secret) == 32
    uri = provisioning_uri(secret, "clinic-42")
    assert uri.startswith("otpauth://totp/Smart%20Care:clinic-42?")
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == secret
    assert parsed.issuer == "Smart Care"
    assert parsed.digits == 6
    assert parsed.interval == 30
    assert "issuer=Community%20Clinic" in provisioning_uri(secret, "a", issuer="Community Clinic")


@pytest.mark.parametrize("secret", ["", "not base32!", "GEZDGNBV"])  # last: only 40 bits
def test_totp_refuses_bad_secrets(secret: str) -> None:
    with pytest.raises(ValueError, match="TOTP secret"):
        TotpVerifier(secret)


# --- pseudonyms ------------------------------------------------------------------------------


def test_pseudonym_stable_keyed_and_per_link() -> None:
    key = new_pseudonym_key()
    p = pseudonym(key, "person-1", "clinic-a")
    assert p == pseudonym(key, "person-1", "clinic-a")
    assert p.startswith("sc-")
    assert len(p) == 3 + 26
    assert set(p[3:]) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert p != pseudonym(key, "person-1", "clinic-b")
    assert p != pseudonym(key, "person-2", "clinic-a")
    assert p != pseudonym(new_pseudonym_key(), "person-1", "clinic-a")
    assert "person-1" not in p


def test_pseudonym_fields_cannot_shift() -> None:
    key = new_pseudonym_key()
    assert pseudonym(key, "c", "ab") != pseudonym(key, "bc", "a")


def test_pseudonym_known_vector() -> None:
    # Pins the derivation (HMAC-SHA256 over b"smart-care/pseudonym/v1\0" + u32 len + link
    # + u32 len + person, base32, 26 chars, checked by hand with hmac/base64): changing it
    # would orphan every pseudonym a clinic holds.
    assert pseudonym(b"k" * 32, "person-1", "clinic-a") == "sc-lana6yddakbqbphxlgbst42psy"


def test_pseudonym_refuses_short_key() -> None:
    with pytest.raises(ValueError, match="at least 128 bits"):
        pseudonym(b"short", "p", "l")


def test_reidentify() -> None:
    key = new_pseudonym_key()
    people = [f"person-{i}" for i in range(20)]
    p = pseudonym(key, "person-7", "clinic-a")
    assert reidentify(key, "clinic-a", p, people) == "person-7"
    assert reidentify(key, "clinic-a", p, iter(people)) == "person-7"
    assert reidentify(key, "clinic-b", p, people) is None
    assert reidentify(new_pseudonym_key(), "clinic-a", p, people) is None
    assert reidentify(key, "clinic-a", "sc-ünïcode", people) is None


@settings(max_examples=200, deadline=None)
@given(a=st.text(), b=st.text(), link=st.text())
def test_pseudonym_distinct_people_distinct_pseudonyms(a: str, b: str, link: str) -> None:
    key = b"\x01" * 32
    assert (pseudonym(key, a, link) == pseudonym(key, b, link)) == (a == b)


# --- encryption at rest ----------------------------------------------------------------------


@pytest.fixture
def codec() -> EncryptionCodec:
    return EncryptionCodec(Keyring.generate())


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_encrypt_round_trip(text: str) -> None:
    c = EncryptionCodec(Keyring({"k1": b"\x07" * 32}, "k1"))
    blob = c.encode(text)
    assert blob.startswith(b"SC1\x02k1")
    assert c.decode(blob) == text
    assert c.decode(memoryview(blob)) == text  # sqlite may hand these


def test_encrypt_nonces_are_random(codec: EncryptionCodec) -> None:
    blobs = {codec.encode("same") for _ in range(100)}
    assert len(blobs) == 100
    assert all(b"same" not in blob for blob in blobs)


@settings(max_examples=FUZZ_TAMPER, deadline=None)
@given(text=st.text(max_size=64), data=st.data())
def test_tamper_any_byte_fails(text: str, data: st.DataObject) -> None:
    keyring = Keyring({"k1": b"\x01" * 32, "k2": b"\x02" * 32}, "k1")
    c = EncryptionCodec(keyring)
    blob = bytearray(c.encode(text))
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= data.draw(st.integers(1, 255))
    FUZZ_SEEN["tamper"] += 1
    with pytest.raises(DecryptError):
        c.decode(bytes(blob))


@pytest.mark.parametrize("cut", [0, 1, 3, 4, 6, 10, 18, 30])
def test_truncated_blob_fails(codec: EncryptionCodec, cut: int) -> None:
    blob = codec.encode("{}")
    with pytest.raises(DecryptError):
        codec.decode(blob[:cut])


def test_plaintext_is_refused_not_passed_through(codec: EncryptionCodec) -> None:
    with pytest.raises(DecryptError) as exc:
        codec.decode(b'{"systolic": 120}')
    assert exc.value.reason is DecryptReason.NOT_ENCRYPTED


def test_unknown_key_id() -> None:
    blob = EncryptionCodec(Keyring({"old": b"\x01" * 32}, "old")).encode("x")
    with pytest.raises(DecryptError) as exc:
        EncryptionCodec(Keyring({"new": b"\x01" * 32}, "new")).decode(blob)
    assert exc.value.reason is DecryptReason.UNKNOWN_KEY
    assert exc.value.key_id == "old"


def test_wrong_key_same_id_fails_authentication() -> None:
    blob = EncryptionCodec(Keyring({"k": b"\x01" * 32}, "k")).encode("x")
    with pytest.raises(DecryptError) as exc:
        EncryptionCodec(Keyring({"k": b"\x02" * 32}, "k")).decode(blob)
    assert exc.value.reason is DecryptReason.AUTHENTICATION_FAILED
    assert "x" not in str(exc.value)


def test_aad_binds_blob_to_its_context(codec: EncryptionCodec) -> None:
    blob = codec.encode('{"note": "private"}', aad=b"measurements/person-1")
    assert codec.decode(blob, aad=b"measurements/person-1") == '{"note": "private"}'
    for other in (b"measurements/person-2", b"profiles/person-1", b""):
        with pytest.raises(DecryptError, match="authentication_failed"):
            codec.decode(blob, aad=other)
    plain = codec.encode("x")
    with pytest.raises(DecryptError):
        codec.decode(plain, aad=b"measurements/person-1")


def test_rotation_old_blobs_decrypt_new_use_new_key(codec: EncryptionCodec) -> None:
    keyring = codec.keyring
    first = keyring.current_id
    old_blob = codec.encode("old")
    second = keyring.rotate()
    assert second != first
    assert keyring.key_ids == {first, second}
    new_blob = codec.encode("new")
    assert EncryptionCodec.key_id_of(old_blob) == first
    assert EncryptionCodec.key_id_of(new_blob) == second
    assert codec.decode(old_blob) == "old"
    assert codec.decode(new_blob) == "new"
    assert codec.needs_reencrypt(old_blob)
    assert not codec.needs_reencrypt(new_blob)
    moved = codec.reencrypt(old_blob)
    assert EncryptionCodec.key_id_of(moved) == second
    keyring.retire(first)
    assert codec.decode(moved) == "old"
    with pytest.raises(DecryptError, match="unknown_key"):
        codec.decode(old_blob)
    with pytest.raises(ValueError, match="current key"):
        keyring.retire(second)
    with pytest.raises(KeyError):
        keyring.retire("nope")


def test_reencrypt_keeps_aad(codec: EncryptionCodec) -> None:
    blob = codec.encode("x", aad=b"t")
    codec.keyring.rotate()
    moved = codec.reencrypt(blob, aad=b"t")
    assert codec.decode(moved, aad=b"t") == "x"
    with pytest.raises(DecryptError):
        codec.reencrypt(blob, aad=b"other")


@pytest.mark.parametrize(
    ("keys", "current"),
    [({"k": b"\x01" * 16}, "k"), ({"bad id": b"\x01" * 32}, "bad id"),
     ({"k": b"\x01" * 32}, "missing"), ({"x" * 33: b"\x01" * 32}, "x" * 33)],
)  # fmt: skip
def test_keyring_validates_keys(keys: dict[str, bytes], current: str) -> None:
    with pytest.raises(ValueError, match="key"):
        Keyring(keys, current)


def test_codec_in_record_store_keeps_disk_free_of_plaintext(tmp_path: Path) -> None:
    keyring = Keyring.create(tmp_path / "keys.json")
    store = RecordStore(tmp_path / "records.db", codec=EncryptionCodec(keyring))
    try:
        store.put_profile("p1", {"id_number": "SENT1NEL-4711-ID"})
        store.append(
            "p1", "systolic", 120.0, "mmHg", datetime(2025, 1, 1, tzinfo=UTC), "test",
            details={"note": "sentinel-condition-xyzzy"},
        )  # fmt: skip
        assert store.get_profile("p1") == {"id_number": "SENT1NEL-4711-ID"}
        assert store.history("p1")[0].details == {"note": "sentinel-condition-xyzzy"}
    finally:
        store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("records.db*"))
    assert b"SENT1NEL" not in raw
    assert b"sentinel-condition" not in raw
    # Reopened with the key file from disk, the data reads back.
    reloaded = Keyring.load(tmp_path / "keys.json")
    store = RecordStore(tmp_path / "records.db", codec=EncryptionCodec(reloaded))
    try:
        assert store.get_profile("p1") == {"id_number": "SENT1NEL-4711-ID"}
    finally:
        store.close()


# --- key file --------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_created_0600_even_with_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        keyring = Keyring.create(tmp_path / "sub" / "keys.json")
    finally:
        os.umask(old)
    path = tmp_path / "sub" / "keys.json"
    assert _mode(path) == 0o600
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert doc["current"] == keyring.current_id
    assert set(doc["keys"]) == {keyring.current_id}
    loaded = Keyring.load(path)
    assert loaded.current() == keyring.current()
    assert loaded.path == path
    assert not loaded.permissions_repaired
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]  # no temp left


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    Keyring.create(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        Keyring.create(path)
    assert path.read_bytes() == before
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        Keyring.create(dangling)
    assert not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.json", "keys.json"]


def test_rotate_persists_before_use(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keyring = Keyring.create(path)
    first = keyring.current_id
    second = keyring.rotate()
    reloaded = Keyring.load(path)
    assert reloaded.current_id == second
    assert reloaded.key_ids == {first, second}
    assert _mode(path) == 0o600
    keyring.retire(first)
    assert Keyring.load(path).key_ids == {second}


def test_failed_write_leaves_old_file_and_memory_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    keyring = Keyring.create(path)
    before = path.read_bytes()
    current = keyring.current_id

    def crash(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        keyring.rotate()
    monkeypatch.undo()
    # Atomic: the file is the old one, no half-written temp, and the key did not change.
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]
    assert keyring.current_id == current
    assert keyring.key_ids == {current}


def test_write_fsyncs_before_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        calls.append("replace")
        real_replace(src, dst)

    keyring = Keyring.generate()
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    keyring.save(tmp_path / "keys.json")
    assert calls == ["fsync", "replace", "fsync"]  # file, rename, directory


def test_loose_permissions_repaired_and_flagged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keys.json"
    keyring = Keyring.create(path)
    os.chmod(path, 0o644)  # e.g. after a backup restore
    loaded = Keyring.load(path)
    assert loaded.permissions_repaired
    assert loaded.current() == keyring.current()
    assert _mode(path) == 0o600
    assert "644" in caplog.text
    assert base64_of(keyring) not in caplog.text
    assert not Keyring.load(path).permissions_repaired


def base64_of(keyring: Keyring) -> str:
    return base64.b64encode(keyring.current()[1]).decode()


def test_load_refuses_symlink_and_non_regular(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    Keyring.create(real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(KeyFileError):
        Keyring.load(link)
    with pytest.raises(KeyFileError):
        Keyring.load(tmp_path)  # a directory
    with pytest.raises(FileNotFoundError):
        Keyring.load(tmp_path / "absent.json")


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"version": 2, "current": "a", "keys": {}}',
     b'{"version": 1, "keys": {}}', b'{"version": 1, "current": "a", "keys": {}}',
     b'{"version": 1, "current": "a", "keys": {"a": "!!!"}}',
     b'{"version": 1, "current": "a", "keys": {"a": "AAAA"}}',
     b'{"version": 1, "current": 1, "keys": {"a": "AAAA"}}',
     b'{"version": 1, "current": "a", "keys": ["a"]}'],
)  # fmt: skip
def test_malformed_key_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "keys.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(KeyFileError):
        Keyring.load(path)


def test_save_without_path_refused() -> None:
    with pytest.raises(ValueError, match="no key file path"):
        Keyring.generate().save()


# --- redaction -------------------------------------------------------------------------------


def test_redact_case_insensitive_and_all_occurrences() -> None:
    text = "Failed for Zhang Wei (zhang wei) with key ABC123 / abc123"
    assert redact_text(text, ["Zhang Wei", "abc123"]) == (
        f"Failed for {REDACTED} ({REDACTED}) with key {REDACTED} / {REDACTED}"
    )


def test_redact_overlapping_secrets_leave_nothing() -> None:
    assert redact_text("xabcdefy", ["xab", "abcdef"]) == f"{REDACTED}y"
    assert redact_text("aaaa", ["aa"]) == REDACTED
    assert redact_text("ab cd", ["ab", "cd"]) == f"{REDACTED} {REDACTED}"


def test_redact_literal_and_edge_cases() -> None:
    assert redact_text("a.b a+b", ["a+b"]) == f"a.b {REDACTED}"
    assert redact_text("nothing here", []) == "nothing here"
    assert redact_text("nothing here", ["", "absent"]) == "nothing here"
    assert redact_text("", ["x"]) == ""
    # The replacement is not re-scanned.
    assert redact_text("red", ["red", "REDACTED"]) == REDACTED


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(), secret=st.text(min_size=1), suffix=st.text())
def test_redact_never_leaves_the_secret(prefix: str, secret: str, suffix: str) -> None:
    out = redact_text(prefix + secret + suffix, [secret])
    assert REDACTED in out
    # Whatever text survives between replacements holds no occurrence, in any case.
    for piece in out.split(REDACTED):
        assert re.search(re.escape(secret), piece, re.IGNORECASE) is None
