"""The household entry's runtime data: the household and the features wired to it."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .care.alerts import AlertManager
from .care.knowledge import KnowledgeDelivery
from .care.medication import MedicationSchedule
from .clinic.bridge import ClinicBridge
from .household.runtime import Household


@dataclass(slots=True)
class SmartCareData:
    """Built in ``__init__.async_setup_entry``; every feature listens to ``household``."""

    household: Household
    alerts: AlertManager
    knowledge: KnowledgeDelivery
    medication: MedicationSchedule
    clinic: ClinicBridge | None = None


type SmartCareConfigEntry = ConfigEntry[SmartCareData]
