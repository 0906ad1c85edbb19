"""Bluetooth health devices: one runtime per device entry (docs/architecture.md)."""
