"""A simulated Bluetooth proxy, plugged into HA the way ESPHome Bluetooth proxies are.

ESPHome proxies register a ``habluetooth.BaseHaRemoteScanner`` with
``bluetooth.async_register_scanner`` and hand every advertisement they hear to
``_async_on_advertisement``; connections go through the ``HaBluetoothConnector`` client
class. This proxy does the same, with the simulated devices of ``devices.py`` as the only
things in radio range.
"""

from __future__ import annotations

import random

from habluetooth import BaseHaRemoteScanner, BluetoothScanningMode, HaBluetoothConnector
from homeassistant.components.bluetooth import MONOTONIC_TIME

from .devices import SimulatedDevice, SimulatedGattClient, sig


class SimulatedBluetoothProxy(BaseHaRemoteScanner):
    """A connectable remote scanner whose radio hears the simulated devices."""

    def __init__(self, source: str, name: str) -> None:
        """Connectable, with the simulated GATT client as its connection backend."""
        connector = HaBluetoothConnector(
            client=SimulatedGattClient, source=source, can_connect=lambda: True
        )
        super().__init__(
            source,
            name,
            connector,
            True,
            BluetoothScanningMode.ACTIVE,
            BluetoothScanningMode.ACTIVE,
        )
        self._rng = random.Random(source)

    def hear(self, device: SimulatedDevice) -> None:
        """One advertisement of ``device`` reaches the proxy."""
        self._async_on_advertisement(
            device.address,
            -58 - self._rng.randint(0, 12),
            device.name,
            [sig(short) for short in device.advertised],
            {},
            {},
            None,
            {},
            MONOTONIC_TIME(),
        )
