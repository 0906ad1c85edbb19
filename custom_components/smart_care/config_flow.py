"""Config flow: one household entry, people as config subentries, one entry per device.

Notes: docs/modules.md (config_flow.py).
"""

from __future__ import annotations

from datetime import date
import re
from typing import TYPE_CHECKING, Any
import uuid

from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_discovered_service_info,
)
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import entity_registry as er, selector
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .clinic.flow import ClinicDiscovery, ClinicSubentryFlow
from .const import (
    CONF_ADDRESS,
    CONF_ALIAS,
    CONF_ALLERGIES,
    CONF_BIRTH_DATE,
    CONF_CONDITIONS,
    CONF_DEVICE_NAME,
    CONF_EMERGENCY_CONTACTS,
    CONF_ENTRY_TYPE,
    CONF_EXPECTED,
    CONF_GLUCOSE_UNIT,
    CONF_ID_NUMBER,
    CONF_MEDICAL_CARD,
    CONF_MEDICATIONS,
    CONF_OVERDUE_HOURS,
    CONF_OWNER,
    CONF_PERSON_ENTITY,
    CONF_PERSON_ID,
    CONF_SERVICES,
    CONF_SEX,
    CONF_SHARE_LOCATION,
    CONF_SOURCES,
    CONF_USER_MAP,
    DEFAULT_OVERDUE_HOURS,
    DOMAIN,
    ENTRY_TYPE_DEVICE,
    ENTRY_TYPE_HOUSEHOLD,
    GLUCOSE_MGDL,
    GLUCOSE_MMOL,
    HEALTH_SERVICES,
    IDENTITY_FIELDS,
    MEASUREMENT_GROUP_OPTIONS,
    MGDL_COUNTRIES,
    MULTI_USER_SERVICES,
    SEX_OPTIONS,
    SOURCE_VITALS,
    SUBENTRY_CLINIC,
    SUBENTRY_PERSON,
    USER_SLOTS,
)
from .core.gatt import UnknownCharacteristicError, short_uuid
from .household.contacts import contact_selector, valid_contact
from .household.profile import LIST_FIELDS, as_items
from .household.runtime import get_household

if TYPE_CHECKING:
    from .household.runtime import Household

CONF_NAME = "name"
MAX_ALIAS = 40
MAX_TEXT = 2000
# Letters, digits and separators: national ID and health card numbers worldwide.
ID_NUMBER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z \-/.]{0,63}$")
EARLIEST_BIRTH = date(1900, 1, 1)


def default_glucose_unit(country: str | None) -> str:
    """Glucose unit customary in the household's country."""
    return GLUCOSE_MGDL if country in MGDL_COUNTRIES else GLUCOSE_MMOL


def _glucose_selector() -> selector.SelectSelector:
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=[GLUCOSE_MMOL, GLUCOSE_MGDL], mode=selector.SelectSelectorMode.LIST
        )
    )


def health_services(service_uuids: list[str]) -> list[str]:
    """Short UUIDs of the health services Smart Care reads, as advertised."""
    found: list[str] = []
    for uuid_text in service_uuids:
        try:
            short = short_uuid(uuid_text)
        except UnknownCharacteristicError:
            continue
        if short in HEALTH_SERVICES and short not in found:
            found.append(short)
    return found


def _device_name(info: BluetoothServiceInfoBleak) -> str:
    return info.name if info.name and info.name != info.address else info.address


def _household_entry(entries: list[ConfigEntry]) -> ConfigEntry | None:
    for entry in entries:
        if entry.data.get(CONF_ENTRY_TYPE, ENTRY_TYPE_HOUSEHOLD) == ENTRY_TYPE_HOUSEHOLD:
            return entry
    return None


class SmartCareConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create the household, or add a Bluetooth health device."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing discovered."""
        self._discovery: BluetoothServiceInfoBleak | None = None
        self._discovered: dict[str, BluetoothServiceInfoBleak] = {}
        self._clinic: ClinicDiscovery | None = None

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """People and clinic links belong to the household; a device entry has neither."""
        if config_entry.data.get(CONF_ENTRY_TYPE, ENTRY_TYPE_HOUSEHOLD) != ENTRY_TYPE_HOUSEHOLD:
            return {}
        return {SUBENTRY_PERSON: PersonSubentryFlow, SUBENTRY_CLINIC: ClinicSubentryFlow}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Household options, or who uses a device."""
        if config_entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_DEVICE:
            return DeviceOptionsFlow()
        return HouseholdOptionsFlow()

    def _create_device_entry(self, info: BluetoothServiceInfoBleak) -> ConfigFlowResult:
        name = _device_name(info)
        return self.async_create_entry(
            title=name,
            data={
                CONF_ENTRY_TYPE: ENTRY_TYPE_DEVICE,
                CONF_ADDRESS: info.address,
                CONF_DEVICE_NAME: name,
                CONF_SERVICES: health_services(info.service_uuids),
            },
        )

    async def async_step_bluetooth(
        self, discovery_info: BluetoothServiceInfoBleak
    ) -> ConfigFlowResult:
        """A health device advertised one of the manifest's services."""
        await self.async_set_unique_id(discovery_info.address)
        self._abort_if_unique_id_configured()
        if not health_services(discovery_info.service_uuids):
            return self.async_abort(reason="not_supported")
        self._discovery = discovery_info
        self.context["title_placeholders"] = {"name": _device_name(discovery_info)}
        return await self.async_step_bluetooth_confirm()

    async def async_step_bluetooth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm adding a discovered device."""
        assert self._discovery is not None
        if user_input is not None:
            return self._create_device_entry(self._discovery)
        self._set_confirm_only()
        return self.async_show_form(
            step_id="bluetooth_confirm",
            description_placeholders={"name": _device_name(self._discovery)},
        )

    async def async_step_pick_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick one of the health devices seen nearby and not yet added."""
        if user_input is not None:
            address = user_input[CONF_ADDRESS]
            await self.async_set_unique_id(address, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            return self._create_device_entry(self._discovered[address])
        current = self._async_current_ids(include_ignore=False)
        for info in async_discovered_service_info(self.hass, connectable=True):
            if info.address in current or not health_services(info.service_uuids):
                continue
            self._discovered[info.address] = info
        if not self._discovered:
            return self.async_abort(reason="no_devices_found")
        choices = {
            address: f"{_device_name(info)} ({address})"
            for address, info in self._discovered.items()
        }
        return self.async_show_form(
            step_id="pick_device",
            data_schema=vol.Schema({vol.Required(CONF_ADDRESS): vol.In(choices)}),
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A community clinic's gateway announced itself on the local network."""
        self._clinic = ClinicDiscovery(self)
        return await self._clinic.async_discovered(discovery_info)

    async def async_step_clinic_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm linking the discovered clinic to the household."""
        assert self._clinic is not None
        return await self._clinic.async_confirm(user_input)

    async def async_step_clinic_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the clinic's webhook credentials once, then link it."""
        assert self._clinic is not None
        return await self._clinic.async_credentials(user_input)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name the household and pick the glucose unit; once it exists, add a device."""
        if _household_entry(self._async_current_entries(include_ignore=False)) is not None:
            return await self.async_step_pick_device()
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if not name:
                errors[CONF_NAME] = "name_required"
            else:
                return self.async_create_entry(
                    title=name,
                    data={CONF_ENTRY_TYPE: ENTRY_TYPE_HOUSEHOLD},
                    options={
                        CONF_GLUCOSE_UNIT: user_input[CONF_GLUCOSE_UNIT],
                        CONF_SHARE_LOCATION: False,
                    },
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME, default=self.hass.config.location_name or "Home"): str,
                vol.Required(
                    CONF_GLUCOSE_UNIT, default=default_glucose_unit(self.hass.config.country)
                ): _glucose_selector(),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )


class HouseholdOptionsFlow(OptionsFlow):
    """Household-wide choices."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Glucose unit and emergency location sharing."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_GLUCOSE_UNIT,
                    default=options.get(
                        CONF_GLUCOSE_UNIT, default_glucose_unit(self.hass.config.country)
                    ),
                ): _glucose_selector(),
                vol.Required(
                    CONF_SHARE_LOCATION, default=options.get(CONF_SHARE_LOCATION, False)
                ): selector.BooleanSelector(),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)


class DeviceOptionsFlow(OptionsFlow):
    """Who uses a device: its owner, or the people behind a shared device's user numbers."""

    _people: dict[str, str]  # person_id -> alias

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Check that there are people to choose from."""
        household = get_household(self.hass)
        if household is None:
            return self.async_abort(reason="household_not_loaded")
        # The entry's subentries, not the runtime's people: a person added a moment ago is
        # already a subentry while the household is still setting them up.
        self._people = {
            sub.data[CONF_PERSON_ID]: sub.data[CONF_ALIAS]
            for sub in household.entry.subentries.values()
            if sub.subentry_type == SUBENTRY_PERSON
        }
        if not self._people:
            return self.async_abort(reason="no_people")
        return await self.async_step_device()

    async def async_step_device(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Owner, and user index -> person for cuffs and scales shared by several people."""
        slots = [f"user_{index}" for index in range(1, USER_SLOTS + 1)]
        if user_input is not None:
            options: dict[str, Any] = {}
            if owner := user_input.get(CONF_OWNER):
                options[CONF_OWNER] = owner
            user_map = {
                slot.removeprefix("user_"): person_id
                for slot in slots
                if (person_id := user_input.get(slot))
            }
            if user_map:
                options[CONF_USER_MAP] = user_map
            return self.async_create_entry(data=options)
        people = selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=[
                    selector.SelectOptionDict(value=pid, label=alias)
                    for pid, alias in self._people.items()
                ],
                mode=selector.SelectSelectorMode.DROPDOWN,
            )
        )
        fields: dict[vol.Optional, selector.SelectSelector] = {vol.Optional(CONF_OWNER): people}
        services = set(self.config_entry.data.get(CONF_SERVICES, []))
        if services & MULTI_USER_SERVICES:
            fields.update({vol.Optional(slot): people for slot in slots})
        current = self.config_entry.options
        suggested = {
            CONF_OWNER: current.get(CONF_OWNER),
            **{f"user_{index}": pid for index, pid in current.get(CONF_USER_MAP, {}).items()},
        }
        # A person removed since is not offered back.
        suggested = {k: v for k, v in suggested.items() if v in self._people}
        return self.async_show_form(
            step_id="device",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), suggested),
        )


def _text() -> selector.TextSelector:
    return selector.TextSelector()


class ListSelector(selector.TextSelector):
    """One text field per entry (Enter adds the next field); older one-per-line text splits."""

    def __init__(self) -> None:
        """A multiple text selector."""
        super().__init__(selector.TextSelectorConfig(multiple=True))

    def __call__(self, data: Any) -> list[str]:
        """Accept a list of entries, or (API callers, older scripts) one text per line."""
        if isinstance(data, str):
            data = data.splitlines()
        if not isinstance(data, list):
            raise vol.Invalid("expected a list of entries")
        return [vol.Schema(str)(item) for item in data]


# A text field of type date is a native date input: the year can be typed, and the browser's
# own picker goes back to 1900 (HA's date picker only offers years from 1970).
BIRTH_DATE_SELECTOR = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.DATE, autocomplete="bday")
)
MAX_ITEMS = 50


class PersonSubentryFlow(ConfigSubentryFlow):
    """Add or edit a person of the household."""

    def _household(self) -> Household | None:
        # Only the household offers these flows (async_get_supported_subentry_types).
        entry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return None
        household: Household = entry.runtime_data.household
        return household

    def _schema(self) -> vol.Schema:
        return vol.Schema(
            {
                vol.Required(CONF_ALIAS): _text(),
                vol.Optional(CONF_PERSON_ENTITY): selector.EntitySelector(
                    selector.EntitySelectorConfig(domain="person")
                ),
                vol.Optional(CONF_BIRTH_DATE): BIRTH_DATE_SELECTOR,
                vol.Optional(CONF_SEX): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=SEX_OPTIONS,
                        translation_key=CONF_SEX,
                        mode=selector.SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_ID_NUMBER): _text(),
                vol.Optional(CONF_CONDITIONS): ListSelector(),
                vol.Optional(CONF_ALLERGIES): ListSelector(),
                vol.Optional(CONF_MEDICATIONS): ListSelector(),
                vol.Optional(CONF_EXPECTED): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=MEASUREMENT_GROUP_OPTIONS,
                        multiple=True,
                        translation_key=CONF_EXPECTED,
                    )
                ),
                vol.Optional(CONF_OVERDUE_HOURS, default=DEFAULT_OVERDUE_HOURS): vol.All(
                    selector.NumberSelector(
                        selector.NumberSelectorConfig(
                            min=2,
                            max=24 * 14,
                            step=1,
                            unit_of_measurement="h",
                            mode=selector.NumberSelectorMode.BOX,
                        )
                    ),
                    vol.Coerce(int),
                ),
                vol.Optional(CONF_MEDICAL_CARD): _text(),
                vol.Optional(CONF_EMERGENCY_CONTACTS): contact_selector(self.hass),
                vol.Optional(CONF_SOURCES): section(
                    vol.Schema(
                        {
                            vol.Optional(vital): selector.EntitySelector(
                                selector.EntitySelectorConfig(domain="sensor")
                            )
                            for vital in SOURCE_VITALS
                        }
                    ),
                    {"collapsed": True},
                ),
            }
        )

    def _validate(self, user_input: dict[str, Any], own_subentry: str | None) -> dict[str, str]:
        errors: dict[str, str] = {}
        alias = user_input.get(CONF_ALIAS, "").strip()
        if not alias:
            errors[CONF_ALIAS] = "alias_required"
        elif len(alias) > MAX_ALIAS:
            errors[CONF_ALIAS] = "alias_too_long"
        else:
            for subentry in self._get_entry().subentries.values():
                if (
                    subentry.subentry_id != own_subentry
                    and subentry.subentry_type == SUBENTRY_PERSON
                    and subentry.data.get(CONF_ALIAS, "").casefold() == alias.casefold()
                ):
                    errors[CONF_ALIAS] = "alias_in_use"
        if raw := user_input.get(CONF_BIRTH_DATE, "").strip():
            try:
                born = date.fromisoformat(raw)
            except ValueError:
                born = None
            if born is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                errors[CONF_BIRTH_DATE] = "birth_date_invalid"
            elif born > dt_util.now().date():
                errors[CONF_BIRTH_DATE] = "birth_date_future"
            elif born < EARLIEST_BIRTH:
                errors[CONF_BIRTH_DATE] = "birth_date_invalid"
        if (number := user_input.get(CONF_ID_NUMBER)) and not ID_NUMBER_RE.match(number.strip()):
            errors[CONF_ID_NUMBER] = "id_number_invalid"
        for key in LIST_FIELDS:
            items = as_items(user_input.get(key))
            if len(items) > MAX_ITEMS or sum(len(item) for item in items) > MAX_TEXT:
                errors[key] = "text_too_long"
        for target in user_input.get(CONF_EMERGENCY_CONTACTS, []):
            if not valid_contact(target.strip()):
                errors[CONF_EMERGENCY_CONTACTS] = "contact_invalid"
        registry = er.async_get(self.hass)
        for entity_id in user_input.get(CONF_SOURCES, {}).values():
            # Feeding Smart Care's own sensors back into it would loop.
            if (entry := registry.async_get(entity_id)) and entry.platform == DOMAIN:
                errors[CONF_SOURCES] = "source_is_smart_care"
        return errors

    @staticmethod
    def _split(user_input: dict[str, Any], person_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Separate what may live in the subentry from identity for the record store."""
        data: dict[str, Any] = {
            CONF_PERSON_ID: person_id,
            CONF_ALIAS: user_input[CONF_ALIAS].strip(),
            CONF_EMERGENCY_CONTACTS: list(
                dict.fromkeys(c.strip() for c in user_input.get(CONF_EMERGENCY_CONTACTS, []))
            ),
            CONF_EXPECTED: list(user_input.get(CONF_EXPECTED, [])),
            CONF_OVERDUE_HOURS: int(user_input.get(CONF_OVERDUE_HOURS, DEFAULT_OVERDUE_HOURS)),
        }
        if user_input.get(CONF_PERSON_ENTITY):
            data[CONF_PERSON_ENTITY] = user_input[CONF_PERSON_ENTITY]
        if card := user_input.get(CONF_MEDICAL_CARD, "").strip():
            data[CONF_MEDICAL_CARD] = card
        data[CONF_SOURCES] = {k: v for k, v in user_input.get(CONF_SOURCES, {}).items() if v}
        profile: dict[str, Any] = {}
        for key in IDENTITY_FIELDS:
            value = user_input.get(key)
            if key in LIST_FIELDS:
                value = as_items(value)
            elif isinstance(value, str):
                value = value.strip()
            if value not in (None, "", []):
                profile[key] = value
        return data, profile

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a person."""
        household = self._household()
        if household is None:
            return self.async_abort(reason="household_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._validate(user_input, None)
            if not errors:
                person_id = uuid.uuid4().hex
                data, profile = self._split(user_input, person_id)
                # Identity goes to the record store first; the subentry only names the person.
                await household.record.put_profile(person_id, profile)
                return self.async_create_entry(
                    title=data[CONF_ALIAS], data=data, unique_id=person_id
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(self._schema(), user_input),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Edit a person."""
        household = self._household()
        if household is None:
            return self.async_abort(reason="household_not_loaded")
        subentry = self._get_reconfigure_subentry()
        person_id: str = subentry.data[CONF_PERSON_ID]
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._validate(user_input, subentry.subentry_id)
            if not errors:
                data, profile = self._split(user_input, person_id)
                await household.record.put_profile(person_id, profile)
                return self.async_update_and_abort(
                    self._get_entry(), subentry, title=data[CONF_ALIAS], data=data
                )
        current = user_input
        if current is None:
            stored = await household.record.get_profile(person_id)
            current = {**dict(subentry.data), **(stored or {})}
            for key in LIST_FIELDS:
                current[key] = as_items(current.get(key))
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(self._schema(), current),
            errors=errors,
        )
