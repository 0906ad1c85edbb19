"""Constants for Smart Care."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "smart_care"

# Config entry kinds: one household entry, one entry per BLE device.
CONF_ENTRY_TYPE: Final = "entry_type"
ENTRY_TYPE_HOUSEHOLD: Final = "household"
ENTRY_TYPE_DEVICE: Final = "device"

SUBENTRY_PERSON: Final = "person"

# Person subentry data (non-identifying only; identity lives in the record store).
CONF_PERSON_ID: Final = "person_id"
CONF_ALIAS: Final = "alias"
CONF_PERSON_ENTITY: Final = "person_entity"
CONF_EMERGENCY_CONTACTS: Final = "emergency_contacts"
CONF_MEDICAL_CARD: Final = "medical_card"  # NFC tag id whose scan claims the next reading

# Identity fields: collected by the person flow, stored only in the record store.
CONF_BIRTH_DATE: Final = "birth_date"
CONF_SEX: Final = "sex"
CONF_ID_NUMBER: Final = "id_number"
CONF_CONDITIONS: Final = "conditions"
CONF_ALLERGIES: Final = "allergies"
CONF_MEDICATIONS: Final = "medications"
IDENTITY_FIELDS: Final = (
    CONF_BIRTH_DATE,
    CONF_SEX,
    CONF_ID_NUMBER,
    CONF_CONDITIONS,
    CONF_ALLERGIES,
    CONF_MEDICATIONS,
)
# FHIR AdministrativeGender codes.
SEX_OPTIONS: Final = ["female", "male", "other", "unknown"]

# Household options.
CONF_GLUCOSE_UNIT: Final = "glucose_unit"
GLUCOSE_MMOL: Final = "mmol/L"
GLUCOSE_MGDL: Final = "mg/dL"
# Countries that report glucose in mg/dL by custom (the rest of the world uses mmol/L).
MGDL_COUNTRIES: Final = frozenset(
    {"US", "JP", "KR", "TW", "FR", "DE", "AT", "BE", "IT", "ES", "PT", "IL", "IN", "BR", "AR"}
)
CONF_SHARE_LOCATION: Final = "share_location_in_emergency"

RECORD_DB_NAME: Final = "smart_care_{entry_id}.db"

EVENT_MEASUREMENT: Final = "smart_care_measurement"
