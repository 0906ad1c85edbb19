"""Smart Care demo devices: a simulated Bluetooth proxy with four health devices.

Demo only: this component is not part of the Smart Care integration. ``scripts/run``
links it into the demo configuration. It gives Home Assistant what a house with an
ESPHome Bluetooth proxy and four Bluetooth SIG health devices would give it:

* a connectable remote scanner (``proxy.py``) registered with HA's ``bluetooth``
  component, hearing the devices' advertisements (blood pressure 0x1810, pulse oximeter
  0x1822, weight scale 0x181D, glucose 0x1808);
* a bleak backend (``devices.py``) that answers Smart Care's connections with
  spec-correct GATT bytes (``payloads.py``);
* a story (``scenario.py``): two weeks of device memory on the first start, then a live
  timeline with an abnormal episode two minutes in.

Smart Care discovers the devices through its own Bluetooth discovery; connecting,
decoding, attribution, the record, assessment and alerts are all the integration's code.

Configuration (written by scripts/demo.py)::

    smart_care_demo:
      fast: false   # true: the timeline ten times faster (tests)

A stand-in push service (``push.py``) turns pushes to the demo's "Family phone" (a real
``mobile_app`` registration) into persistent notifications.

Services: ``smart_care_demo.start`` starts the story (called by scripts/demo.py once the
devices are set up; later calls do nothing); ``smart_care_demo.measure`` makes someone
measure now, e.g. ``{device: cuff, person: grandma, values: [190, 115, 100]}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.components import bluetooth
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, ServiceCall, SupportsResponse, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util
import voluptuous as vol

from . import scenario
from .devices import (
    BloodPressureCuff,
    GlucoseMeter,
    IndicatingDevice,
    PulseOximeter,
    SimulatedDevice,
    SimulatedGattClient,
    WeightScale,
)
from .proxy import SimulatedBluetoothProxy
from .push import PHONE_NAME, PUSH_PATH, DemoPushView, new_token

_LOGGER = logging.getLogger(__name__)

DOMAIN = "smart_care_demo"
EVENT_MEASURED = "smart_care_demo_measured"
ADVERTISING_INTERVAL = timedelta(seconds=2)
PAIRING_SECONDS = 40.0
# Devices with memory wake one after another when the story starts.
MEMORY_WAKE = {"cuff": 2.0, "scale": 6.0, "meter": 10.0}

CONFIG_SCHEMA = vol.Schema(
    {DOMAIN: vol.Schema({vol.Optional("fast", default=False): cv.boolean})},
    extra=vol.ALLOW_EXTRA,
)
MEASURE_SCHEMA = vol.Schema(
    {
        vol.Required("device"): vol.In(list(scenario.DEVICES)),
        vol.Optional("person", default="grandma"): vol.In(list(scenario.PEOPLE)),
        vol.Required("values"): vol.All(cv.ensure_list, [vol.Coerce(float)]),
    }
)


def _now_local() -> datetime:
    """HA's local wall time without a zone, as a device clock keeps it."""
    return dt_util.now().replace(tzinfo=None, microsecond=0)


class DemoHouse:
    """The proxy, the devices, the story and what must survive a restart."""

    def __init__(self, hass: HomeAssistant, fast: bool) -> None:
        """Build the devices; nothing runs until ``async_setup``."""
        self.hass = hass
        self.fast = fast
        heights = {p.user: p.height_m for p in scenario.PEOPLE.values()}
        spec = scenario.DEVICES
        self.devices: dict[str, SimulatedDevice] = {
            "cuff": BloodPressureCuff(spec["cuff"].address, spec["cuff"].name, _now_local),
            "oximeter": PulseOximeter(spec["oximeter"].address, spec["oximeter"].name, _now_local),
            "scale": WeightScale(spec["scale"].address, spec["scale"].name, _now_local, heights),
            "meter": GlucoseMeter(spec["meter"].address, spec["meter"].name, _now_local),
        }
        self.proxy = SimulatedBluetoothProxy(scenario.PROXY_SOURCE, scenario.PROXY_NAME)
        self.store: Store[dict[str, Any]] = Store(hass, 1, DOMAIN, private=True)
        self.state: dict[str, Any] = {}
        self.started = False
        self._unsubs: list[Callable[[], None]] = []

    @property
    def meter(self) -> GlucoseMeter:
        """The glucose meter."""
        meter = self.devices["meter"]
        assert isinstance(meter, GlucoseMeter)
        return meter

    async def async_setup(self) -> None:
        """Restore the meter's records, register the proxy, start advertising."""
        self.state = await self.store.async_load() or {}
        meter_state = self.state.get("meter", {})
        self.meter.records = [
            (seq, bytes.fromhex(raw)) for seq, raw in meter_state.get("records", [])
        ]
        self.meter.next_sequence = meter_state.get("next_sequence", 1)
        self.meter.fetched_up_to = self.meter.next_sequence - 1
        SimulatedGattClient.devices = {d.address: d for d in self.devices.values()}
        for device in self.devices.values():
            device.on_wake = self._heard
        self._unsubs.append(
            bluetooth.async_register_scanner(
                self.hass,
                self.proxy,
                connection_slots=3,
                source_domain=DOMAIN,
                source_model="Simulated Bluetooth proxy",
            )
        )
        self._unsubs.append(self.proxy.async_setup())
        self._unsubs.append(
            async_track_time_interval(
                self.hass, self._advertise, ADVERTISING_INTERVAL, cancel_on_shutdown=True
            )
        )
        # Fresh out of the box: every device advertises for a while so it can be added.
        for device in self.devices.values():
            device.wake(PAIRING_SECONDS)

    @callback
    def _heard(self, device: SimulatedDevice) -> None:
        self.proxy.hear(device)

    @callback
    def _advertise(self, _now: datetime) -> None:
        for device in self.devices.values():
            if device.awake:
                self.proxy.hear(device)

    def _save(self) -> None:
        self.state["meter"] = {
            "records": [[seq, raw.hex()] for seq, raw in self.meter.records[-500:]],
            "next_sequence": self.meter.next_sequence,
        }
        self.store.async_delay_save(lambda: self.state, 1.0)

    @callback
    def async_start(self) -> bool:
        """Start the story (once per run); True if it started now."""
        if self.started:
            return False
        self.started = True
        if not self.state.get("memory_loaded"):
            self._load_memory()
        steps = scenario.timeline(self.fast)
        for step in steps:
            self._unsubs.append(async_call_later(self.hass, step.at, self._step_action(step)))
        _LOGGER.info(
            "Demo story started%s: %d measurements scheduled",
            " (fast)" if self.fast else "",
            len(steps),
        )
        return True

    def _load_memory(self) -> None:
        """Two weeks of earlier measurements, waiting in the devices' memories."""
        for m in scenario.memory(_now_local()):
            self._measure(m.device, m.person, m.values, m.when)
        self.state["memory_loaded"] = True
        self._save()
        for key, delay in MEMORY_WAKE.items():
            device = self.devices[key]

            @callback
            def _wake(_now: datetime, device: SimulatedDevice = device) -> None:
                device.wake()

            self._unsubs.append(async_call_later(self.hass, delay, _wake))
        _LOGGER.info("Devices hold %d days of earlier measurements", scenario.MEMORY_DAYS)

    def _step_action(self, step: scenario.Measurement) -> Callable[[datetime], None]:
        @callback
        def _run(_now: datetime) -> None:
            self.async_measure(step.device, step.person, step.values, step.story, step.abnormal)

        return _run

    def _measure(
        self, key: str, person: str, values: tuple[float, ...], when: datetime | None
    ) -> None:
        user = scenario.PEOPLE[person].user
        device = self.devices[key]
        if isinstance(device, BloodPressureCuff):
            systolic, diastolic, pulse = (round(v) for v in values)
            device.measure(user, systolic, diastolic, pulse, when)
        elif isinstance(device, PulseOximeter):
            spo2, pulse = (round(v) for v in values)
            device.measure(spo2, pulse)
        elif isinstance(device, WeightScale):
            device.measure(user, values[0], when)
        elif isinstance(device, GlucoseMeter):
            device.measure(values[0], when)
            self._save()

    @callback
    def async_measure(
        self,
        key: str,
        person: str,
        values: tuple[float, ...],
        story: str = "",
        abnormal: bool = False,
    ) -> None:
        """Someone measures now; the device wakes and advertises until collected."""
        self._measure(key, person, values, None)
        device = self.devices[key]
        _LOGGER.info(
            "%s: %s measures on %s: %s%s",
            story or "Measurement",
            scenario.PEOPLE[person].alias,
            device.name,
            ", ".join(f"{v:g}" for v in values),
            " (abnormal episode)" if abnormal else "",
        )
        self.hass.bus.async_fire(
            EVENT_MEASURED,
            {
                "device": key,
                "device_name": device.name,
                "person": scenario.PEOPLE[person].alias,
                "values": list(values),
                "story": story,
                "abnormal": abnormal,
            },
        )
        device.wake()

    async def async_stop(self, _event: Event | None = None) -> None:
        """Stop timers and advertising; keep the meter's records."""
        while self._unsubs:
            self._unsubs.pop()()
        for device in self.devices.values():
            device.sleep()
            if isinstance(device, IndicatingDevice):
                device.pending.clear()
        await self.store.async_save(self.state)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the demo house from YAML."""
    conf = config.get(DOMAIN, {})
    house = DemoHouse(hass, bool(conf.get("fast", False)))
    await house.async_setup()
    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, house.async_stop)

    async def _start(call: ServiceCall) -> dict[str, Any]:
        return {"started": house.async_start(), "fast": house.fast}

    if not house.state.get("push_token"):
        house.state["push_token"] = new_token()
        await house.store.async_save(house.state)
    hass.http.register_view(DemoPushView(house.state["push_token"]))

    async def _push_target(call: ServiceCall) -> dict[str, Any]:
        return {"path": PUSH_PATH, "token": house.state["push_token"], "phone": PHONE_NAME}

    async def _measure(call: ServiceCall) -> None:
        house.async_measure(
            call.data["device"], call.data["person"], tuple(call.data["values"]), "By hand"
        )

    hass.services.async_register(
        DOMAIN, "start", _start, supports_response=SupportsResponse.OPTIONAL
    )
    hass.services.async_register(DOMAIN, "measure", _measure, schema=MEASURE_SCHEMA)
    hass.services.async_register(
        DOMAIN, "push_target", _push_target, supports_response=SupportsResponse.ONLY
    )
    return True
