"""The pure core needs no Home Assistant: switch off the HA fixtures of tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No HA instance for pure tests."""


@pytest.fixture(autouse=True)
def auto_mock_bluetooth() -> None:
    """No bluetooth for pure tests."""
