"""Stand-ins for hassfest (which cannot run here): manifest, translations, services, icons."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / "smart_care"

MANIFEST = json.loads((COMPONENT / "manifest.json").read_text())
STRINGS = json.loads((COMPONENT / "strings.json").read_text())
SOURCES = {p: p.read_text() for p in COMPONENT.rglob("*.py")}


def _leaves(node: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for key, value in node.items():
            out |= _leaves(value, f"{prefix}.{key}" if prefix else key)
        return out
    return {prefix: node}


def test_manifest_key_order() -> None:
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_required_keys() -> None:
    for key in (
        "codeowners",
        "config_flow",
        "dependencies",
        "documentation",
        "integration_type",
        "iot_class",
        "requirements",
        "version",
    ):
        assert key in MANIFEST, key
    assert MANIFEST["domain"] == "smart_care"
    assert MANIFEST["config_flow"] is True
    assert MANIFEST["iot_class"] == "local_push"
    assert {"bluetooth_adapters", "webhook"} <= set(MANIFEST["dependencies"])
    assert MANIFEST["zeroconf"] == ["_smartcare._tcp.local."]


def test_manifest_version_parses_like_the_loader() -> None:
    version = AwesomeVersion(
        MANIFEST["version"],
        ensure_strategy=[
            AwesomeVersionStrategy.CALVER,
            AwesomeVersionStrategy.SEMVER,
            AwesomeVersionStrategy.SIMPLEVER,
            AwesomeVersionStrategy.BUILDVER,
            AwesomeVersionStrategy.PEP440,
        ],
    )
    assert version.valid


def test_bluetooth_matchers_cover_health_services() -> None:
    uuids = {m["service_uuid"] for m in MANIFEST["bluetooth"]}
    for short in ("1809", "1810", "180d", "1808", "181d", "181b", "1822"):
        assert f"0000{short}-0000-1000-8000-00805f9b34fb" in uuids


def test_hacs_json() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"] == "Smart Care"
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion("2025.4.4")
    assert "render_readme" not in hacs


def test_brand_icon() -> None:
    data = (COMPONENT / "brand" / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20]), int.from_bytes(data[20:24])
    assert (width, height) == (256, 256)


def test_translations_match_strings() -> None:
    en = json.loads((COMPONENT / "translations" / "en.json").read_text())
    assert en == STRINGS
    assert "[%key:" not in json.dumps(STRINGS)


def test_zh_hans_complete() -> None:
    zh = json.loads((COMPONENT / "translations" / "zh-Hans.json").read_text(encoding="utf-8"))
    en_leaves, zh_leaves = _leaves(STRINGS), _leaves(zh)
    assert set(zh_leaves) == set(en_leaves)
    # Every string is translated, except ones that are only units or codes.
    untranslated = [k for k in en_leaves if zh_leaves[k] == en_leaves[k]]
    assert untranslated == []
    # Placeholders survive translation.
    for key, text in en_leaves.items():
        assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", zh_leaves[key])), key


def _keyword_values(name: str) -> set[str]:
    found = set()
    for source in SOURCES.values():
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.keyword)
                and node.arg == name
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found.add(node.value.value)
    return found


def test_entity_translation_keys_defined() -> None:
    keys = _keyword_values("translation_key")
    defined = (
        {key for platform in STRINGS["entity"].values() for key in platform}
        | set(STRINGS["exceptions"])
        | set(STRINGS["selector"])
        | set(STRINGS["issues"])
    )
    assert keys
    assert keys <= defined, keys - defined


def test_flow_errors_and_aborts_defined() -> None:
    flow = SOURCES[COMPONENT / "config_flow.py"]
    errors = set(re.findall(r'errors\[[^\]]+\] = "(\w+)"', flow))
    aborts = set(re.findall(r'async_abort\(reason="(\w+)"\)', flow))
    config_errors = set(STRINGS["config"]["error"])
    sub = STRINGS["config_subentries"]["person"]
    assert errors <= config_errors | set(sub["error"])
    options_aborts = set(STRINGS["options"].get("abort", {}))
    assert aborts <= set(STRINGS["config"]["abort"]) | set(sub["abort"]) | options_aborts
    # Every field of every form has a label.
    for step in ("user", "reconfigure"):
        assert set(sub["step"][step]["data"]) >= {
            "alias",
            "person_entity",
            "birth_date",
            "sex",
            "id_number",
            "conditions",
            "allergies",
            "medications",
            "emergency_contacts",
        }


def test_services_documented() -> None:
    services = yaml.safe_load((COMPONENT / "services.yaml").read_text())
    icons = json.loads((COMPONENT / "icons.json").read_text())
    for service, spec in services.items():
        strings = STRINGS["services"][service]
        assert strings["name"]
        assert strings["description"]
        assert set(spec.get("fields", {})) == set(strings.get("fields", {}))
        assert service in icons["services"]


def test_icons_cover_entities() -> None:
    icons = json.loads((COMPONENT / "icons.json").read_text())
    for platform, keys in STRINGS["entity"].items():
        assert set(keys) == set(icons["entity"][platform]), platform


def test_quality_scale_rules() -> None:
    rules = yaml.safe_load((COMPONENT / "quality_scale.yaml").read_text())["rules"]
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in {"done", "todo", "exempt"}, name
        if status == "exempt":
            assert isinstance(rule, dict), name
            assert rule.get("comment"), name
