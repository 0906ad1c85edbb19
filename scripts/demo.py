"""Start a real Home Assistant with Smart Care from this working tree, ready to use.

Run through ``scripts/run`` (which prepares .venv). First run: creates .demo/config,
onboards an owner account with a generated password, sets up the household and a person
through HA's own REST config flows, and prints the URL, login and a long-lived token.
Later runs reuse the same configuration. Ctrl-C stops Home Assistant cleanly.

``--check`` (or SMART_CARE_CHECK=1) starts, sets up, prints, then stops instead of staying in
the foreground. SMART_CARE_PORT changes the port (8123; "auto" picks a free one) and
SMART_CARE_DEMO_DIR the folder (.demo).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("SMART_CARE_DEMO_DIR", ROOT / ".demo"))
CONFIG = DEMO / "config"
CREDENTIALS = DEMO / "credentials.json"
CLIENT_ID = "http://127.0.0.1/"
USERNAME = "owner"

CONFIGURATION_YAML = """\
# Written by scripts/run. Everything binds to 127.0.0.1.
homeassistant:
  name: Smart Care demo
  country: CN
  time_zone: Asia/Shanghai
  unit_system: metric
  currency: CNY
  latitude: 31.2304
  longitude: 121.4737
  elevation: 4
http:
  server_host: 127.0.0.1
  server_port: {port}
frontend:
config:
api:
onboarding:
person:
history:
logbook:
recorder:
  purge_keep_days: 30
logger:
  default: warning
  logs:
    custom_components.smart_care: info
"""


def log(message: str) -> None:
    """Print a progress line."""
    print(f">> {message}", flush=True)


def prepare_config(port: int) -> None:
    """Write the configuration and link the integration from the working tree."""
    CONFIG.mkdir(parents=True, exist_ok=True)
    os.chmod(DEMO, 0o700)
    (CONFIG / "configuration.yaml").write_text(CONFIGURATION_YAML.format(port=port))
    custom = CONFIG / "custom_components"
    custom.mkdir(exist_ok=True)
    link = custom / "smart_care"
    target = ROOT / "custom_components" / "smart_care"
    if link.is_symlink() or link.exists():
        if link.is_symlink() and link.resolve() == target.resolve():
            return
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        else:
            link.unlink()
    link.symlink_to(target, target_is_directory=True)


def preseed_onboarding() -> None:
    """Mark every onboarding step but the owner account as done, before the first start.

    The core-config step would add default integrations (weather, radio, TTS) that need
    packages and the internet; the demo has neither and wants none of them.
    """
    storage = CONFIG / ".storage"
    onboarding = storage / "onboarding"
    if onboarding.exists():
        return
    storage.mkdir(exist_ok=True)
    onboarding.write_text(
        json.dumps(
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": ["core_config", "analytics", "integration"]},
            }
        )
    )


def start_hass() -> subprocess.Popen[bytes]:
    """Start HA as a child in its own process group (so Ctrl-C is handled here)."""
    hass = Path(sys.executable).with_name("hass")
    log_file = (DEMO / "home-assistant.out").open("wb")
    return subprocess.Popen(
        [str(hass), "-c", str(CONFIG), "--skip-pip", "--log-no-color"],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_http(
    session: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]
) -> None:
    """Wait until HA answers HTTP (it can take a while on the first start)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Home Assistant exited ({proc.returncode}); see .demo/home-assistant.out"
            )
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(
                f"{base}/api/onboarding", timeout=aiohttp.ClientTimeout(total=5)
            ) as r:
                if r.status in (200, 401, 404):
                    return
        await asyncio.sleep(1)
    raise RuntimeError(
        "Home Assistant did not start within 5 minutes; see .demo/home-assistant.out"
    )


async def token_from_code(session: aiohttp.ClientSession, base: str, code: str) -> str:
    """Exchange an authorization code for an access token."""
    async with session.post(
        f"{base}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
    ) as r:
        r.raise_for_status()
        return str((await r.json())["access_token"])


async def login(session: aiohttp.ClientSession, base: str, password: str) -> str:
    """Log in with the owner's password through HA's login flow; return an access token."""
    async with session.post(
        f"{base}/auth/login_flow",
        json={
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": CLIENT_ID,
        },
    ) as r:
        flow = await r.json()
    async with session.post(
        f"{base}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": CLIENT_ID, "username": USERNAME, "password": password},
    ) as r:
        result = await r.json()
    if result.get("type") != "create_entry":
        raise RuntimeError(
            "Login with the stored demo credentials failed; delete .demo to start over"
        )
    return await token_from_code(session, base, result["result"])


async def onboard(session: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """Create the owner account and finish onboarding; return the credentials."""
    password = secrets.token_urlsafe(12)
    async with session.post(
        f"{base}/api/onboarding/users",
        json={
            "client_id": CLIENT_ID,
            "name": "Owner",
            "username": USERNAME,
            "password": password,
            "language": "en",
        },
    ) as r:
        r.raise_for_status()
        code = (await r.json())["auth_code"]
    token = await token_from_code(session, base, code)
    long_lived = await long_lived_token(session, base, token)
    creds = {"username": USERNAME, "password": password, "token": long_lived}
    CREDENTIALS.write_text(json.dumps(creds, indent=2))
    os.chmod(CREDENTIALS, 0o600)
    return creds


async def long_lived_token(session: aiohttp.ClientSession, base: str, token: str) -> str:
    """Create a long-lived access token over the websocket API."""
    async with session.ws_connect(f"{base.replace('http', 'ws', 1)}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        auth = await ws.receive_json()
        if auth.get("type") != "auth_ok":
            raise RuntimeError(f"websocket auth failed: {auth.get('type')}")
        await ws.send_json(
            {
                "id": 1,
                "type": "auth/long_lived_access_token",
                "client_name": "Smart Care demo",
                "lifespan": 3650,
            }
        )
        reply = await ws.receive_json()
        return str(reply["result"])


async def api(
    session: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> Any:
    """Call HA's REST API with a bearer token; raise on errors."""
    async with session.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as r:
        if r.status >= 400:
            raise RuntimeError(f"{method} {url} -> {r.status}: {await r.text()}")
        return await r.json()


async def ensure_household(session: aiohttp.ClientSession, base: str, token: str) -> str:
    """Set up the household and its demo person through HA's config-flow REST API."""
    entries = await api(
        session, "GET", f"{base}/api/config/config_entries/entry?domain=smart_care", token
    )
    if entries:
        entry_id = str(entries[0]["entry_id"])
    else:
        flow = await api(
            session,
            "POST",
            f"{base}/api/config/config_entries/flow",
            token,
            {"handler": "smart_care"},
        )
        result = await api(
            session,
            "POST",
            f"{base}/api/config/config_entries/flow/{flow['flow_id']}",
            token,
            {"name": "Li family", "glucose_unit": "mmol/L"},
        )
        entry_id = str(result["result"]["entry_id"])
        log("household 'Li family' created")
    states = await api(session, "GET", f"{base}/api/states", token)
    if not any(s["entity_id"].startswith("sensor.grandma_") for s in states):
        flow = await api(
            session,
            "POST",
            f"{base}/api/config/config_entries/subentries/flow",
            token,
            {"handler": [entry_id, "person"], "show_advanced_options": False},
        )
        await api(
            session,
            "POST",
            f"{base}/api/config/config_entries/subentries/flow/{flow['flow_id']}",
            token,
            {
                "alias": "Grandma",
                "birth_date": "1948-05-12",
                "sex": "female",
                "conditions": "Hypertension\nType 2 diabetes",
                "medications": "Amlodipine 5 mg 08:00\nMetformin 500 mg 08:00, 20:00",
            },
        )
        log("person 'Grandma' added")
    return entry_id


async def wait_entity(
    session: aiohttp.ClientSession, base: str, token: str, entity_id: str
) -> None:
    """Wait until an entity has a state."""
    for _ in range(60):
        async with session.get(
            f"{base}/api/states/{entity_id}", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            if r.status == 200:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{entity_id} did not appear")


async def setup(base: str, proc: subprocess.Popen[bytes]) -> dict[str, str]:
    """Onboard (or log in), configure the household, return the credentials."""
    async with aiohttp.ClientSession() as session:
        await wait_http(session, base, proc)
        async with session.get(f"{base}/api/onboarding") as r:
            steps = await r.json() if r.status == 200 else []
        users_done = (
            any(s.get("step") == "user" and s.get("done") for s in steps) or r.status == 404
        )
        if not users_done:
            log("onboarding the owner account")
            creds = await onboard(session, base)
        else:
            if not CREDENTIALS.exists():
                raise RuntimeError(
                    ".demo was onboarded but credentials.json is missing; delete .demo"
                )
            creds = json.loads(CREDENTIALS.read_text())
            await login(session, base, creds["password"])
        await ensure_household(session, base, creds["token"])
        await wait_entity(session, base, creds["token"], "sensor.grandma_systolic_blood_pressure")
        return creds


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop HA and its children."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _port(value: str) -> int:
    """The port to serve on; "auto" picks a free one (for tests)."""
    if value != "auto":
        return int(value)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    """Run the demo."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        default=os.environ.get("SMART_CARE_CHECK") == "1",
        help="start, set up, print the login, then stop",
    )
    args = parser.parse_args()
    port = _port(os.environ.get("SMART_CARE_PORT", "8123"))
    base = f"http://127.0.0.1:{port}"
    prepare_config(port)
    preseed_onboarding()
    log(f"starting Home Assistant on {base} (log: .demo/home-assistant.out)")
    started = time.monotonic()
    proc = start_hass()
    try:
        creds = asyncio.run(setup(base, proc))
        print(
            f"\nSmart Care is running at {base}  (ready in {time.monotonic() - started:.0f} s)\n"
            f"  login:    {creds['username']}\n"
            f"  password: {creds['password']}\n"
            f"  token:    {creds['token']}\n"
            f"  try:      curl -s -H 'Authorization: Bearer <token>' {base}/api/states"
            " | grep -o 'sensor.grandma_[a-z_]*'\n"
            "  (credentials are also in .demo/credentials.json)\n",
            flush=True,
        )
        if args.check:
            return 0
        log("Ctrl-C stops Home Assistant")
        while proc.poll() is None:
            time.sleep(1)
        log(f"Home Assistant exited ({proc.returncode})")
        return proc.returncode or 0
    except KeyboardInterrupt:
        log("stopping Home Assistant")
        return 0
    finally:
        stop(proc)


if __name__ == "__main__":
    sys.exit(main())
