"""Tests of device/: Bluetooth health devices (discovery, GATT sessions, glucose records)."""
