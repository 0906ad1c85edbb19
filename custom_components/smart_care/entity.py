"""Base entity: one device per person, named by the person's display alias only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .care.report import report_link
from .const import DOMAIN, SIGNAL_ALERTS_UPDATED, SIGNAL_KNOWLEDGE, SIGNAL_PERSON_UPDATED
from .household.people import async_on_person_added
from .household.runtime import Person
from .types import SmartCareConfigEntry, SmartCareData


@callback
def async_add_person_entities(
    hass: HomeAssistant,
    entry: SmartCareConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities: Callable[[Person], Iterable[Entity]],
) -> None:
    """Add each person's entities to the person's subentry: now, and for people added later."""

    @callback
    def _add_person(person: Person) -> None:
        async_add_entities(entities(person), config_subentry_id=person.subentry_id)

    for person in entry.runtime_data.household.people.values():
        _add_person(person)
    async_on_person_added(hass, entry, _add_person)


def person_platform(
    entities: Callable[[SmartCareData, Person], Iterable[Entity]],
) -> Callable[
    [HomeAssistant, SmartCareConfigEntry, AddConfigEntryEntitiesCallback], Awaitable[None]
]:
    """A platform's ``async_setup_entry`` that gives every person ``entities(data, person)``."""

    async def async_setup_entry(
        hass: HomeAssistant,
        entry: SmartCareConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        data = entry.runtime_data
        async_add_person_entities(
            hass, entry, async_add_entities, lambda person: entities(data, person)
        )

    return async_setup_entry


class SmartCarePersonEntity(Entity):
    """An entity of a person's device; refreshed when the person's record changes."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # What the last signal-driven write showed: (available, state, extra attributes).
    _shown: tuple[Any, ...] | None = None

    def __init__(self, data: SmartCareData, person: Person, description: EntityDescription) -> None:
        """Attach to the person's device."""
        self.entity_description = description
        self.data = data
        self.person = person
        self._attr_unique_id = f"{person.person_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, person.person_id)},
            name=person.alias,
            manufacturer="Smart Care",
            model="Health record",
            # A person is listed among devices, not as a web "service"; None also clears the
            # service type of devices registered by older versions.
            entry_type=None,
            # "Visit" on the device page opens the person's visit report.
            configuration_url=report_link(person.person_id),
        )

    # What the entity shows depends on: the person's record (readings), alerts, advice.
    _follows: tuple[str, ...] = (SIGNAL_PERSON_UPDATED, SIGNAL_ALERTS_UPDATED, SIGNAL_KNOWLEDGE)

    def _signals(self) -> Iterable[str]:
        """The dispatcher signals this entity follows: ``_follows`` for its person."""
        return (signal.format(self.person.person_id) for signal in self._follows)

    async def async_added_to_hass(self) -> None:
        """Follow the person's record and alerts."""
        for signal in self._signals():
            self.async_on_remove(
                async_dispatcher_connect(self.hass, signal, self._handle_person_update)
            )

    @callback
    def _handle_person_update(
        self, vitals: frozenset[str] | None = None, context: Context | None = None
    ) -> None:
        # A reading or alert change signals the entities that follow it (a reading names the
        # vitals it changed); many of them still show the same thing, and rewriting them
        # costs more than comparing.
        shown = (self.available, self.state, self.extra_state_attributes)
        if shown == self._shown:
            return
        self._shown = shown
        if context is not None:
            # What one cause (a reading, an alert action) changed shares its context: one
            # cause in the logbook, not a context (and a reference cycle) for every state.
            self.async_set_context(context)
        self.async_write_ha_state()
