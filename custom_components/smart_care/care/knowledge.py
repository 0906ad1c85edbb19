"""Deliver curated health knowledge: at most once per topic per person per week (HA glue)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from ..const import CONF_CONDITIONS, DOMAIN, EVENT_KNOWLEDGE, SIGNAL_KNOWLEDGE
from ..core.clinical.knowledge import Note, for_codes, for_conditions
from ..household.profile import as_text
from ..household.runtime import Household, HouseholdListener, Person

SETTING_SENT = "knowledge_sent"
REPEAT_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Delivered:
    """The newest note shown for a person's readings."""

    note: Note
    time: datetime


class KnowledgeDelivery(HouseholdListener):
    """Matches notes to findings and conditions and tells the household."""

    def __init__(self, hass: HomeAssistant, household: Household) -> None:
        """Bind to the household."""
        self.hass = hass
        self.household = household
        # Only notes prompted by readings are shown on entities: a note matched to the
        # person's conditions would reveal their history to every HA user.
        self.latest: dict[str, Delivered] = {}
        # When each topic was last sent, per person: read from the record once, then kept
        # here (only this class writes it), so a finding costs no read of the record.
        self._sent: dict[str, dict[str, str]] = {}

    async def async_household_loaded(self) -> None:
        """Notes for everyone's conditions."""
        for person in self.household.people.values():
            await self.async_consider_conditions(person)

    async def async_person_added(self, person: Person) -> None:
        """Notes for a new person's conditions."""
        await self.async_consider_conditions(person)

    async def async_consider_codes(self, person: Person, codes: Iterable[str]) -> None:
        """Notes prompted by findings of new readings."""
        for note in for_codes(codes):
            if await self._async_deliver(person, note) is not None:
                self.latest[person.person_id] = Delivered(note, dt_util.utcnow())
                async_dispatcher_send(self.hass, SIGNAL_KNOWLEDGE.format(person.person_id))

    async def async_consider_conditions(self, person: Person) -> None:
        """Notes matched to the conditions in the person's private record."""
        profile = await self.household.record.get_profile(person.person_id)
        conditions = as_text((profile or {}).get(CONF_CONDITIONS))
        for note in for_conditions(conditions):
            await self._async_deliver(person, note)

    async def _async_deliver(self, person: Person, note: Note) -> datetime | None:
        record = self.household.record
        sent = self._sent.get(person.person_id)
        if sent is None:
            settings = await record.get_settings(person.person_id)
            sent = self._sent[person.person_id] = dict(settings.get(SETTING_SENT, {}))
        now = dt_util.utcnow()
        last = sent.get(note.topic)
        if last is not None and now - datetime.fromisoformat(last) < REPEAT_AFTER:
            return None
        updated = {**sent, note.topic: now.isoformat()}
        await record.put_setting(person.person_id, SETTING_SENT, updated)
        self._sent[person.person_id] = updated
        title, body = note.render(self.hass.config.language)
        persistent_notification.async_create(
            self.hass,
            body,
            title=f"{person.alias}: {title}",
            notification_id=f"{DOMAIN}_note_{person.person_id}_{note.topic}",
        )
        self.hass.bus.async_fire(
            EVENT_KNOWLEDGE,
            {
                "person_id": person.person_id,
                "person": person.alias,
                "topic": note.topic,
                "title": title,
            },
        )
        return now
