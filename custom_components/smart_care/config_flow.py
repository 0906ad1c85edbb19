"""Config flow: one household entry, people as config subentries."""

from __future__ import annotations

from datetime import date
import re
from typing import TYPE_CHECKING, Any
import uuid

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
from homeassistant.helpers import selector
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import (
    CONF_ALIAS,
    CONF_ALLERGIES,
    CONF_BIRTH_DATE,
    CONF_CONDITIONS,
    CONF_EMERGENCY_CONTACTS,
    CONF_ENTRY_TYPE,
    CONF_EXPECTED,
    CONF_GLUCOSE_UNIT,
    CONF_ID_NUMBER,
    CONF_MEDICAL_CARD,
    CONF_MEDICATIONS,
    CONF_OVERDUE_HOURS,
    CONF_PERSON_ENTITY,
    CONF_PERSON_ID,
    CONF_SEX,
    CONF_SHARE_LOCATION,
    DEFAULT_OVERDUE_HOURS,
    DOMAIN,
    ENTRY_TYPE_HOUSEHOLD,
    GLUCOSE_MGDL,
    GLUCOSE_MMOL,
    IDENTITY_FIELDS,
    MEASUREMENT_GROUP_OPTIONS,
    MGDL_COUNTRIES,
    SEX_OPTIONS,
    SUBENTRY_PERSON,
)

if TYPE_CHECKING:
    from .household import Household

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


def _household_entry(entries: list[ConfigEntry]) -> ConfigEntry | None:
    for entry in entries:
        if entry.data.get(CONF_ENTRY_TYPE, ENTRY_TYPE_HOUSEHOLD) == ENTRY_TYPE_HOUSEHOLD:
            return entry
    return None


class SmartCareConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create the household."""

    VERSION = 1
    MINOR_VERSION = 1

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """People are subentries of the household."""
        return {SUBENTRY_PERSON: PersonSubentryFlow}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Household options."""
        return HouseholdOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name the household and pick the glucose unit."""
        if _household_entry(self._async_current_entries(include_ignore=False)) is not None:
            return self.async_abort(reason="already_configured")
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


def _text(multiline: bool = False) -> selector.TextSelector:
    return selector.TextSelector(selector.TextSelectorConfig(multiline=multiline))


class PersonSubentryFlow(ConfigSubentryFlow):
    """Add or edit a person of the household."""

    def _household(self) -> Household | None:
        entry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return None
        household: Household = entry.runtime_data
        return household

    def _schema(self) -> vol.Schema:
        notify = sorted(self.hass.services.async_services_for_domain("notify"))
        return vol.Schema(
            {
                vol.Required(CONF_ALIAS): _text(),
                vol.Optional(CONF_PERSON_ENTITY): selector.EntitySelector(
                    selector.EntitySelectorConfig(domain="person")
                ),
                vol.Optional(CONF_BIRTH_DATE): selector.DateSelector(),
                vol.Optional(CONF_SEX): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=SEX_OPTIONS,
                        translation_key=CONF_SEX,
                        mode=selector.SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_ID_NUMBER): _text(),
                vol.Optional(CONF_CONDITIONS): _text(multiline=True),
                vol.Optional(CONF_ALLERGIES): _text(multiline=True),
                vol.Optional(CONF_MEDICATIONS): _text(multiline=True),
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
                vol.Optional(CONF_EMERGENCY_CONTACTS): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=[f"notify.{name}" for name in notify],
                        multiple=True,
                        custom_value=True,
                    )
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
        if raw := user_input.get(CONF_BIRTH_DATE):
            # The date selector has already refused anything that is not an ISO date.
            born = date.fromisoformat(raw)
            if born > dt_util.now().date():
                errors[CONF_BIRTH_DATE] = "birth_date_future"
            elif born < EARLIEST_BIRTH:
                errors[CONF_BIRTH_DATE] = "birth_date_invalid"
        if (number := user_input.get(CONF_ID_NUMBER)) and not ID_NUMBER_RE.match(number.strip()):
            errors[CONF_ID_NUMBER] = "id_number_invalid"
        for key in (CONF_CONDITIONS, CONF_ALLERGIES, CONF_MEDICATIONS):
            if len(user_input.get(key, "")) > MAX_TEXT:
                errors[key] = "text_too_long"
        for target in user_input.get(CONF_EMERGENCY_CONTACTS, []):
            domain, _, service = target.partition(".")
            if domain != "notify" or not service:
                errors[CONF_EMERGENCY_CONTACTS] = "contact_invalid"
        return errors

    @staticmethod
    def _split(user_input: dict[str, Any], person_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Separate what may live in the subentry from identity for the record store."""
        data: dict[str, Any] = {
            CONF_PERSON_ID: person_id,
            CONF_ALIAS: user_input[CONF_ALIAS].strip(),
            CONF_EMERGENCY_CONTACTS: list(user_input.get(CONF_EMERGENCY_CONTACTS, [])),
            CONF_EXPECTED: list(user_input.get(CONF_EXPECTED, [])),
            CONF_OVERDUE_HOURS: int(user_input.get(CONF_OVERDUE_HOURS, DEFAULT_OVERDUE_HOURS)),
        }
        if user_input.get(CONF_PERSON_ENTITY):
            data[CONF_PERSON_ENTITY] = user_input[CONF_PERSON_ENTITY]
        if card := user_input.get(CONF_MEDICAL_CARD, "").strip():
            data[CONF_MEDICAL_CARD] = card
        profile = {
            key: value.strip() if isinstance(value, str) else value
            for key in IDENTITY_FIELDS
            if (value := user_input.get(key)) not in (None, "")
        }
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
                await self.hass.async_add_executor_job(
                    household.store.put_profile, person_id, profile
                )
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
                await self.hass.async_add_executor_job(
                    household.store.put_profile, person_id, profile
                )
                return self.async_update_and_abort(
                    self._get_entry(), subentry, title=data[CONF_ALIAS], data=data
                )
        current = user_input
        if current is None:
            stored: dict[str, Any] | None = await self.hass.async_add_executor_job(
                household.store.get_profile, person_id
            )
            current = {**dict(subentry.data), **(stored or {})}
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(self._schema(), current),
            errors=errors,
        )
