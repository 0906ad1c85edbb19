"""Start a real Home Assistant with Smart Care from this working tree: the demo.

Run through ``scripts/run`` (which prepares .venv). The first run creates .demo/config,
onboards an owner account with a generated password, and sets everything up through HA's
own APIs, as a user would through the UI:

* the household "Li family" with Grandma and Grandpa (config flow + subentry flows);
* four simulated Bluetooth health devices behind a simulated Bluetooth proxy (the demo
  component in scripts/demo_components/, not part of the integration): Smart Care
  discovers them, the demo confirms the discovery flows and says who uses each device;
* the community clinic, linked with the folder transport: FHIR R4 transaction bundles are
  written to .demo/fhir-outbox (or sent to SMART_CARE_FHIR_URL, e.g. a local HAPI FHIR
  server at http://127.0.0.1:8080/fhir);
* a "Family phone" registered through mobile_app, whose pushes show up as persistent
  notifications, the family-alert blueprint sending to it, an escalation of alerts nobody
  acknowledges, and medication reminders;
* the Smart Care dashboard from docs/dashboard.yaml (docs/dashboard.zh-Hans.yaml when
  the language is Chinese) and the acknowledge script from docs/dashboard-script.yaml.

It then prints the URL, the login and a long-lived token, starts the devices' story (an
abnormal episode two minutes in) and follows it in the terminal. Later runs reuse the
configuration. Ctrl-C stops Home Assistant cleanly.

``--check`` (or SMART_CARE_CHECK=1) starts, sets up, waits for the first device readings,
prints, then stops. Environment: SMART_CARE_PORT (8123; "auto" picks a free one),
SMART_CARE_DEMO_DIR (.demo), SMART_CARE_HEADLESS=1 (stay up quietly, for the browser
test), SMART_CARE_DEMO_FAST=1 (the story ten times faster), SMART_CARE_LANG (en or
zh-Hans), SMART_CARE_FHIR_URL (the clinic's FHIR server instead of the folder).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import datetime, timedelta
import importlib.util
import itertools
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
import uuid
from zoneinfo import ZoneInfo

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("SMART_CARE_DEMO_DIR", ROOT / ".demo"))
CONFIG = DEMO / "config"
CREDENTIALS = DEMO / "credentials.json"
DEMO_COMPONENT = ROOT / "scripts" / "demo_components" / "smart_care_demo"
BLUEPRINTS = ROOT / "blueprints" / "automation" / "smart_care"
DOCS = ROOT / "docs"
CLIENT_ID = "http://127.0.0.1/"
USERNAME = "owner"
TIME_ZONE = "Asia/Shanghai"
DASHBOARD = "smart-care"
HEADLESS = os.environ.get("SMART_CARE_HEADLESS") == "1"
FAST = os.environ.get("SMART_CARE_DEMO_FAST") == "1"
LANGUAGES = ("en", "zh-Hans")

CONFIGURATION_YAML = """\
# Written by scripts/run at every start. Everything binds to 127.0.0.1; no zeroconf.
homeassistant:
  name: Smart Care demo
  country: CN
  language: {language}
  time_zone: {time_zone}
  unit_system: metric
  currency: CNY
  latitude: 31.2304
  longitude: 121.4737
  elevation: 4
{http}frontend:
config:
api:
onboarding:
person:
history:
logbook:
recorder:
  purge_keep_days: 30
bluetooth:
mobile_app:
automation: !include automations.yaml
script: !include scripts.yaml
# The simulated Bluetooth proxy and devices (scripts/demo_components/smart_care_demo).
smart_care_demo:
  fast: {fast}
logger:
  default: warning
  logs:
    custom_components.smart_care: info
    custom_components.smart_care_demo: info
"""

PEOPLE: list[dict[str, Any]] = [
    {
        "alias": "Grandma",
        "birth_date": "1948-05-12",
        "sex": "female",
        "conditions": "Hypertension\nType 2 diabetes",
        "medications": "Amlodipine 5 mg 08:00\nMetformin 500 mg 08:00, 20:00",
        "expected_measurements": ["blood_pressure", "glucose", "spo2", "weight"],
        "overdue_hours": 26,
        "emergency_contacts": ["notify.mobile_app_family_phone"],
    },
    {
        "alias": "Grandpa",
        "birth_date": "1945-09-30",
        "sex": "male",
        "conditions": "High cholesterol",
        # The aspirin is due a few minutes after the first start, so a medication
        # reminder shows up while you watch; it stays a daily dose at that time.
        "medications": "Atorvastatin 20 mg 21:00\nAspirin 100 mg {soon}",
        "expected_measurements": ["blood_pressure", "weight"],
        "overdue_hours": 26,
        "emergency_contacts": ["notify.mobile_app_family_phone"],
    },
]
# Device name (as advertised) -> who uses it: owner, or user button -> person.
DEVICE_USERS: dict[str, dict[str, str]] = {
    "Demo BP Cuff": {"user_1": "Grandma", "user_2": "Grandpa"},
    "Demo Scale": {"user_1": "Grandma", "user_2": "Grandpa"},
    "Demo Oximeter": {"owner": "Grandma"},
    "Demo Glucose Meter": {"owner": "Grandma"},
}
CLINIC_NAME = "Community clinic"
PHONE = {
    "app_id": "io.smart_care.demo_phone",
    "app_name": "Smart Care demo phone",
    "app_version": "1.0",
    "device_name": "Family phone",
    "manufacturer": "Smart Care",
    "model": "Demo phone",
    "os_name": "Demo OS",
    "os_version": "1.0",
}
TIMELINE = """\
  story:    0:00 the devices wake and send two weeks of stored readings
            0:25 Grandpa's blood pressure, 0:40 his weight
            0:55-1:40 Grandma's glucose, SpO2, blood pressure, weight
            2:00 Grandma 186/112 mmHg, 2:15 SpO2 87 %  <- alerts, family push
            3 min later, nobody acknowledged: emergency escalation
            6:00, 12:00, 20:00 she re-measures; values come down
            then a round of ordinary readings every 30 minutes"""


def _load_scenario() -> Any:
    """The demo component's story (pure data, no Home Assistant), to know when readings come."""
    spec = importlib.util.spec_from_file_location(
        "smart_care_demo_scenario", DEMO_COMPONENT / "scenario.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SCENARIO = _load_scenario()
# The readings the run command waits for: entity -> (device, person) in the story.
FIRST_READINGS = {
    "sensor.grandma_systolic_blood_pressure": ("cuff", "grandma"),
    "sensor.grandpa_weight": ("scale", "grandpa"),
}
# After a measurement is scheduled: the device advertises (every 2 s) and stays awake 45 s;
# the link connects, downloads and hangs up. Generous, since a busy machine is slow.
READING_MARGIN = 180.0


def reading_deadline(fast: bool) -> float:
    """Seconds after the story starts by which every reading in FIRST_READINGS is due."""
    steps = SCENARIO.timeline(fast, rounds=0)
    due = [
        min(m.at for m in steps if (m.device, m.person) == wanted)
        for wanted in FIRST_READINGS.values()
    ]
    return max(due) + READING_MARGIN


def log(message: str) -> None:
    """Print a progress line."""
    print(f">> {message}", flush=True)


def language() -> str:
    """The demo's language (HA's core language and the owner's profile)."""
    lang = os.environ.get("SMART_CARE_LANG", "en")
    if lang not in LANGUAGES:
        raise SystemExit(f"SMART_CARE_LANG must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    return lang


def _link(link: Path, target: Path) -> None:
    """Make ``link`` a symlink to ``target`` (replacing whatever is there)."""
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    elif link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target, target_is_directory=True)


HTTP_YAML = """\
http:
  server_host: 127.0.0.1
  server_port: {port}
"""


def _http_store() -> Any:
    """HA's HTTP settings store module when this HA keeps them in .storage/http, else None.

    From HA 2026 the http YAML is migrated once into storage as a "pending" trial (reverted
    after five minutes unless confirmed in the UI) and ignored after that, so a new port in
    the YAML would never apply. The demo writes the confirmed ("stable") settings instead.
    """
    try:
        from homeassistant.components.http import config as http_config
    except ImportError:
        return None
    return http_config if hasattr(http_config, "KEY_YAML_MIGRATION_DONE") else None


def write_http_settings(port: int) -> str:
    """Bind HA to 127.0.0.1:port; return the YAML for configuration.yaml (may be empty)."""
    store = _http_store()
    if store is None:
        return HTTP_YAML.format(port=port)
    stable = {
        **store._DEFAULT_CONFIG,
        "server_host": ["127.0.0.1"],
        "server_port": port,
    }
    storage = CONFIG / ".storage"
    storage.mkdir(exist_ok=True)
    (storage / store.STORAGE_KEY).write_text(
        json.dumps(
            {
                "version": store.STORAGE_VERSION,
                "minor_version": store.STORAGE_MINOR_VERSION,
                "key": store.STORAGE_KEY,
                "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
            },
            indent=2,
        )
    )
    return ""


def prepare_config(port: int) -> None:
    """Write the configuration; link the integration and the demo component."""
    CONFIG.mkdir(parents=True, exist_ok=True)
    os.chmod(DEMO, 0o700)
    (CONFIG / "configuration.yaml").write_text(
        CONFIGURATION_YAML.format(
            http=write_http_settings(port),
            language=language(),
            time_zone=TIME_ZONE,
            fast=str(FAST).lower(),
        )
    )
    for name in ("automations.yaml", "scripts.yaml"):
        if not (CONFIG / name).exists():
            (CONFIG / name).write_text("[]\n" if name == "automations.yaml" else "{}\n")
    # The acknowledge script of the dashboard (single source: docs/dashboard-script.yaml).
    scripts = yaml.safe_load((CONFIG / "scripts.yaml").read_text()) or {}
    scripts.update(yaml.safe_load((DOCS / "dashboard-script.yaml").read_text()))
    (CONFIG / "scripts.yaml").write_text(
        yaml.safe_dump(scripts, allow_unicode=True, sort_keys=False)
    )
    custom = CONFIG / "custom_components"
    custom.mkdir(exist_ok=True)
    _link(custom / "smart_care", ROOT / "custom_components" / "smart_care")
    _link(custom / "smart_care_demo", DEMO_COMPONENT)
    # The repository's blueprints, as the integration's install service would copy them.
    if BLUEPRINTS.is_dir():
        target = CONFIG / "blueprints" / "automation" / "smart_care"
        target.mkdir(parents=True, exist_ok=True)
        for blueprint in BLUEPRINTS.glob("*.yaml"):
            shutil.copyfile(blueprint, target / blueprint.name)


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
                f"Home Assistant exited ({proc.returncode}); see {DEMO}/home-assistant.out"
            )
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(
                f"{base}/api/onboarding", timeout=aiohttp.ClientTimeout(total=5)
            ) as r:
                if r.status in (200, 401, 404):
                    return
        await asyncio.sleep(1)
    raise RuntimeError(
        f"Home Assistant did not start within 5 minutes; see {DEMO}/home-assistant.out"
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


class WebSocket:
    """HA's websocket API: one connection, numbered commands."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        """Connect lazily in ``__aenter__``."""
        self._session = session
        self._url = f"{base.replace('http', 'ws', 1)}/api/websocket"
        self._token = token
        self._ids = itertools.count(1)
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> WebSocket:
        """Connect and authenticate."""
        self.ws = await self._session.ws_connect(self._url)
        await self.ws.receive_json()
        await self.ws.send_json({"type": "auth", "access_token": self._token})
        auth = await self.ws.receive_json()
        if auth.get("type") != "auth_ok":
            raise RuntimeError(f"websocket auth failed: {auth.get('type')}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close."""
        if self.ws is not None:
            await self.ws.close()

    async def call(self, command: str, **data: Any) -> Any:
        """Send one command and return its result (raise on error)."""
        assert self.ws is not None
        msg_id = next(self._ids)
        await self.ws.send_json({"id": msg_id, "type": command, **data})
        while True:
            reply = await self.ws.receive_json()
            if reply.get("id") != msg_id:
                continue  # an event of an earlier subscription
            if not reply.get("success", True):
                raise RuntimeError(f"{command}: {reply.get('error')}")
            return reply.get("result")


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
            "language": language(),
        },
    ) as r:
        r.raise_for_status()
        code = (await r.json())["auth_code"]
    token = await token_from_code(session, base, code)
    async with WebSocket(session, base, token) as ws:
        long_lived = str(
            await ws.call(
                "auth/long_lived_access_token", client_name="Smart Care demo", lifespan=3650
            )
        )
    creds = {"username": USERNAME, "password": password, "token": long_lived}
    CREDENTIALS.write_text(json.dumps(creds, indent=2))
    os.chmod(CREDENTIALS, 0o600)
    return creds


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


class Demo:
    """Sets the demo up through HA's REST and websocket APIs."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, token: str, ws: WebSocket
    ) -> None:
        """Talk to the HA at ``base``."""
        self.session = session
        self.base = base
        self.token = token
        self.ws = ws

    async def rest(self, method: str, path: str, body: Any = None) -> Any:
        """REST call relative to the base URL."""
        return await api(self.session, method, f"{self.base}{path}", self.token, body)

    async def form(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start a flow and return its first form.

        The household reloads after each change to its people; a flow started meanwhile
        aborts with "household not loaded", so it is started again a moment later.
        """
        for _ in range(60):
            flow: dict[str, Any] = await self.rest("POST", path, body)
            if flow.get("type") == "form":
                return flow
            if flow.get("reason") != "household_not_loaded":
                break
            await asyncio.sleep(0.5)
        raise RuntimeError(f"{path}: {flow}")

    async def entries(self) -> list[dict[str, Any]]:
        """Smart Care's config entries."""
        result: list[dict[str, Any]] = await self.rest(
            "GET", "/api/config/config_entries/entry?domain=smart_care"
        )
        return result

    # Household and people -----------------------------------------------------------

    async def ensure_household(self) -> str:
        """The household and its people, through HA's config-flow REST API."""
        entries = await self.entries()
        household = next((e for e in entries if e["title"] not in DEVICE_USERS), None)
        if household is not None:
            entry_id = str(household["entry_id"])
            if household.get("state") in ("setup_error", "setup_retry", "migration_error"):
                raise RuntimeError(
                    f"Smart Care's household did not load ({household['state']}); see"
                    f" {DEMO}/home-assistant.out. A demo folder made by an older version"
                    f" may need deleting: rm -rf {DEMO}"
                )
        else:
            flow = await self.rest(
                "POST", "/api/config/config_entries/flow", {"handler": "smart_care"}
            )
            result = await self.rest(
                "POST",
                f"/api/config/config_entries/flow/{flow['flow_id']}",
                {"name": "Li family", "glucose_unit": "mmol/L"},
            )
            entry_id = str(result["result"]["entry_id"])
            log("household 'Li family' created")
        existing = {
            s["title"]
            for s in await self.ws.call("config_entries/subentries/list", entry_id=entry_id)
        }
        soon = (datetime.now(ZoneInfo(TIME_ZONE)) + timedelta(minutes=3)).strftime("%H:%M")
        for person in PEOPLE:
            if person["alias"] in existing:
                continue
            flow = await self.form(
                "/api/config/config_entries/subentries/flow",
                {"handler": [entry_id, "person"], "show_advanced_options": False},
            )
            data = dict(person, medications=person["medications"].format(soon=soon))
            result = await self.rest(
                "POST", f"/api/config/config_entries/subentries/flow/{flow['flow_id']}", data
            )
            if result.get("type") != "create_entry":
                raise RuntimeError(f"adding {person['alias']} failed: {result}")
            log(f"person '{person['alias']}' added")
        return entry_id

    async def person_ids(self, entry_id: str) -> dict[str, str]:
        """Alias -> person id (the subentries' unique ids)."""
        subentries = await self.ws.call("config_entries/subentries/list", entry_id=entry_id)
        return {s["title"]: s["unique_id"] for s in subentries if s["subentry_type"] == "person"}

    # Devices ------------------------------------------------------------------------

    async def ensure_devices(self, entry_id: str) -> None:
        """Confirm Smart Care's Bluetooth discovery flows; say who uses each device."""
        have = {e["title"] for e in await self.entries()}
        missing = set(DEVICE_USERS) - have
        if not missing:
            return
        people = await self.person_ids(entry_id)
        deadline = time.monotonic() + 60
        while missing:
            flows = await self.ws.call("config_entries/flow/progress")
            for flow in flows:
                context = flow.get("context", {})
                name = context.get("title_placeholders", {}).get("name")
                if flow["handler"] != "smart_care" or context.get("source") != "bluetooth":
                    continue
                if name not in missing:
                    continue
                result = await self.rest(
                    "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {}
                )
                if result.get("type") != "create_entry":
                    raise RuntimeError(f"adding {name} failed: {result}")
                await self.set_device_users(result["result"]["entry_id"], name, people)
                missing.discard(name)
                log(f"device '{name}' added ({self.describe_users(name)})")
            if not missing:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Smart Care did not discover {', '.join(sorted(missing))} within a minute;"
                    f" see {DEMO}/home-assistant.out"
                )
            await asyncio.sleep(1)

    @staticmethod
    def describe_users(name: str) -> str:
        """Who uses a device, for the log line."""
        users = DEVICE_USERS[name]
        if "owner" in users:
            return f"used by {users['owner']}"
        return ", ".join(f"user {k.removeprefix('user_')}: {v}" for k, v in users.items())

    async def set_device_users(self, device_entry: str, name: str, people: dict[str, str]) -> None:
        """The device's options flow: owner, or user index -> person."""
        flow = await self.form("/api/config/config_entries/options/flow", {"handler": device_entry})
        values = {field: people[alias] for field, alias in DEVICE_USERS[name].items()}
        result = await self.rest(
            "POST", f"/api/config/config_entries/options/flow/{flow['flow_id']}", values
        )
        if result.get("type") != "create_entry":
            raise RuntimeError(f"options of {name}: {result}")

    # Clinic -------------------------------------------------------------------------

    async def ensure_clinic(self, entry_id: str) -> None:
        """Link the community clinic: FHIR bundles to a folder, or to SMART_CARE_FHIR_URL."""
        url = os.environ.get("SMART_CARE_FHIR_URL", "").strip()
        wanted: dict[str, Any] = {"name": CLINIC_NAME}
        if url:
            wanted |= {"transport": "http", "fhir_base_url": url}
        else:
            wanted |= {"transport": "folder", "folder": str(DEMO / "fhir-outbox")}
        record = DEMO / "clinic.json"
        linked = json.loads(record.read_text()) if record.exists() else None
        if linked == wanted:
            return
        clinics = [
            s
            for s in await self.ws.call("config_entries/subentries/list", entry_id=entry_id)
            if s["subentry_type"] == "clinic"
        ]
        body: dict[str, Any] = {"handler": [entry_id, "clinic"]}
        if clinics:
            body["subentry_id"] = clinics[0]["subentry_id"]  # reconfigure the existing link
        try:
            flow = await self.form("/api/config/config_entries/subentries/flow", body)
        except RuntimeError as err:
            log(f"no clinic link ({err})")
            return
        result = await self.rest(
            "POST", f"/api/config/config_entries/subentries/flow/{flow['flow_id']}", wanted
        )
        if result.get("type") == "form" and result.get("errors"):
            raise RuntimeError(f"linking the clinic failed: {result['errors']}")
        if result.get("type") == "form":  # the one-time credentials page
            result = await self.rest(
                "POST", f"/api/config/config_entries/subentries/flow/{flow['flow_id']}", {}
            )
        if result.get("type") not in ("create_entry", "abort"):
            raise RuntimeError(f"linking the clinic failed: {result}")
        record.write_text(json.dumps(wanted))
        where = url or wanted["folder"]
        log(f"clinic '{CLINIC_NAME}' linked (FHIR R4 bundles go to {where})")

    # Phone, blueprints, dashboard ------------------------------------------------------

    async def ensure_phone(self) -> str | None:
        """A mobile_app phone whose pushes become persistent notifications; its device id."""
        target = await self.rest(
            "POST", "/api/services/smart_care_demo/push_target?return_response", {}
        )
        push = target["service_response"]
        app_data = {"push_token": push["token"], "push_url": f"{self.base}{push['path']}"}
        phone_file = DEMO / "phone.json"
        if phone_file.exists():
            phone = json.loads(phone_file.read_text())
            # The port may change between runs: point the registration at this one.
            await self.rest(
                "POST",
                f"/api/webhook/{phone['webhook_id']}",
                {
                    "type": "update_registration",
                    "data": {
                        k: PHONE[k] for k in ("app_version", "device_name", "manufacturer", "model")
                    }
                    | {"os_version": PHONE["os_version"], "app_data": app_data},
                },
            )
        else:
            device_id = uuid.uuid4().hex
            reply = await self.rest(
                "POST",
                "/api/mobile_app/registrations",
                PHONE
                | {"device_id": device_id, "app_data": app_data, "supports_encryption": False},
            )
            phone = {"webhook_id": reply["webhook_id"], "device_id": device_id}
            phone_file.write_text(json.dumps(phone))
            os.chmod(phone_file, 0o600)
            log(f"phone '{PHONE['device_name']}' registered (its pushes show as notifications)")
        devices = await self.ws.call("config/device_registry/list")
        for device in devices:
            if ["mobile_app", phone["device_id"]] in device["identifiers"]:
                return str(device["id"])
        return None

    async def ensure_automations(self, phone_device: str | None) -> None:
        """The repository's blueprints, wired to the family phone; fallbacks without them.

        family alert -> the phone; emergency escalation of critical alerts nobody
        acknowledges -> the person's emergency contacts (the phone again); tell the doctor
        -> the clinic link; medication and measurement reminders -> the phone. Where a
        blueprint is missing, a plain automation on Smart Care's events stands in.
        """
        current = await self.rest("GET", "/api/states")
        names = {
            s["attributes"].get("id") for s in current if s["entity_id"].startswith("automation.")
        }
        wanted: dict[str, dict[str, Any]] = {}
        fallbacks: dict[str, dict[str, Any]] = {
            "family_alert": FALLBACK_ALERT_AUTOMATION,
            "emergency_escalation": escalation_automation(ESCALATE_AFTER),
            "medication_reminder": MEDICATION_AUTOMATION,
        }
        for name, (alias, inputs) in blueprint_automations(phone_device).items():
            automation_id = f"smart_care_demo_{name}"
            if (BLUEPRINTS / f"{name}.yaml").exists() and inputs is not None:
                wanted[automation_id] = {
                    "alias": alias,
                    "description": f"Demo: the {name.replace('_', ' ')} blueprint of Smart"
                    " Care. Pushes to the family phone appear as notifications.",
                    "use_blueprint": {"path": f"smart_care/{name}.yaml", "input": inputs},
                }
                # A demo made before the blueprint existed used a stand-in: replace it.
                if f"{automation_id}_fallback" in names:
                    await self.rest(
                        "DELETE", f"/api/config/automation/config/{automation_id}_fallback"
                    )
            elif name in fallbacks:
                wanted[f"{automation_id}_fallback"] = fallbacks[name]
        for automation_id, config in wanted.items():
            if automation_id in names:
                continue
            await self.rest("POST", f"/api/config/automation/config/{automation_id}", config)
            log(f"automation '{config['alias']}' added")

    async def ensure_dashboard(self, lang: str) -> None:
        """Create the Smart Care dashboard and load it from docs/ (every start)."""
        source = DOCS / ("dashboard.zh-Hans.yaml" if lang == "zh-Hans" else "dashboard.yaml")
        config = yaml.safe_load(source.read_text(encoding="utf-8"))
        dashboards = await self.ws.call("lovelace/dashboards/list")
        if not any(d["url_path"] == DASHBOARD for d in dashboards):
            await self.ws.call(
                "lovelace/dashboards/create",
                url_path=DASHBOARD,
                title="智慧照护" if lang == "zh-Hans" else "Smart Care",
                icon="mdi:heart-pulse",
                show_in_sidebar=True,
                require_admin=False,
                mode="storage",
            )
            log(f"dashboard '{DASHBOARD}' created from docs/{source.name}")
        await self.ws.call("lovelace/config/save", url_path=DASHBOARD, config=config)
        # The owner's profile: the demo's language, and times in the home's time zone
        # (the browser may be anywhere; the readings and alerts happen at home).
        await self.ws.call(
            "frontend/set_user_data",
            key="language",
            value={
                "language": lang,
                "number_format": "language",
                "time_format": "language",
                "date_format": "language",
                "first_weekday": "language",
                "time_zone": "server",
            },
        )

    async def wait_running(self) -> None:
        """Wait until HA has set up its integrations (HTTP answers before that)."""
        deadline = time.monotonic() + 120
        while (await self.rest("GET", "/api/config"))["state"] != "RUNNING":
            if time.monotonic() > deadline:
                raise RuntimeError(f"Home Assistant did not finish starting; see {DEMO}")
            await asyncio.sleep(0.5)

    async def check_loopback_only(self) -> None:
        """Refuse to run if something pulled in zeroconf (it would announce HA on the LAN)."""
        components = (await self.rest("GET", "/api/config"))["components"]
        if "zeroconf" in components:
            raise RuntimeError("zeroconf was loaded: the demo must stay on 127.0.0.1")

    async def start_story(self) -> bool:
        """Start the simulated devices' timeline."""
        reply = await self.rest("POST", "/api/services/smart_care_demo/start?return_response", {})
        return bool(reply["service_response"]["started"])

    async def wait_readings(
        self, entity_ids: list[str], seconds: float, proc: subprocess.Popen[bytes]
    ) -> list[str]:
        """Watch the states until every entity shows a number; return those still missing.

        ``seconds`` follows the story's schedule (``reading_deadline``); HA exiting ends the
        wait at once.
        """
        deadline = time.monotonic() + seconds
        missing = list(entity_ids)
        while True:
            states = {s["entity_id"]: s["state"] for s in await self.rest("GET", "/api/states")}
            missing = [e for e in entity_ids if not _is_number(states.get(e))]
            if not missing or time.monotonic() >= deadline:
                return missing
            if proc.poll() is not None:
                raise RuntimeError(
                    f"Home Assistant exited ({proc.returncode}); see {DEMO}/home-assistant.out"
                )
            await asyncio.sleep(1)


def _clock(scenario: Any, device: str, person: str) -> str:
    """When ``person`` first measures on ``device`` in the story, as m:ss."""
    at = min(
        m.at for m in scenario.timeline(FAST, rounds=0) if (m.device, m.person) == (device, person)
    )
    return f"{int(at // 60)}:{int(at % 60):02d}"


def _is_number(value: str | None) -> bool:
    try:
        float(value or "")
    except ValueError:
        return False
    return True


def blueprint_automations(phone: str | None) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """Blueprint file name -> (automation alias, inputs; None when it cannot be set up)."""
    phones = [phone] if phone else None
    return {
        "family_alert": (
            "Smart Care: family alert to the family phone",
            phones
            and {
                "people": [],
                "severities": ["warning", "urgent", "critical"],
                "phones": phones,
                # No quiet hours in the demo: the episode must be seen at any hour.
                "quiet_start": "00:00:00",
                "quiet_end": "00:00:00",
            },
        ),
        "emergency_escalation": (
            "Smart Care: emergency escalation",
            {
                "people": [],
                "wait_minutes": max(1, ESCALATE_AFTER // 60),
                "repeat_minutes": 5,
                "max_rounds": 2,
                "person_contacts": True,
            },
        ),
        "doctor_alert": ("Smart Care: tell the doctor", {}),
        "medication_reminder": (
            "Smart Care: medication reminder",
            phones and {"people": [], "phones": phones, "grace_minutes": 10},
        ),
        "measurement_reminder": (
            "Smart Care: Grandma's evening blood pressure",
            phones
            and {
                "vital_sensor": "sensor.grandma_systolic_blood_pressure",
                "reminder_time": "19:00:00",
                "phones": phones,
            },
        ),
    }


FALLBACK_ALERT_AUTOMATION: dict[str, Any] = {
    "alias": "Smart Care: alert notification",
    "description": "Demo without the family-alert blueprint: each alert as a notification.",
    "mode": "queued",
    "triggers": [{"trigger": "event", "event_type": "smart_care_alert"}],
    "actions": [
        {
            "choose": [
                {
                    "conditions": [
                        {
                            "condition": "template",
                            "value_template": "{{ trigger.event.data.action in"
                            " ['opened', 'escalated', 'reopened'] }}",
                        }
                    ],
                    "sequence": [
                        {
                            "action": "persistent_notification.create",
                            "data": {
                                "notification_id": "smart_care_{{ trigger.event.data.alert_id }}",
                                "title": "{{ trigger.event.data.person }}:"
                                " {{ trigger.event.data.severity }} health alert",
                                "message": "{{ trigger.event.data.message }}",
                            },
                        }
                    ],
                }
            ],
            "default": [
                {
                    "action": "persistent_notification.dismiss",
                    "data": {"notification_id": "smart_care_{{ trigger.event.data.alert_id }}"},
                }
            ],
        }
    ],
}
# Unacknowledged urgent or critical alerts escalate after this long (the demo's choice;
# at home it would be longer).
ESCALATE_AFTER = 60 if FAST else 180


def escalation_automation(seconds: int) -> dict[str, Any]:
    """Escalation: an urgent alert nobody acknowledged goes to the clinic and the contacts."""
    return {
        "alias": "Smart Care: escalate unacknowledged alerts",
        "description": f"Demo: urgent or critical alerts still open after {seconds} s go to"
        " the clinic (smart_care.notify_clinic) and to the person's emergency contacts"
        " (smart_care.notify_emergency_contacts: the family phone).",
        "mode": "parallel",
        "max": 50,
        "triggers": [
            {
                "trigger": "event",
                "event_type": "smart_care_alert",
                "event_data": {"action": "opened"},
            }
        ],
        "conditions": [
            {
                "condition": "template",
                "value_template": "{{ trigger.event.data.severity in ['urgent', 'critical'] }}",
            }
        ],
        "actions": [
            {"variables": {"alert_id": "{{ trigger.event.data.alert_id }}"}},
            {"delay": {"seconds": seconds}},
            {"action": "smart_care.get_alerts", "data": {}, "response_variable": "current"},
            {
                "variables": {
                    "alert": "{{ current.alerts | selectattr('alert_id', 'eq', alert_id)"
                    " | list | first | default(none) }}"
                }
            },
            {
                "condition": "template",
                "value_template": "{{ alert is not none and alert.status == 'open' }}",
            },
            {
                "action": "smart_care.notify_clinic",
                "data": {"alert_id": "{{ alert_id }}"},
                "continue_on_error": True,
            },
            {
                "action": "smart_care.notify_emergency_contacts",
                "data": {
                    "alert_id": "{{ alert_id }}",
                    "title": "Emergency: {{ alert.person }} needs help",
                    "message": "Nobody has acknowledged this alert for"
                    f" {seconds // 60 if seconds >= 60 else seconds}"
                    f" {'min' if seconds >= 60 else 's'}: {{{{ alert.message }}}}",
                },
                "continue_on_error": True,
            },
        ],
    }


MEDICATION_AUTOMATION: dict[str, Any] = {
    "alias": "Smart Care: medication reminder",
    "description": "Demo: each dose reminder of Smart Care as a notification.",
    "mode": "queued",
    "triggers": [{"trigger": "event", "event_type": "smart_care_medication_due"}],
    "actions": [
        {
            "action": "persistent_notification.create",
            "data": {
                "notification_id": "smart_care_med_{{ trigger.event.data.medication_id }}",
                "title": "{{ trigger.event.data.person }}: time for"
                " {{ trigger.event.data.medication }}",
                "message": "Dose of {{ as_timestamp(trigger.event.data.time)"
                " | timestamp_custom('%H:%M') }}. A phone would offer Taken / Skip / Snooze;"
                " here, answer with the action smart_care.record_medication.",
            },
        }
    ],
}


async def setup(base: str, proc: subprocess.Popen[bytes]) -> dict[str, str]:
    """Onboard (or log in), set the demo up, return the credentials."""
    lang = language()
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
                    f"{DEMO} was onboarded but credentials.json is missing; delete it"
                )
            creds = json.loads(CREDENTIALS.read_text())
            await login(session, base, creds["password"])
        async with WebSocket(session, base, creds["token"]) as ws:
            demo = Demo(session, base, creds["token"], ws)
            await demo.wait_running()
            await demo.check_loopback_only()
            entry_id = await demo.ensure_household()
            await demo.ensure_devices(entry_id)
            await demo.ensure_clinic(entry_id)
            phone = await demo.ensure_phone()
            await demo.ensure_automations(phone)
            await demo.ensure_dashboard(lang)
            await demo.start_story()
            limit = reading_deadline(FAST)
            log(
                "waiting for the first readings (Grandpa's weight at"
                f" {_clock(SCENARIO, 'scale', 'grandpa')}, Grandma's blood pressure at"
                f" {_clock(SCENARIO, 'cuff', 'grandma')} into the story; giving up after"
                f" {limit:.0f} s)"
            )
            missing = await demo.wait_readings(list(FIRST_READINGS), limit, proc)
            if missing:
                raise RuntimeError(
                    f"no device readings for {', '.join(missing)} within {limit:.0f} s of the"
                    f" story's start; see {DEMO}/home-assistant.out"
                )
            log("first readings arrived from the simulated devices")
        return creds


async def follow(base: str, token: str, proc: subprocess.Popen[bytes]) -> None:
    """Print the story as it happens: measurements and Smart Care's alerts."""
    async with aiohttp.ClientSession() as session, WebSocket(session, base, token) as ws:
        assert ws.ws is not None
        for event_type in ("smart_care_demo_measured", "smart_care_alert"):
            await ws.call("subscribe_events", event_type=event_type)
        while proc.poll() is None:
            try:
                msg = await ws.ws.receive_json(timeout=1)
            except TimeoutError:
                continue
            except (TypeError, ValueError, aiohttp.ClientError):
                return  # HA is stopping
            event = msg.get("event") if msg.get("type") == "event" else None
            if event is None:
                continue
            data = event["data"]
            stamp = datetime.now().strftime("%H:%M:%S")
            if event["event_type"] == "smart_care_demo_measured":
                values = "/".join(f"{v:g}" for v in data["values"])
                mark = "  <- abnormal" if data["abnormal"] else ""
                print(f"[{stamp}] {data['person']} on {data['device_name']}: {values}{mark}")
            else:
                print(
                    f"[{stamp}] Smart Care alert {data['action']}: {data['person']}"
                    f" {data['severity']} - {data['message']}"
                )
            sys.stdout.flush()


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


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Run the demo."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        default=os.environ.get("SMART_CARE_CHECK") == "1",
        help="start, set up, print the login, then stop",
    )
    args = parser.parse_args()
    language()
    # Ctrl-C and SIGTERM both stop HA cleanly (also when started in the background,
    # where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    port = _port(os.environ.get("SMART_CARE_PORT", "8123"))
    base = f"http://127.0.0.1:{port}"
    prepare_config(port)
    preseed_onboarding()
    log(f"starting Home Assistant on {base} (log: {DEMO}/home-assistant.out)")
    started = time.monotonic()
    proc = start_hass()
    try:
        creds = asyncio.run(setup(base, proc))
        print(
            f"\nSmart Care is running at {base}  (ready in {time.monotonic() - started:.0f} s)\n"
            f"  login:    {creds['username']}\n"
            f"  password: {creds['password']}\n"
            f"  token:    {creds['token']}\n"
            f"  open:     {base}/{DASHBOARD}  (the Smart Care dashboard)\n"
            f"  try:      curl -s -H 'Authorization: Bearer <token>' {base}/api/states"
            " | grep -o 'sensor.grand[a-z_]*'\n"
            f"  (credentials are also in {DEMO}/credentials.json)\n"
            f"{TIMELINE}{'  (ten times faster)' if FAST else ''}\n",
            flush=True,
        )
        if args.check:
            return 0
        log("Ctrl-C stops Home Assistant")
        if HEADLESS:
            while proc.poll() is None:
                time.sleep(1)
        else:
            asyncio.run(follow(base, creds["token"], proc))
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
