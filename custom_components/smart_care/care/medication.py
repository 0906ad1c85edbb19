"""Medication reminders: the schedule in each person's record, answers, adherence (HA glue).

Notes: docs/modules.md (care/medication.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.const import ATTR_DEVICE_ID, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import async_call_later, async_track_time_change
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ..const import (
    ATTR_PERSON,
    CONF_MEDICATIONS,
    DOMAIN,
    EVENT_MEDICATION_ANSWERED,
    EVENT_MEDICATION_DUE,
    EVENT_NOTIFICATION_ACTION,
)
from ..core.clinical.medication import (
    dose_key,
    medication_id,
    parse_answer_action,
    parse_dose_key,
    parse_medications,
)
from ..household.calls import (
    resolve_person,
    service_error,
)
from ..household.profile import as_text
from ..household.runtime import HouseholdListener, get_household

if TYPE_CHECKING:
    from ..core.store.record_store import RecordStore
    from ..household.runtime import Household, Person

_LOGGER = logging.getLogger(__name__)


SERVICE_RECORD_MEDICATION = "record_medication"
STATUSES = ["taken", "skipped", "snoozed", "missed"]
SNOOZE_MINUTES = 15
# Without an explicit time, an answer belongs to the latest dose due up to this far ahead.
ANSWER_AHEAD = timedelta(minutes=60)

SETTING_ADHERENCE = "medication_adherence"
MAX_ADHERENCE = 500  # about two months of four medications twice a day

ATTR_MEDICATION_ID = "medication_id"
ATTR_STATUS = "status"
ATTR_TIME = "time"

RECORD_MEDICATION_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_PERSON, "who"): cv.string,
        vol.Exclusive(ATTR_DEVICE_ID, "who"): cv.string,
        vol.Required(ATTR_MEDICATION_ID): cv.string,
        vol.Required(ATTR_STATUS): vol.In(STATUSES),
        vol.Optional(ATTR_TIME): cv.datetime,
    }
)


@dataclass(frozen=True, slots=True)
class Medication:
    """One medication of a person's record, with its reminder id."""

    medication_id: str
    text: str
    times: tuple[time, ...]


async def async_get_medications(
    hass: HomeAssistant, household: Household, person_id: str
) -> dict[str, Medication]:
    """The person's medications by id, parsed from the private record."""
    profile = await household.record.get_profile(person_id)
    medications: dict[str, Medication] = {}
    for parsed in parse_medications(as_text((profile or {}).get(CONF_MEDICATIONS))):
        med_id = medication_id(person_id, parsed.text)
        if (same := medications.get(med_id)) is not None:
            # The same medication on two lines: one reminder per distinct time.
            times = tuple(sorted({*same.times, *parsed.times}))
            medications[med_id] = Medication(med_id, same.text, times)
        else:
            medications[med_id] = Medication(med_id, parsed.text, parsed.times)
    return medications


def _local_dose(key: str) -> datetime:
    return parse_dose_key(key).replace(tzinfo=dt_util.get_default_time_zone())


async def async_record_answer(
    hass: HomeAssistant,
    household: Household,
    person: Person,
    med_id: str,
    scheduled: datetime,
    status: str,
    by: str,
) -> dict[str, Any]:
    """Store one answer for one scheduled dose and announce it; return the stored entry."""
    local = dt_util.as_local(scheduled).replace(second=0, microsecond=0)
    entry: dict[str, Any] = {
        "medication_id": med_id,
        "dose_key": dose_key(local),
        "scheduled": local.isoformat(),
        "status": status,
        "answered_at": dt_util.utcnow().isoformat(),
        "by": by,
    }

    def _save(store: RecordStore) -> None:
        log = [
            item
            for item in store.get_settings(person.person_id).get(SETTING_ADHERENCE, [])
            if (item.get("medication_id"), item.get("dose_key")) != (med_id, entry["dose_key"])
        ]
        log.append(entry)
        store.put_setting(person.person_id, SETTING_ADHERENCE, log[-MAX_ADHERENCE:])

    # One executor job: read, change and write the log together.
    await household.record.batch(_save)
    hass.bus.async_fire(
        EVENT_MEDICATION_ANSWERED,
        {
            "person_id": person.person_id,
            "person": person.alias,
            "medication_id": med_id,
            "dose_key": entry["dose_key"],
            "dose_id": f"{med_id}_{entry['dose_key']}",
            "time": entry["scheduled"],
            "status": status,
            "answered_at": entry["answered_at"],
        },
    )
    return entry


class MedicationSchedule(HouseholdListener):
    """Timers for every dose of every person of one household, rebuilt on each reload."""

    def __init__(self, hass: HomeAssistant, household: Household) -> None:
        """Bind to the household."""
        self.hass = hass
        self.household = household
        self.medications: dict[str, dict[str, Medication]] = {}
        self._unsubs: list[CALLBACK_TYPE] = []
        self._timers: list[CALLBACK_TYPE] = []
        self._snoozes: dict[tuple[str, str], CALLBACK_TYPE] = {}

    async def async_start(self) -> None:
        """Read each person's medications and schedule their doses."""
        for person in self.household.people.values():
            await self.async_add_person(person)
        self._unsubs.append(self.household.async_add_listener(self))
        self._unsubs.append(
            self.hass.bus.async_listen(EVENT_NOTIFICATION_ACTION, self._async_notification_action)
        )
        self._unsubs.append(
            self.hass.bus.async_listen(EVENT_MEDICATION_ANSWERED, self._async_answered)
        )
        # Time-change trackers are not cancelled by HA itself when it stops.
        self._unsubs.append(
            self.hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, self._async_cancel_timers)
        )

    async def async_person_added(self, person: Person) -> None:
        """Schedule a new person's doses."""
        await self.async_add_person(person)

    async def async_add_person(self, person: Person) -> None:
        """Read one person's medications and schedule their doses."""
        medications = await async_get_medications(self.hass, self.household, person.person_id)
        self.medications[person.person_id] = medications
        for med in medications.values():
            for at in med.times:
                self._timers.append(
                    async_track_time_change(
                        self.hass,
                        partial(self._async_due_now, person.person_id, med.medication_id, at),
                        hour=at.hour,
                        minute=at.minute,
                        second=0,
                    )
                )

    @callback
    def async_stop(self) -> None:
        """Cancel every timer and listener."""
        self._async_cancel_timers()
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()

    @callback
    def _async_cancel_timers(self, _event: Event | None = None) -> None:
        for unsub in (*self._timers, *self._snoozes.values()):
            unsub()
        self._timers.clear()
        self._snoozes.clear()

    def _find(self, med_id: str) -> tuple[Person, Medication] | None:
        for person_id, medications in self.medications.items():
            if (med := medications.get(med_id)) is not None and (
                person := self.household.people.get(person_id)
            ) is not None:
                return person, med
        return None

    @callback
    def _async_due_now(self, person_id: str, med_id: str, at: time, _now: datetime) -> None:
        scheduled = dt_util.now().replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        self._fire_due(person_id, med_id, scheduled, snoozed=False)

    @callback
    def _fire_due(self, person_id: str, med_id: str, scheduled: datetime, snoozed: bool) -> None:
        person = self.household.people.get(person_id)
        med = self.medications.get(person_id, {}).get(med_id)
        if person is None or med is None:
            return
        self.hass.bus.async_fire(
            EVENT_MEDICATION_DUE,
            {
                "person_id": person_id,
                "person": person.alias,
                "medication_id": med_id,
                "medication": med.text,
                "time": scheduled.isoformat(),
                "dose_key": dose_key(scheduled),
                "dose_id": f"{med_id}_{dose_key(scheduled)}",
                "snoozed": snoozed,
            },
        )

    async def _async_notification_action(self, event: Event) -> None:
        parsed = parse_answer_action(str(event.data.get("action", "")))
        if parsed is None:
            return
        status, med_id, key = parsed
        if (found := self._find(med_id)) is None:
            return
        person, _med = found
        by = f"mobile_app:{event.context.user_id or 'unknown'}"
        await async_record_answer(
            self.hass, self.household, person, med_id, _local_dose(key), status, by
        )

    @callback
    def _async_answered(self, event: Event) -> None:
        med_id = str(event.data.get("medication_id"))
        key = str(event.data.get("dose_key"))
        if (found := self._find(med_id)) is None:
            return
        if (cancel := self._snoozes.pop((med_id, key), None)) is not None:
            cancel()
        if event.data.get("status") != "snoozed":
            return
        person, _med = found

        @callback
        def _again(_now: datetime) -> None:
            self._snoozes.pop((med_id, key), None)
            self._fire_due(person.person_id, med_id, _local_dose(key), snoozed=True)

        self._snoozes[(med_id, key)] = async_call_later(
            self.hass, timedelta(minutes=SNOOZE_MINUTES), _again
        )


def _latest_dose(med: Medication, now: datetime) -> datetime:
    """The latest scheduled dose at or before ``now`` + ANSWER_AHEAD (now if unscheduled)."""
    if not med.times:
        return now.replace(second=0, microsecond=0)
    limit = now + ANSWER_AHEAD
    candidates = [
        datetime.combine(day, at, tzinfo=now.tzinfo)
        for day in (now.date() - timedelta(days=1), now.date())
        for at in med.times
    ]
    return max(c for c in candidates if c <= limit)


async def _async_record_medication(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    if (household := get_household(hass)) is None:
        raise service_error("no_household")
    person = resolve_person(hass, household, dict(call.data))
    medications = await async_get_medications(hass, household, person.person_id)
    med = medications.get(call.data[ATTR_MEDICATION_ID])
    if med is None:
        raise service_error("unknown_medication")
    when: datetime | None = call.data.get(ATTR_TIME)
    if when is None:
        when = _latest_dose(med, dt_util.now())
    elif when.tzinfo is None:
        when = when.replace(tzinfo=dt_util.get_default_time_zone())
    by = f"user:{call.context.user_id}" if call.context.user_id else "automation"
    entry = await async_record_answer(
        hass, household, person, med.medication_id, when, call.data[ATTR_STATUS], by
    )
    return {
        "medication_id": med.medication_id,
        "dose_key": entry["dose_key"],
        "time": entry["scheduled"],
        "status": entry["status"],
    }


@callback
def async_setup_medication_services(hass: HomeAssistant) -> None:
    """Register ``smart_care.record_medication``."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RECORD_MEDICATION,
        _async_record_medication,
        schema=RECORD_MEDICATION_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
