"""The family opens Grandma's visit report from the dashboard, in a real browser (issue 16).

The run command's Home Assistant (demo, English) in headless Chromium: log in, open the
Smart Care dashboard, press Grandma's "Visit report" button, read the page it opens. The
demo's devices hold two weeks of Grandma's readings (``scenario.memory``, seeded), so the
averages on the page are checked against a hand calculation over those values: ESC/ESH,
first day left out. The page is saved under artifacts/ and, with
SMART_CARE_UPDATE_SCREENSHOT=1, as docs/screenshot-report.png.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
import importlib.util
import json
import os
from pathlib import Path
import shutil
import sys
import time
from typing import Any
import urllib.request
from zoneinfo import ZoneInfo

import pytest

from .test_demo import (
    ARTIFACTS,
    CARD_TEXT,
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    DEEP_QUERY,
    ROOT,
    Demo,
    _have_browser,
    _wait,
    loopback_sockets,  # noqa: F401  (the fixture)
)

SCENARIO = ROOT / "scripts" / "demo_components" / "smart_care_demo" / "scenario.py"
DEMO_TZ = ZoneInfo("Asia/Shanghai")  # scripts/demo.py TIME_ZONE


def _scenario() -> Any:
    spec = importlib.util.spec_from_file_location("smart_care_demo_scenario_report", SCENARIO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _half_up(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def expected_figures() -> dict[str, str]:
    """Grandma's two weeks as the devices hold them, averaged by hand (exact decimals)."""
    memory = _scenario().memory(datetime.now(DEMO_TZ).replace(tzinfo=None))
    cuff = sorted(
        (m for m in memory if m.device == "cuff" and m.person == "grandma"), key=lambda m: m.when
    )
    first_day = cuff[0].when.date()
    kept = [m for m in cuff if m.when.date() != first_day]  # ESC/ESH: first day not counted
    systolic = Decimal(sum(m.values[0] for m in kept)) / len(kept)
    diastolic = Decimal(sum(m.values[1] for m in kept)) / len(kept)
    glucose = [Decimal(str(m.values[0])) for m in memory if m.device == "meter"]
    return {
        "readings": str(len(cuff)),
        "kept": str(len(kept)),
        "bp": f"{_half_up(systolic, 0)}/{_half_up(diastolic, 0)} mmHg",
        "glucose": f"{_half_up(sum(glucose) / len(glucose), 1)} mmol/L",
        "glucose_n": str(len(glucose)),
    }


def _report_data(base: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/api/services/smart_care/visit_report?return_response",
        data=json.dumps({"person": "Grandma"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return dict(json.load(reply)["service_response"])


@pytest.mark.timeout(600)
def test_family_opens_the_visit_report(tmp_path: Path, loopback_sockets: None) -> None:  # noqa: F811
    if not _have_browser():
        if os.geteuid() == 0:
            pytest.fail("chromium/chromedriver missing: scripts/test installs them as root")
        pytest.skip("chromium is not installed and cannot be installed without root")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    ARTIFACTS.mkdir(exist_ok=True)
    expected = expected_figures()
    demo = Demo(tmp_path / "demo")
    driver = None
    try:
        base, password, token = demo.wait_ready(240)
        # The devices' memories are downloaded once Smart Care connects: wait for all of it.
        _wait(
            "Grandma's two weeks of readings in the record",
            lambda: _report_data(base, token)["blood_pressure"]["readings"]
            == int(expected["readings"]),
            180,
        )
        options = Options()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
            options.add_argument(flag)
        os.environ.setdefault("SE_OFFLINE", "true")
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        driver.set_page_load_timeout(60)

        def deep(selector: str) -> list[Any]:
            return list(driver.execute_script(DEEP_QUERY, selector))

        driver.get(base + "/")
        _wait("the login form", lambda: deep("input[name=password]"), 60, 0.5)
        deep("input[name=username]")[0].send_keys("owner")
        field = deep("input[name=password]")[0]
        field.send_keys(password)
        field.send_keys(Keys.ENTER)
        _wait("the login", lambda: "/auth/" not in driver.current_url, 60, 0.5)

        # The dashboard: each person's section ends with a "Visit report" button.
        driver.get(base + "/smart-care/family")

        def report_buttons() -> list[Any]:
            return [
                b
                for b in deep("hui-button-card")
                if "Visit report" in str(driver.execute_script(CARD_TEXT, b))
            ]

        buttons = _wait("the Visit report buttons", report_buttons, 90, 0.5)
        assert len(buttons) == 2  # Grandma and Grandpa (sections in alphabetical order)
        home = driver.current_window_handle
        target = driver.execute_script(
            "return arguments[0].shadowRoot.querySelector('ha-card')", buttons[0]
        )
        # Cards above may still be growing as their states arrive: scroll the button into the
        # middle of the view and press it there (a native click can land on a moving card).
        driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", target
        )
        _wait("the report to open in a new tab", lambda: len(driver.window_handles) > 1, 30, 0.5)
        driver.switch_to.window(next(h for h in driver.window_handles if h != home))
        _wait(
            "Grandma's report",
            lambda: "Visit report · Grandma" in driver.find_element(By.TAG_NAME, "body").text,
            60,
            0.5,
        )
        assert "/smart_care/report/" in driver.current_url
        assert "authSig=" in driver.current_url  # a signed link: the page needs the login

        overall = driver.find_element(By.ID, "bp-overall").text
        assert overall == f"{expected['bp']} ({expected['kept']} readings)"
        assert driver.find_element(By.ID, "glucose-mean").text == (
            f"{expected['glucose']} ({expected['glucose_n']} readings)"
        )
        # Both charts drawn, with every reading and the target lines.
        bp_points = driver.find_elements(By.CSS_SELECTOR, "#bp-chart svg .point.systolic")
        assert len(bp_points) == int(expected["readings"])
        limits = driver.find_elements(By.CSS_SELECTOR, "#bp-chart svg .limit")
        assert sorted(e.get_attribute("data-value") for e in limits) == ["135", "85"]
        glucose_points = driver.find_elements(By.CSS_SELECTOR, "#glucose-chart svg .point")
        assert len(glucose_points) == int(expected["glucose_n"])
        # Readable, not just present: the chart has a real size on the page.
        assert driver.find_element(By.CSS_SELECTOR, "#bp-chart svg").size["height"] > 150

        driver.set_window_size(900, 2900)
        time.sleep(0.5)  # the resize settles before the picture (nothing is asserted on it)
        shot = ARTIFACTS / "browser-report.png"
        driver.save_screenshot(str(shot))
        if os.environ.get("SMART_CARE_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, ROOT / "docs" / "screenshot-report.png")

        # The person's device page links to the same report (configuration_url): the
        # frontend opens it as /smart-care-report/<person>, a panel that frames the page.
        person_id = driver.current_url.split("/smart_care/report/")[1].split("?")[0]
        driver.get(f"{base}/smart-care-report/{person_id}")
        frame = _wait("the report panel's frame", lambda: deep("iframe"), 60, 0.5)[0]
        driver.switch_to.frame(frame)
        _wait(
            "the report inside Home Assistant",
            lambda: driver.find_elements(By.ID, "bp-overall"),
            60,
            0.5,
        )
        assert driver.find_element(By.ID, "bp-overall").text == overall
        driver.switch_to.default_content()
    finally:
        if driver is not None:
            driver.quit()
        code = demo.stop()
    assert code == 0, "".join(demo.output)
