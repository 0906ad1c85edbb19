"""People added while the household runs: their entities join without reloading the others."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send

from ..const import SIGNAL_PERSON_ADDED, SUBENTRY_CLINIC, SUBENTRY_PERSON
from .sources import async_track_sources

if TYPE_CHECKING:
    from .runtime import Household, Person


def _snapshot(entry: ConfigEntry) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        sid: (sub.subentry_type, sub.title, dict(sub.data)) for sid, sub in entry.subentries.items()
    }


@callback
def async_on_person_added(
    hass: HomeAssistant, entry: ConfigEntry, add: Callable[[Person], None]
) -> None:
    """Call ``add`` for every person added to this household from now on (until unload)."""
    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_PERSON_ADDED.format(entry.entry_id), add)
    )


class LivePeople:
    """Follows the household's subentries; only a change it cannot apply live reloads."""

    def __init__(self, hass: HomeAssistant, household: Household) -> None:
        """Remember the configuration the household was set up with."""
        self.hass = hass
        self.household = household
        self._options = dict(household.entry.options)
        self._subentries = _snapshot(household.entry)
        self._stop_sources = async_track_sources(hass, household)
        # Two people added in quick succession: one update at a time, each person once.
        self._lock = asyncio.Lock()

    @callback
    def async_stop(self) -> None:
        """Stop following the people's source sensors."""
        self._stop_sources()

    async def async_update_listener(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """People added: set them up; anything else (edits, removals, options): reload."""
        async with self._lock:
            if entry.state is not ConfigEntryState.LOADED:
                return  # unloading: the next setup reads the subentries anyway
            if await self._async_add_people(entry):
                return
        await hass.config_entries.async_reload(entry.entry_id)

    async def _async_add_people(self, entry: ConfigEntry) -> bool:
        current = _snapshot(entry)
        if dict(entry.options) != self._options:
            return False
        if any(current.get(sid) != seen for sid, seen in self._subentries.items()):
            return False  # edited or removed
        added = [sid for sid in current if sid not in self._subentries]
        if not added:
            return True  # an earlier update already set them up
        if any(current[sid][0] != SUBENTRY_PERSON for sid in added):
            return False
        # A linked clinic's bridge names and pseudonymises the people it started with.
        if any(kind == SUBENTRY_CLINIC for kind, _, _ in current.values()):
            return False
        household = self.household
        for sid in added:
            # Features (medication, knowledge, alerts) hear it through their listener.
            person = await household.async_join_person(entry.subentries[sid])
            async_dispatcher_send(self.hass, SIGNAL_PERSON_ADDED.format(entry.entry_id), person)
        self._stop_sources()
        self._stop_sources = async_track_sources(self.hass, household)
        self._subentries = current
        return True
