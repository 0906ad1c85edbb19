"""The README's run command brings up a real HA with the whole demo, in check mode.

The first start runs exactly as the README says (``scripts/run --check`` on a fresh folder,
the story at its real pace: it waits for readings scheduled up to 1:25 into the story); the
second start, which only has to show that nothing is created again, plays the story fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ("Demo BP Cuff", "Demo Oximeter", "Demo Scale", "Demo Glucose Meter")


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )


def test_run_command_starts_configured_home_assistant(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    env = dict(os.environ)
    env |= {
        "SMART_CARE_DEMO_DIR": str(demo),
        "SMART_CARE_PORT": "auto",
    }
    env.pop("SMART_CARE_FHIR_URL", None)
    env.pop("SMART_CARE_DEMO_FAST", None)
    proc = _run(env)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Smart Care is running at http://127.0.0.1:" in out
    assert "login:    owner" in out
    assert "person 'Grandma' added" in out
    assert "person 'Grandpa' added" in out
    for name in DEVICES:
        # Discovered by Smart Care's own Bluetooth discovery, confirmed by the demo.
        assert f"device '{name}' added" in out
    assert "dashboard 'smart-care' created" in out
    # Readings went device -> simulated proxy -> Smart Care's link and decoder -> record.
    assert "first readings arrived from the simulated devices" in out
    assert "2:00 Grandma 186/112 mmHg" in out
    creds = (demo / "credentials.json").stat()
    assert creds.st_mode & 0o777 == 0o600

    config = (demo / "config" / "configuration.yaml").read_text()
    # Loopback only: in the YAML (HA 2025.4) or HA's own HTTP settings store (HA 2026+).
    http_store = demo / "config" / ".storage" / "http"
    stored = json.loads(http_store.read_text())["data"] if http_store.exists() else {}
    if "stable" in stored:
        assert stored["stable"]["server_host"] == ["127.0.0.1"]
    else:
        assert "server_host: 127.0.0.1" in config
    # No zeroconf in the configuration; demo.py also refuses to run if HA loaded it.
    assert not [line for line in config.splitlines() if line.startswith("zeroconf")]
    assert "default_config" not in config
    assert (demo / "config" / "custom_components" / "smart_care_demo").is_symlink()
    # The clinic's FHIR bundles land in the demo's folder outbox.
    if "clinic 'Community clinic' linked" in out:
        bundles = list((demo / "fhir-outbox").glob("*.json"))
        assert bundles
        bundle = json.loads(bundles[0].read_text())
        assert bundle["resourceType"] == "Bundle"

    # A second start reuses the configuration: nothing is created or added again.
    again = _run(env | {"SMART_CARE_DEMO_FAST": "1"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "created" not in again.stdout
    assert "added" not in again.stdout
    assert "registered" not in again.stdout
    assert "first readings arrived" in again.stdout
    log = (demo / "home-assistant.out").read_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert not [line for line in errors if "smart_care" in line or "automation" in line], errors
