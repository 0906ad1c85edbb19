"""Constants for Smart Care."""

from __future__ import annotations

from enum import StrEnum
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
CONF_EXPECTED: Final = "expected_measurements"  # groups measured on a schedule
CONF_OVERDUE_HOURS: Final = "overdue_hours"
CONF_SOURCES: Final = "sources"  # vital -> entity_id of another HA sensor
SOURCE_VITALS: Final = [
    "systolic_bp",
    "diastolic_bp",
    "pulse",
    "heart_rate",
    "spo2",
    "respiration_rate",
    "temperature",
    "weight",
    "glucose",
]
DEFAULT_OVERDUE_HOURS: Final = 26  # a daily measurement plus two hours of grace
MEASUREMENT_GROUP_OPTIONS: Final = [
    "blood_pressure",
    "weight",
    "glucose",
    "spo2",
    "temperature",
    "heart_rate",
]

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
# A batch of stored records (a meter's memory): one event per up to 100 rows, not one each.
EVENT_MEASUREMENTS: Final = "smart_care_measurements"
EVENT_ALERT: Final = "smart_care_alert"

# Bluetooth health device entries (one per device; unique_id = address).
CONF_ADDRESS: Final = "address"
CONF_DEVICE_NAME: Final = "name"
CONF_SERVICES: Final = "services"  # short UUIDs of the health services it advertises
# Device options: who uses it.
CONF_OWNER: Final = "owner"  # person_id
CONF_USER_MAP: Final = "user_map"  # {"1": person_id, ...}: the device's user index -> person
USER_SLOTS: Final = 4
# Health services Smart Care reads (manifest matchers), short UUID -> profile.
HEALTH_SERVICES: Final = {
    "1809": "thermometer",
    "1810": "blood_pressure",
    "180d": "heart_rate",
    "1808": "glucose",
    "181d": "weight_scale",
    "181b": "body_composition",
    "1822": "pulse_oximeter",
}
# Services whose measurements carry a user index (shared cuffs and scales).
MULTI_USER_SERVICES: Final = frozenset({"1810", "181d", "181b"})

# Community clinic links: config subentries of the household (clinic/flow.py, clinic/bridge.py).
SUBENTRY_CLINIC: Final = "clinic"
CONF_LINK_ID: Final = "link_id"
CONF_CLINIC_NAME: Final = "name"
CONF_FHIR_BASE: Final = "fhir_base_url"
CONF_TOKEN: Final = "token"
CONF_TRANSPORT: Final = "transport"
CONF_FOLDER: Final = "folder"
CONF_SCOPES: Final = "scopes"
CONF_IDENTIFIED: Final = "identified_sharing"
CONF_WEBHOOK_ID: Final = "webhook_id"
CONF_HMAC_SECRET: Final = "hmac_secret"
CONF_TOTP_SECRET: Final = "totp_secret"
CONF_PSEUDONYM_KEY: Final = "pseudonym_key"
CONF_ZEROCONF_NAME: Final = "zeroconf_name"
CONF_START_ROW: Final = "start_row"  # readings after this log row are shared
CONF_LINKED_AT: Final = "linked_at"
TRANSPORT_HTTP: Final = "http"
TRANSPORT_FOLDER: Final = "folder"
TRANSPORT_OPTIONS: Final = [TRANSPORT_HTTP, TRANSPORT_FOLDER]
SCOPE_VITAL_SIGNS: Final = "vital_signs"
SCOPE_ALERTS: Final = "alerts"
SCOPE_DAILY_SUMMARY: Final = "daily_summary"
SCOPE_MEDICATION: Final = "medication"
SCOPE_OPTIONS: Final = [SCOPE_VITAL_SIGNS, SCOPE_ALERTS, SCOPE_DAILY_SUMMARY, SCOPE_MEDICATION]
# Secrets of a clinic link: shown once when linking, redacted from diagnostics.
CLINIC_SECRETS: Final = (
    CONF_WEBHOOK_ID,
    CONF_HMAC_SECRET,
    CONF_TOTP_SECRET,
    CONF_PSEUDONYM_KEY,
    CONF_TOKEN,
)
OUTBOX_FOLDER: Final = "smart_care_outbox"
ZEROCONF_TYPE: Final = "_smartcare._tcp.local."
# A clinic unreachable for longer than this raises a repair issue.
CLINIC_UNREACHABLE_HOURS: Final = 6
ISSUE_CLINIC_UNREACHABLE: Final = "clinic_unreachable_{}"
ISSUE_CLINIC_REJECTED: Final = "clinic_rejected_{}"
ISSUE_CLINIC_AUTH: Final = "clinic_auth_{}"
ISSUE_CLINIC_QUARANTINE: Final = "clinic_quarantined_{}_{}"  # link id, quarantine id
EVENT_ADVICE: Final = "smart_care_advice"

# Service fields shared by several services.
ATTR_PERSON: Final = "person"

# Public names: events on the bus, dispatcher signals (formatted with an id), repair issues.
EVENT_TAG_SCANNED: Final = "tag_scanned"
EVENT_NOTIFICATION_ACTION: Final = "mobile_app_notification_action"
SIGNAL_PERSON_UPDATED: Final = f"{DOMAIN}_person_updated_{{}}"
# Sent with SIGNAL_PERSON_UPDATED for each vital it names (person id, vital): a vital's sensor
# hears of its own vital only, not of every reading of the person.
SIGNAL_VITAL_UPDATED: Final = f"{DOMAIN}_vital_updated_{{}}_{{}}"
ISSUE_PENDING: Final = "reading_needs_person_{}"
# Sent with the new Person: each platform adds that person's entities.
SIGNAL_PERSON_ADDED: Final = f"{DOMAIN}_person_added_{{}}"
ISSUE_KEY_MISSING: Final = "record_key_missing"
ISSUE_UNREADABLE: Final = "record_unreadable"
ISSUE_KEY_PERMISSIONS: Final = "record_key_permissions"
ISSUE_AUDIT_FAILED: Final = "clinic_audit_failed"
ISSUE_TOTP_LOCKED: Final = "clinic_totp_locked_{}"
SIGNAL_CLINIC_UPDATED: Final = f"{DOMAIN}_clinic_updated_{{}}"
ISSUE_INSTALL_BLUEPRINTS: Final = "install_blueprints"
EVENT_MEDICATION_DUE: Final = "smart_care_medication_due"
EVENT_MEDICATION_ANSWERED: Final = "smart_care_medication_answered"
EVENT_KNOWLEDGE: Final = "smart_care_knowledge"
SIGNAL_KNOWLEDGE: Final = f"{DOMAIN}_knowledge_{{}}"
SIGNAL_ALERTS_UPDATED: Final = f"{DOMAIN}_alerts_updated_{{}}"
ISSUE_CONNECTION: Final = "device_connection_{}"


class AlertStatus(StrEnum):
    """An alert's state. Alerts carry the .value: HA's JSON passes str subclasses by."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class IngestStatus(StrEnum):
    """What became of a device reading."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    PENDING = "pending"  # held until someone says whose it is
    NO_VALUES = "no_values"  # nothing clinical in it (battery, cuff pressure, RACP)
    REJECTED = "rejected"  # implausible
