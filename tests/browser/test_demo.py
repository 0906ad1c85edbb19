"""A new user sees it work: the demo in a real browser (headless Chromium).

Starts the README's run command headless with the fast story, logs in through Home
Assistant's real login page, opens the Smart Care dashboard, sees both people's vitals
and Grandma's open alerts from the abnormal episode, presses Acknowledge and sees the
alerts acknowledged. Screenshots go to artifacts/ (git-ignored); with
SMART_CARE_UPDATE_SCREENSHOT=1 the dashboard screenshot also replaces
docs/screenshot-dashboard.png.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``); scripts/test
installs them when it runs as root. Without them the test fails as root (CI) and is
skipped otherwise. Selenium gets the driver path explicitly, so Selenium Manager never
downloads anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
import os
from pathlib import Path
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any
import urllib.request

import pytest
import pytest_socket

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1600,2300",
    "--lang=en-US",
)

# Finds elements through every shadow root (HA's frontend is web components).
DEEP_QUERY = """
const selector = arguments[0];
const found = [];
(function walk(root) {
  for (const el of root.querySelectorAll('*')) {
    if (el.matches(selector)) found.push(el);
    if (el.shadowRoot) walk(el.shadowRoot);
  }
})(document);
return found;
"""
# The text a user sees, shadow DOM included (style sheets left out).
DEEP_TEXT = """
function text(node) {
  let out = '';
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) out += child.textContent;
    else if (child.nodeType === Node.ELEMENT_NODE && child.localName !== 'style') {
      if (child.shadowRoot) out += ' ' + text(child.shadowRoot);
      out += ' ' + text(child);
    }
  }
  return out;
}
return text(document.body).replace(/\\s+/g, ' ');
"""
# Text of the card that contains an element (to read one person's alert list).
CARD_TEXT = """
const el = arguments[0];
function text(node) {
  let out = '';
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) out += child.textContent;
    else if (child.nodeType === Node.ELEMENT_NODE && child.localName !== 'style') {
      if (child.shadowRoot) out += ' ' + text(child.shadowRoot);
      out += ' ' + text(child);
    }
  }
  return out;
}
return text(el.shadowRoot || el).replace(/\\s+/g, ' ');
"""


def _have_browser() -> bool:
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


@pytest.fixture
def loopback_sockets(socket_enabled: None) -> Iterator[None]:
    """Selenium talks HTTP to chromedriver, the test to the demo: loopback only."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "localhost"])
    return


class Demo:
    """The run command as a child process, read line by line."""

    def __init__(self, demo_dir: Path, lang: str = "en") -> None:
        env = dict(os.environ)
        env |= {
            "SMART_CARE_HEADLESS": "1",
            "SMART_CARE_PORT": "auto",
            "SMART_CARE_DEMO_DIR": str(demo_dir),
            "SMART_CARE_DEMO_FAST": "1",
            "SMART_CARE_LANG": lang,
        }
        self.dir = demo_dir
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "demo.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_ready(self, timeout: float) -> tuple[str, str, str]:
        """(base URL, password, token) once the demo printed its login."""
        deadline = time.monotonic() + timeout
        base = password = token = ""
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if match := re.search(r"Smart Care is running at (http://127\.0\.0\.1:\d+)", line):
                base = match.group(1)
            elif match := re.match(r"\s+password:\s+(\S+)", line):
                password = match.group(1)
            elif match := re.match(r"\s+token:\s+(\S+)", line):
                token = match.group(1)
            if base and password and token:
                return base, password, token
        pytest.fail("the demo did not print its login:\n" + "".join(self.output))

    def stop(self) -> int:
        """Stop like Ctrl-C would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # The reader sees the pipe's end once the process is gone; then the pipe is closed.
        self.reader.join(timeout=30)
        if not self.reader.is_alive() and self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def _states(base: str, token: str) -> dict[str, dict[str, Any]]:
    request = urllib.request.Request(
        f"{base}/api/states", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return {s["entity_id"]: s for s in json.load(reply)}


def _wait(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.timeout(600)
def test_dashboard_in_a_real_browser(tmp_path: Path, loopback_sockets: None) -> None:
    if not _have_browser():
        if os.geteuid() == 0:
            pytest.fail(
                "chromium/chromedriver missing: scripts/test installs them as root"
                " (apt-get install -y chromium chromium-driver)"
            )
        pytest.skip("chromium is not installed and cannot be installed without root")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys

    ARTIFACTS.mkdir(exist_ok=True)
    started = time.monotonic()

    def phase(name: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {name}", flush=True)

    demo = Demo(tmp_path / "demo")
    driver = None
    try:
        base, password, token = demo.wait_ready(240)
        phase("demo ready")
        options = Options()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
            options.add_argument(flag)
        os.environ.setdefault("SE_OFFLINE", "true")
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        driver.set_page_load_timeout(60)
        phase("chromium started")

        def deep(selector: str) -> list[Any]:
            return list(driver.execute_script(DEEP_QUERY, selector))

        def page_text() -> str:
            return str(driver.execute_script(DEEP_TEXT))

        # The real login page: username and password fields inside HA's web components.
        driver.get(base + "/")
        _wait("the login form", lambda: deep("input[name=password]"), 60, 0.5)
        deep("input[name=username]")[0].send_keys("owner")
        field = deep("input[name=password]")[0]
        field.send_keys(password)
        field.send_keys(Keys.ENTER)
        _wait(
            "the login to finish",
            lambda: "auth_callback" not in driver.current_url
            and "/auth/" not in driver.current_url,
            60,
            0.5,
        )

        phase("logged in")
        driver.get(base + "/smart-care/family")
        _wait("the dashboard", lambda: "Grandpa" in page_text() and "Grandma" in page_text(), 90)

        # Both people's vitals, as Smart Care recorded them from the simulated devices.
        def vitals_shown() -> bool:
            states = _states(base, token)
            text = page_text()
            wanted = [
                states["sensor.grandpa_systolic_blood_pressure"],
                states["sensor.grandpa_weight"],
                states["sensor.grandma_blood_glucose"],
                states["sensor.grandma_oxygen_saturation"],
            ]
            try:
                values = [float(s["state"]) for s in wanted]
            except ValueError:
                return False
            shown = [f"{values[0]:.0f} mmHg", f"{values[1]:.1f} kg", f"{values[2]:.1f} mmol/L"]
            return all(v in text for v in shown) and f"{values[3]:.0f}%" in text

        _wait("both people's vitals on the dashboard", vitals_shown, 90)
        phase("vitals shown")

        # The abnormal episode: Grandma's open alerts, listed on her status card.
        def episode_shown() -> bool:
            text = page_text()
            serious = "Health status: Critical" in text or "Health status: Urgent" in text
            return serious and " open · " in text

        _wait("Grandma's open alerts", episode_shown, 120)
        phase("open alerts shown")
        time.sleep(3)  # let the graphs finish drawing for the screenshot
        shot = ARTIFACTS / "browser-dashboard-alert.png"
        driver.save_screenshot(str(shot))
        if os.environ.get("SMART_CARE_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, ROOT / "docs" / "screenshot-dashboard.png")
        open_ids = {
            a["alert_id"]
            for a in _states(base, token)["sensor.grandma_health_status"]["attributes"]["alerts"]
            if a["status"] == "open"
        }
        assert open_ids

        # Acknowledge: the tile calls the acknowledge script for Grandma.
        tiles = [
            t
            for t in deep("hui-tile-card")
            if "Acknowledge Grandma" in str(driver.execute_script(CARD_TEXT, t))
        ]
        assert tiles, "no Acknowledge tile for Grandma"
        target = driver.execute_script(
            "return arguments[0].shadowRoot.querySelector('ha-card')", tiles[0]
        )
        target.click()

        def acknowledged() -> bool:
            alerts = _states(base, token)["sensor.grandma_health_status"]["attributes"]["alerts"]
            by_id = {a["alert_id"]: a["status"] for a in alerts}
            return all(by_id.get(i, "resolved") != "open" for i in open_ids)

        _wait("the alerts to be acknowledged in Smart Care", acknowledged, 60)
        _wait(
            "the dashboard to show them acknowledged", lambda: " acknowledged · " in page_text(), 60
        )

        # A visible confirmation, in the viewer's language: a notification.
        def confirmation() -> list[str]:
            found = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                " document.querySelector('home-assistant').hass"
                ".callWS({type: 'persistent_notification/get'})"
                ".then((items) => done(items.map((n) => n.title || '')), () => done([]));"
            )
            return [title for title in found if "Grandma's alerts acknowledged" in title]

        _wait("the acknowledgement to be confirmed", confirmation, 30, 0.5)
        phase("acknowledged")
        driver.save_screenshot(str(ARTIFACTS / "browser-dashboard-acknowledged.png"))
    finally:
        if driver is not None:
            driver.quit()
        code = demo.stop()
    assert code == 0, "".join(demo.output)
    log = (tmp_path / "demo" / "home-assistant.out").read_text()
    errors = [
        line
        for line in log.splitlines()
        if " ERROR " in line and ("smart_care" in line or "automation" in line)
    ]
    assert not errors, "\n".join(errors)
    print(f"browser test took {time.monotonic() - started:.0f} s")
