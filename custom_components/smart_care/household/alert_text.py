"""Alert texts in the reader's language, rendered from translation keys (HA glue).

Notes: docs/modules.md (household/alert_text.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.components.frontend.storage import async_user_store
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.translation import (
    async_get_cached_translations,
    async_get_translations,
)

from ..const import DOMAIN
from ..core.clinical.vitals import CANONICAL_UNIT, VITAL_NAMES, Vital

# Languages Smart Care ships translations for; anything else reads English.
LANGUAGES: tuple[str, ...] = ("en", "zh-Hans")
_PREFIX = f"component.{DOMAIN}.common."
_MOBILE_APP = "mobile_app"
_TEXTS = f"{DOMAIN}_common_texts"
_VITAL_KEYS = frozenset(vital.value for vital in Vital)


def supported_language(language: str | None) -> str:
    """The shipped language to use for ``language`` (English when not shipped)."""
    if language in LANGUAGES:
        return str(language)
    if language and language.lower().startswith("zh") and "hant" not in language.lower():
        return "zh-Hans"
    return "en"


async def async_common_texts(hass: HomeAssistant, language: str) -> Mapping[str, str]:
    """The integration's ``common`` strings in ``language`` (English where missing).

    Shared, read-only. Kept while HA's translation cache holds the same mapping for the
    integration with as many strings (each alert renders its texts in every language).
    """
    made: dict[str, tuple[dict[str, str], int, dict[str, str]]]
    made = hass.data.setdefault(_TEXTS, {})
    source = async_get_cached_translations(hass, language, "common", DOMAIN)
    found = made.get(language)
    if found is not None and found[0] is source and found[1] == len(source) > 0:
        return found[2]
    strings = await async_get_translations(hass, language, "common", {DOMAIN})
    texts = {k[len(_PREFIX) :]: value for k, value in strings.items() if k.startswith(_PREFIX)}
    source = async_get_cached_translations(hass, language, "common", DOMAIN)
    made[language] = (source, len(source), texts)
    return texts


async def async_preload(hass: HomeAssistant) -> None:
    """Load the ``common`` texts of every shipped language into HA's translation cache."""
    for language in LANGUAGES:
        await async_common_texts(hass, language)


def describe_values(hass: HomeAssistant, values: list[tuple[str, float]]) -> str:
    """Values in words of the system language, e.g. "收缩压 150 mmHg、舒张压 85 mmHg"."""
    language = supported_language(hass.config.language)
    cached = async_get_cached_translations(hass, language, "common", DOMAIN)
    parts = []
    for key, value in values:
        vital = Vital(key) if key in _VITAL_KEYS else None
        name = key if vital is None else VITAL_NAMES[vital]
        name = cached.get(f"{_PREFIX}vital_{key}", name)
        unit = "" if vital is None else f" {CANONICAL_UNIT[vital]}"
        parts.append(f"{name} {value:g}{unit}")
    return cached.get(f"{_PREFIX}list_separator", ", ").join(parts)


class _Placeholders(dict[str, Any]):
    """Format arguments that leave an unknown placeholder visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(template: str, values: Mapping[str, Any]) -> str:
    # str.format_map asks __missing__ as Formatter().vformat does, without its Python loop.
    return template.format_map(_Placeholders(values))


def translation_key_for(kind: str, code: str, placeholders: Mapping[str, str]) -> str:
    """The ``common.alert_<key>`` text of a finding."""
    if kind == "threshold":
        return "threshold_high" if code.endswith("_high") else "threshold_low"
    if kind == "news2":
        return "news2_partial" if placeholders.get("state") == "partial" else "news2_complete"
    if kind == "stale":
        return "no_data" if code.startswith("no_data_") else "stale"
    return code


def render(
    texts: Mapping[str, str],
    *,
    translation_key: str,
    placeholders: Mapping[str, str],
    severity: str,
    vital: str | None,
) -> str | None:
    """The alert's message in the language of ``texts``; None if the key is unknown."""
    template = texts.get(f"alert_{translation_key}")
    if template is None:
        return None
    values: dict[str, Any] = dict(placeholders)
    if vital is not None:
        values["vital_name"] = texts.get(f"vital_{vital}", vital)
    if level := placeholders.get("level"):
        values["limit"] = texts.get(f"level_{level}", level)
    values["advice"] = texts.get(f"advice_{severity}", "")
    if "partial_risk" in placeholders:
        risk = placeholders["partial_risk"].replace("-", "_")
        values["risk_name"] = texts.get(f"risk_{risk}", placeholders["partial_risk"])
    if missing := placeholders.get("missing"):
        separator = texts.get("list_separator", ", ")
        values["missing_names"] = separator.join(
            texts.get(f"news2_param_{name.strip()}", name.strip()) for name in missing.split(",")
        )
    if group := placeholders.get("group"):
        values["group_name"] = texts.get(f"group_{group}", group)
    return _format(template, values).strip()


def render_title(texts: Mapping[str, str], *, person: str, severity: str) -> str:
    """The notification title, e.g. "Grandma: critical health alert"."""
    template = texts.get("alert_title", "{person}: {severity}")
    word = texts.get(f"level_{severity}", severity)
    return _format(template, {"person": person, "severity": word})


async def _async_user_language(hass: HomeAssistant, user_id: str) -> str | None:
    """The language the user chose in their profile, when the frontend stored it."""
    # The frontend keeps each user's profile language in its per-user store.
    # HA 2025.x returns (store, data); HA 2026 returns the store, which carries `data`.
    result: Any = await async_user_store(hass, user_id)
    data = result[1] if isinstance(result, tuple) else getattr(result, "data", None)
    if not isinstance(data, Mapping):
        return None
    chosen = data.get("language")
    if isinstance(chosen, Mapping) and isinstance(chosen.get("language"), str):
        return str(chosen["language"])
    return None


async def async_device_languages(hass: HomeAssistant) -> dict[str, str]:
    """Language per mobile_app device: its owner's profile language, else the system's."""
    registry = dr.async_get(hass)
    system = supported_language(hass.config.language)
    languages: dict[str, str] = {}
    for entry in hass.config_entries.async_entries(_MOBILE_APP):
        user_id = entry.data.get("user_id")
        chosen = await _async_user_language(hass, user_id) if isinstance(user_id, str) else None
        language = supported_language(chosen) if chosen else system
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
            languages[device.id] = language
    return languages
