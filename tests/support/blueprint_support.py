"""Shared helpers of the blueprint tests: a private config dir, real phones, blueprint set-up.

No tests here. A test module takes the fixtures ``config_dir`` (autouse) and
``phone_factory`` by importing ``config_dir_fixture`` and ``phone_factory_fixture``.
The phone is Home Assistant's own ``mobile_app`` integration: a device is registered
through its HTTP registration API with ``app_data.push_url`` pointing at an aiohttp
server on 127.0.0.1, so every push HA sends is a real HTTP POST we can read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import slugify
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockUser,
    async_fire_time_changed,
)

from custom_components.smart_care.const import DOMAIN

from .device_lookup import all_devices, find_device

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINTS = ROOT / "blueprints" / "automation" / "smart_care"
BUNDLED = ROOT / "custom_components" / "smart_care" / "blueprints"
BLUEPRINT_FILES = sorted(p.name for p in BLUEPRINTS.glob("*.yaml"))


# Automation runs and the nested sequences (if/then, repeat) they run as their own tasks.
_SCRIPT_RUNS = ("AutomationEntity._async_trigger_if_enabled", "Script.async_run")


def _script_run(task: asyncio.Future[Any]) -> bool:
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    return getattr(coro, "__qualname__", "") in _SCRIPT_RUNS


async def settle(hass: HomeAssistant) -> None:
    """``async_block_till_done`` that does not wait for automation runs themselves.

    A blueprint run parked in a ``delay`` or ``wait_for_trigger`` is a pending HA task until
    its timer fires, so ``async_block_till_done`` would wait for the clock the test holds.
    This waits for everything else (service calls, executor jobs, pushes) until the loop
    has been quiet for a few rounds.
    """
    quiet = 0
    while quiet < 3:
        await asyncio.sleep(0)
        pending = [t for t in hass._tasks if not t.done() and not _script_run(t)]
        if pending:
            quiet = 0
            await asyncio.wait(pending, timeout=10)
        elif hass.loop._ready:  # type: ignore[attr-defined]
            # Something is still runnable (a script run moving to its next step).
            quiet = 0
        else:
            quiet += 1


async def at(hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: str) -> None:
    """Move the clock to ``when``, fire the timers that became due, and settle."""
    freezer.move_to(when)
    async_fire_time_changed(hass)
    await settle(hass)


async def tick(hass: HomeAssistant, freezer: Any, **delta: float) -> None:
    """Move the clock forward, fire the timers that became due, and settle."""
    freezer.tick(timedelta(**delta))
    async_fire_time_changed(hass)
    await settle(hass)


@asynccontextmanager
async def private_config(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[Path]:
    """Give this test's HA its own config dir (record DB, blueprints) under tmp_path.

    Afterwards the automations are switched off, so that no time trigger is left
    scheduled when HA stops. Test modules use it in an autouse fixture, so that it runs
    before the household is set up.
    """
    hass.config.config_dir = str(tmp_path)
    yield tmp_path
    if hass.services.has_service("automation", "turn_off"):
        await hass.services.async_call(
            "automation", "turn_off", {"entity_id": "all"}, blocking=True
        )


@pytest.fixture(name="config_dir", autouse=True)
async def config_dir_fixture(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[Path]:
    """Record DB and blueprints in tmp_path, before the household is set up."""
    async with private_config(hass, tmp_path) as path:
        yield path


async def record(hass: HomeAssistant, person: str = "Grandma", **values: Any) -> None:
    """Record a measurement for ``person`` through smart_care.record_measurement, and settle."""
    await hass.services.async_call(
        DOMAIN, "record_measurement", {"person": person, **values}, blocking=True
    )
    await settle(hass)


def copy_blueprint(hass: HomeAssistant, name: str) -> Path:
    """Copy a canonical blueprint where HA's automation blueprints live."""
    target = Path(hass.config.path("blueprints", "automation", "smart_care"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BLUEPRINTS / name, target / name)
    return target / name


async def setup_blueprint_automations(
    hass: HomeAssistant, name: str, *inputs: dict[str, Any]
) -> None:
    """Set up ``automation`` with one automation per input set, all from one blueprint."""
    await hass.async_add_executor_job(copy_blueprint, hass, name)
    config = [
        {
            "id": f"{name}-{index}",
            "alias": f"{name} {index}",
            "use_blueprint": {"path": f"smart_care/{name}", "input": values},
        }
        for index, values in enumerate(inputs)
    ]
    assert await async_setup_component(hass, "automation", {"automation": config})
    await hass.async_block_till_done()
    for index in range(len(inputs)):
        state = hass.states.get(f"automation.{slugify(f'{name} {index}')}")
        assert state is not None
        assert state.state == "on", state


@dataclass
class Phone:
    """A registered Companion-app phone and what HA pushed to it."""

    device_id: str
    notify_service: str
    webhook_id: str = ""
    client: Any = None
    pushes: list[dict[str, Any]] = field(default_factory=list)

    async def tap(self, action: str) -> None:
        """Tap a notification button: the app fires the event through its webhook."""
        response = await self.client.post(
            f"/api/webhook/{self.webhook_id}",
            json={
                "type": "fire_event",
                "data": {
                    "event_type": "mobile_app_notification_action",
                    "event_data": {"action": action},
                },
            },
        )
        assert response.status == 200, await response.text()

    def messages(self) -> list[str]:
        """Message of every push, in order."""
        return [p["message"] for p in self.pushes]

    def take(self) -> list[dict[str, Any]]:
        """Pushes received so far; forget them."""
        taken, self.pushes[:] = list(self.pushes), []
        return taken


type PhoneFactory = Callable[[str], Awaitable[Phone]]


async def make_phone_factory(
    hass: HomeAssistant, hass_client: Any, hass_admin_user: MockUser, aiohttp_server: Any
) -> PhoneFactory:
    """Register phones through mobile_app's registration API, each with a push server.

    Arguments are the pytest fixtures of the same names.
    """
    assert await async_setup_component(hass, "mobile_app", {})
    await hass.async_block_till_done()

    async def _register(name: str) -> Phone:
        # A token issued now: tests move the clock before registering.
        refresh = await hass.auth.async_create_refresh_token(hass_admin_user, CLIENT_ID)
        client = await hass_client(hass.auth.async_create_access_token(refresh))
        phone = Phone(device_id="", notify_service="")

        async def _push(request: web.Request) -> web.Response:
            phone.pushes.append(await request.json())
            return web.json_response({}, status=201)

        app = web.Application()
        app.router.add_post("/push", _push)
        server = await aiohttp_server(app, host="127.0.0.1")
        app_device_id = f"device-{slugify(name)}"
        response = await client.post(
            "/api/mobile_app/registrations",
            json={
                "app_id": "io.robbie.HomeAssistant",
                "app_name": "Home Assistant",
                "app_version": "2025.4.1",
                "device_id": app_device_id,
                "device_name": name,
                "manufacturer": "Apple",
                "model": "iPhone16,2",
                "os_name": "iOS",
                "os_version": "18.4",
                "supports_encryption": False,
                "app_data": {
                    "push_url": f"http://127.0.0.1:{server.port}/push",
                    "push_token": f"token-{slugify(name)}",
                },
            },
        )
        assert response.status == 201, await response.text()
        phone.webhook_id = (await response.json())["webhook_id"]
        phone.client = client
        await hass.async_block_till_done()
        device = find_device(hass, identifier=("mobile_app", app_device_id))
        assert device is not None
        phone.device_id = device.id
        phone.notify_service = f"mobile_app_{slugify(name)}"
        assert hass.services.has_service("notify", phone.notify_service)
        return phone

    return _register


@pytest.fixture(name="phone_factory")
async def phone_factory_fixture(
    hass: HomeAssistant, hass_client: Any, hass_admin_user: MockUser, aiohttp_server: Any
) -> PhoneFactory:
    """Real mobile_app phones with push servers on 127.0.0.1."""
    return await make_phone_factory(hass, hass_client, hass_admin_user, aiohttp_server)


def person_device(hass: HomeAssistant, alias: str) -> str:
    """Device id of a Smart Care person (the blueprints' person selector picks these)."""
    for device in all_devices(hass):
        if device.name == alias and any(d == "smart_care" for d, _ in device.identifiers):
            return device.id
    raise AssertionError(f"no Smart Care device for {alias}")
