"""The README's run command brings up a real HA with Smart Care and a person."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def test_run_command_starts_configured_home_assistant(tmp_path: Path) -> None:
    env = dict(os.environ)
    env |= {"SMART_CARE_DEMO_DIR": str(tmp_path / "demo"), "SMART_CARE_PORT": "auto"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Smart Care is running at http://127.0.0.1:" in proc.stdout
    assert "login:    owner" in proc.stdout
    assert "person 'Grandma' added" in proc.stdout
    creds = (tmp_path / "demo" / "credentials.json").stat()
    assert creds.st_mode & 0o777 == 0o600
    # A second start reuses the configuration: no second household or person.
    again = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "created" not in again.stdout
    assert "added" not in again.stdout
    log = (tmp_path / "demo" / "home-assistant.out").read_text()
    assert "smart_care" not in "\n".join(line for line in log.splitlines() if " ERROR " in line)
