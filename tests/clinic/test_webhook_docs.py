"""docs/clinic.md's shell examples, run as written against a real HA webhook on 127.0.0.1.

The blocks are taken from the page itself (marked ``<!-- tested-example: NAME -->``), so a
change to the documented signing recipe, headers or answers that breaks clinics breaks
this test.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import re
import shutil

from homeassistant.core import HomeAssistant
import pyotp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from tests.support.clinic_support import household, link_clinic, only_link

DOC = Path(__file__).resolve().parents[2] / "docs" / "clinic.md"

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("bash", "curl", "openssl")),
    reason="the documented example needs bash, curl and openssl",
)


def example(name: str) -> str:
    """The fenced block right after ``<!-- tested-example: name -->``."""
    match = re.search(
        rf"<!-- tested-example: {re.escape(name)} -->\s*```\w*\n(.*?)```", DOC.read_text(), re.S
    )
    assert match, name
    return match.group(1)


def documented_answer() -> str:
    match = re.search(r"It answers `([^`]+)` with status 201", DOC.read_text())
    assert match
    return match.group(1)


async def run_bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_documented_examples_work(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_household: MockConfigEntry,
    grandma: str,
    tmp_path: Path,
) -> None:
    _, data, shown = await link_clinic(hass, loaded_household, transport="folder")
    (person_id,) = household(hass).people
    pseudonym = only_link(hass).outbox.pseudonym(person_id)
    client = await hass_client_no_auth()
    # The household showed these once; the clinic uses exactly them.
    url = str(client.make_url(f"/api/webhook/{data['webhook_id']}"))
    assert shown["webhook_url"].endswith(f"/api/webhook/{data['webhook_id']}")
    secret = shown["hmac_secret"]

    body = example("advice-body").replace("sc-REPLACE-WITH-THE-PSEUDONYM", pseudonym)
    (tmp_path / "body.json").write_text(body)
    out = await run_bash(example("send"), tmp_path, {"URL": url, "SECRET": secret})
    assert out == documented_answer()
    (stored,) = await hass.async_add_executor_job(household(hass).store.advice)
    assert stored["text"] == json.loads(body)["text"]

    # Thresholds need the TOTP header: the second documented block.
    thresholds = {
        "type": "thresholds",
        "person": pseudonym,
        "thresholds": {"systolic_bp": {"warning_high": 150}},
    }
    (tmp_path / "body.json").write_text(json.dumps(thresholds))
    totp = pyotp.TOTP(shown["totp_secret"]).now()
    assert shown["totp_uri"].startswith("otpauth://totp/")
    out = await run_bash(
        example("send-with-totp"), tmp_path, {"URL": url, "SECRET": secret, "TOTP": totp}
    )
    assert json.loads(out) == {"status": "updated"}
    # Without the TOTP header, the documented status and error.
    thresholds["thresholds"] = {"systolic_bp": {"warning_high": 145}}
    (tmp_path / "body.json").write_text(json.dumps(thresholds))
    out = await run_bash(example("send"), tmp_path, {"URL": url, "SECRET": secret})
    assert json.loads(out) == {"error": "missing_totp"}
    assert "`missing_totp`" in DOC.read_text()
