"""Every translation renders in the frontend: the real intl-messageformat, run with Node.

Home Assistant's frontend formats each string with ``new IntlMessageFormat(text, language)``
and shows "Translation error: ..." when that fails (a stray ``{``, an unclosed ``<tag>``).
This runs the same library, pinned in tests/i18n/package-lock.json, over strings.json and
both translations.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
import shutil
import subprocess
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / "smart_care"
I18N = Path(__file__).resolve().parents[1] / "i18n"
SOURCES = {
    "strings.json": ("en", COMPONENT / "strings.json"),
    "en.json": ("en", COMPONENT / "translations" / "en.json"),
    "zh-Hans.json": ("zh-Hans", COMPONENT / "translations" / "zh-Hans.json"),
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# An apostrophe before a brace or another apostrophe starts ICU quoting.
QUOTING = re.compile(r"'[{}']")


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(node, str):
        yield path, node


def _installed() -> bool:
    lock = json.loads((I18N / "package-lock.json").read_text(encoding="utf-8"))
    wanted = lock["packages"]["node_modules/intl-messageformat"]["version"]
    installed = I18N / "node_modules" / "intl-messageformat" / "package.json"
    return installed.exists() and json.loads(installed.read_text())["version"] == wanted


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, dict[str, Any]]]:
    """file -> key path -> what intl-messageformat made of the string."""
    node = shutil.which("node")
    assert node, "Node.js is needed to check the translations"
    if not _installed():
        # scripts/test installs it on the host; the rootfs of the newest side has no npm.
        npm = shutil.which("npm")
        assert npm, "npm is needed to install intl-messageformat (npm ci --prefix tests/i18n)"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=I18N,
            check=True,
            timeout=300,
        )
    messages = [
        {"id": f"{name}|{key}", "text": text, "locale": locale}
        for name, (locale, path) in SOURCES.items()
        for key, text in _leaves(json.loads(path.read_text(encoding="utf-8")))
    ]
    done = subprocess.run(
        [node, str(I18N / "render.mjs")],
        input=json.dumps(messages),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SOURCES}
    for item in json.loads(done.stdout):
        name, key = item["id"].split("|", 1)
        result[name][key] = item
    assert sum(len(v) for v in result.values()) == len(messages)
    return result


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_string_renders(rendered: dict[str, dict[str, dict[str, Any]]], name: str) -> None:
    texts = dict(_leaves(json.loads(SOURCES[name][1].read_text(encoding="utf-8"))))
    failures: list[str] = []
    for key, item in rendered[name].items():
        text = texts[key]
        if "error" in item:
            failures.append(f"{key}: Translation error: {item['error']}")
            continue
        # What looks like a placeholder is one, and nothing else is.
        if set(item["args"]) != set(PLACEHOLDER.findall(text)):
            failures.append(f"{key}: placeholders {item['args']} in {text!r}")
            continue
        out = item["rendered"]
        if QUOTING.search(text):
            # Quoted braces come out as braces; the quotes themselves disappear.
            if "'{" in out or "}'" in out:
                failures.append(f"{key}: quoting shows in {out!r}")
        elif out != PLACEHOLDER.sub(lambda m: f"«{m.group(1)}»", text):
            failures.append(f"{key}: renders as {out!r}")
    assert not failures, "\n".join(failures)


def test_languages_share_placeholders(rendered: dict[str, dict[str, dict[str, Any]]]) -> None:
    english = rendered["en.json"]
    chinese = rendered["zh-Hans.json"]
    assert set(english) == set(chinese)
    differ = [
        key
        for key, item in english.items()
        if item.get("args") != chinese[key].get("args") and "error" not in item
    ]
    assert not differ


def test_the_known_failures_are_caught(rendered: dict[str, dict[str, dict[str, Any]]]) -> None:
    """The check itself sees what the frontend showed before (issue 18)."""
    messages = [
        {"id": "folder", "text": "Empty: smart_care_outbox/<link> here.", "locale": "en"},
        {"id": "json", "text": 'e.g. {"systolic_bp": {"warning_high": 150}}.', "locale": "zh-Hans"},
        {"id": "quoted", "text": 'e.g. \'{"a": {"b": 1}}\' for {name}.', "locale": "en"},
    ]
    node = shutil.which("node")
    assert node
    assert _installed()  # by the rendered fixture
    done = subprocess.run(
        [node, str(I18N / "render.mjs")],
        input=json.dumps(messages),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    by_id = {item["id"]: item for item in json.loads(done.stdout)}
    assert by_id["folder"]["error"] == "UNCLOSED_TAG"
    assert by_id["json"]["error"] == "MALFORMED_ARGUMENT"
    assert by_id["quoted"]["rendered"] == 'e.g. {"a": {"b": 1}} for «name».'
