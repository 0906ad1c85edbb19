"""Smart Care: home health monitoring for Home Assistant."""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
from typing import cast

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_CLOSE, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey

from .blueprint_install import async_check_blueprints
from .care.alerts import AlertManager
from .care.knowledge import KnowledgeDelivery
from .care.medication import MedicationSchedule
from .care.report import async_setup_report
from .clinic.bridge import ClinicBridge
from .clinic.report import async_send_visit_report
from .const import (
    CONF_ENTRY_TYPE,
    DOMAIN,
    ENTRY_TYPE_DEVICE,
    EVENT_NOTIFICATION_ACTION,
    EVENT_TAG_SCANNED,
)
from .core.security import DecryptError
from .dashboard import async_register_strategy
from .device.runtime import (
    DeviceConfigEntry,
    async_remove_device_entry,
    async_setup_device_entry,
    async_unload_device_entry,
)
from .household.keys import (
    async_open_record,
    async_record_loaded,
    async_remove_keys,
    unreadable_error,
)
from .household.people import LivePeople
from .household.runtime import Household, record_path
from .household.statistics import BackfillStatistics
from .services import async_setup_services
from .types import SmartCareConfigEntry, SmartCareData

_LOGGER = logging.getLogger(__name__)

ACTION_ACK = "SMART_CARE_ACK_"
ACTION_SNOOZE = "SMART_CARE_SNOOZE_"
SNOOZE_FROM_PHONE = 30  # minutes
STALE_CHECK_INTERVAL = timedelta(minutes=10)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

# Set at Home Assistant's close event, which closes the loaded households' records: a
# household whose set-up ends after it (a reload under way as HA stopped) closes its own.
DATA_CLOSED: HassKey[bool] = HassKey(f"{DOMAIN}_closed")


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's services and the dashboard strategy once."""

    async def _close_at_shutdown(_event: Event) -> None:
        # Home Assistant stops without unloading entries: close the records at its last
        # stage, after every stop-time write, rather than leave them to the collector.
        hass.data[DATA_CLOSED] = True
        for entry in hass.config_entries.async_entries(DOMAIN):
            if entry.state is ConfigEntryState.LOADED and isinstance(
                entry.runtime_data, SmartCareData
            ):
                await _async_close(entry.runtime_data)

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_CLOSE, _close_at_shutdown)
    async_setup_services(hass)
    await async_setup_report(hass, async_send_visit_report)
    await async_register_strategy(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: SmartCareConfigEntry) -> bool:
    """Open the household's record and set up its people's entities; or set up a device."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_DEVICE:
        return await async_setup_device_entry(hass, cast(DeviceConfigEntry, entry))
    # Keys first: a missing key file stops here, before the database is even opened.
    record = await async_open_record(hass, entry)
    household = Household(hass, entry, record.store)
    # Features subscribe in this order; the household calls them in it.
    household.async_add_listener(BackfillStatistics(hass, household))
    knowledge = KnowledgeDelivery(hass, household)
    alerts = AlertManager(hass, household, knowledge)
    # The clinic hears new readings before alerts assess them: readings go out first.
    clinic = ClinicBridge(hass, entry, household, alerts)
    household.async_add_listener(clinic)
    household.async_add_listener(alerts)
    household.async_add_listener(knowledge)
    schedule = MedicationSchedule(hass, household)
    entry.runtime_data = SmartCareData(household, alerts, knowledge, schedule, clinic)
    try:
        await _async_set_up_household(hass, entry, clinic)
    except DecryptError as err:
        await _async_close(entry.runtime_data)
        raise unreadable_error(hass, entry, err) from None
    except BaseException:
        # Failed, or cancelled by Home Assistant stopping (after its close event): nothing
        # else closes the record then.
        await _async_close(entry.runtime_data)
        raise
    return True


async def _async_set_up_household(
    hass: HomeAssistant, entry: SmartCareConfigEntry, clinic: ClinicBridge
) -> None:
    """Load the household, then its entities, listeners and clinic links."""
    data = entry.runtime_data
    household, alerts, schedule = data.household, data.alerts, data.medication
    await household.async_load()
    await household.async_restore_pending_issues()
    async_record_loaded(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)

    @callback
    def _tag_scanned(event: Event) -> None:
        # A person's medical card claims the next reading from a shared device.
        tag_id = event.data.get("tag_id")
        for person in household.people.values():
            if tag_id and person.medical_card == tag_id:
                household.claim_next_reading(person)

    entry.async_on_unload(hass.bus.async_listen(EVENT_TAG_SCANNED, _tag_scanned))

    async def _notification_action(event: Event) -> None:
        # Buttons of the family notification: SMART_CARE_ACK_<id> / SMART_CARE_SNOOZE_<id>.
        action = str(event.data.get("action", ""))
        for prefix, minutes in ((ACTION_ACK, None), (ACTION_SNOOZE, SNOOZE_FROM_PHONE)):
            if not action.startswith(prefix):
                continue
            alert_id = action.removeprefix(prefix)
            if alert_id not in alerts.alerts:
                return
            by = f"mobile_app:{event.context.user_id or 'unknown'}"
            if minutes is None:
                await alerts.async_acknowledge(alert_id, by, event.context)
            else:
                await alerts.async_snooze(alert_id, minutes, by, event.context)
            return

    entry.async_on_unload(hass.bus.async_listen(EVENT_NOTIFICATION_ACTION, _notification_action))

    async def _check_stale(_now: datetime) -> None:
        await alerts.async_check_stale()

    entry.async_on_unload(
        async_track_time_interval(hass, _check_stale, STALE_CHECK_INTERVAL, cancel_on_shutdown=True)
    )
    await alerts.async_check_stale()
    await schedule.async_start()
    entry.async_on_unload(schedule.async_stop)
    # People are subentries: a person added joins live; other changes reload the entry.
    people = LivePeople(hass, household)
    entry.async_on_unload(people.async_stop)
    entry.async_on_unload(entry.add_update_listener(people.async_update_listener))
    await async_check_blueprints(hass)
    await clinic.async_start()
    if hass.data.get(DATA_CLOSED):
        # Home Assistant's close event came while this ran, before the entry was loaded.
        await _async_close(data)


async def async_unload_entry(hass: HomeAssistant, entry: SmartCareConfigEntry) -> bool:
    """Unload platforms and close the record (or disconnect a device)."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_DEVICE:
        return await async_unload_device_entry(hass, cast(DeviceConfigEntry, entry))
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await _async_close(entry.runtime_data)
    return unloaded


async def _async_close(data: SmartCareData) -> None:
    """Stop the clinic links, then close the record (again is a no-op)."""
    if data.clinic is not None:
        await data.clinic.async_stop()  # before the record store closes
    await data.household.async_close()


async def async_remove_entry(hass: HomeAssistant, entry: SmartCareConfigEntry) -> None:
    """Delete the household's record when the household itself is deleted."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_DEVICE:
        # A device's readings belong to the people's records, which stay.
        await async_remove_device_entry(hass, entry)
        return
    path = record_path(hass, entry.entry_id)

    def _remove() -> None:
        for suffix in ("", "-wal", "-shm"):
            target = path.with_name(path.name + suffix)
            target.unlink(missing_ok=True)

    await hass.async_add_executor_job(_remove)
    await async_remove_keys(hass, entry.entry_id)
