"""One place says which Home Assistant versions Smart Care supports: the requirements pins.

``requirements/oldest.txt`` and ``requirements/newest.txt`` each pin ``homeassistant==``;
scripts/test runs the suite on both. hacs.json (read by HACS and HA's built-in Marketplace)
and the README must agree with them, and the suite must be running on one of them.
"""

from __future__ import annotations

import json
from pathlib import Path
import re

from homeassistant.const import __version__ as HA_VERSION

ROOT = Path(__file__).resolve().parents[2]


def _pin(side: str) -> str:
    text = (ROOT / "requirements" / f"{side}.txt").read_text()
    found = re.findall(r"^homeassistant==(\S+)$", text, re.MULTILINE)
    assert len(found) == 1, side
    return found[0]


def test_hacs_json_minimum_is_the_oldest_tested() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["homeassistant"] == _pin("oldest")


def test_readme_names_the_tested_versions() -> None:
    readme = (ROOT / "README.md").read_text()
    for side in ("oldest", "newest"):
        assert f"Home Assistant {_pin(side)}" in readme, side


def test_suite_runs_on_a_supported_version() -> None:
    assert HA_VERSION in {_pin("oldest"), _pin("newest")}


def test_newest_is_newer() -> None:
    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    assert key(_pin("oldest")) < key(_pin("newest"))
