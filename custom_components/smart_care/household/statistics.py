"""Long-term statistics for readings with past timestamps (device memory, backfill).

Notes: docs/modules.md (household/statistics.py).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from statistics import fmean
from typing import Any, cast

from homeassistant.components.recorder.models import StatisticData, StatisticMetaData
from homeassistant.components.recorder.models.statistics import StatisticMeanType
from homeassistant.components.recorder.statistics import (
    STATISTIC_UNIT_TO_UNIT_CONVERTER,
    async_import_statistics,
)
from homeassistant.components.sensor.const import UNIT_CONVERTERS
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from ..const import DOMAIN
from ..core.clinical.vitals import CANONICAL_UNIT, Vital
from ..core.store.record_store import RecordStore, StoredMeasurement
from .runtime import Household, HouseholdListener, Person
from .sources import CONVERTERS, HA_UNIT

# HA 2025.10+ wants the unit class in imported metadata (2026.11 refuses it missing); older
# recorders build their metadata row from the dict's keys and refuse an unknown one.
_HAS_UNIT_CLASS = "unit_class" in StatisticMetaData.__annotations__


def _unit_class(device_class: str | None, unit: str | None) -> str | None:
    """The unit class HA's sensor recorder gives statistics of this device class and unit."""
    if device_class and (conv := UNIT_CONVERTERS.get(device_class)) and unit in conv.VALID_UNITS:
        return conv.UNIT_CLASS
    if (conv := STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)) is not None:
        return conv.UNIT_CLASS
    return None


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def async_import_backfill(
    hass: HomeAssistant, household: Household, person: Person, rows: Iterable[StoredMeasurement]
) -> int:
    """Import the hours touched by ``rows``; return how many hour rows were imported."""
    if "recorder" not in hass.config.components:
        return 0
    registry = er.async_get(hass)
    hours: dict[str, set[datetime]] = defaultdict(set)
    for row in rows:
        hours[row.vital].add(_hour(row.time))
    imported = 0
    for vital_key, starts in hours.items():
        entity_id = registry.async_get_entity_id(
            "sensor", DOMAIN, f"{person.person_id}_{vital_key}"
        )
        if entity_id is None:
            continue
        vital = Vital(vital_key)
        # Statistics are kept in the unit the sensor shows (e.g. glucose in mg/dL).
        state = hass.states.get(entity_id)
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
        unit = unit or CANONICAL_UNIT[vital]
        device_class = state.attributes.get(ATTR_DEVICE_CLASS) if state else None
        converter = CONVERTERS.get(vital)
        stats: list[StatisticData] = []
        by_hour = await household.record.batch(
            partial(_values_by_hour, person_id=person.person_id, vital=vital_key, starts=starts)
        )
        for start in sorted(starts):
            values = by_hour.get(start)
            if not values:
                continue
            if converter is not None and unit != CANONICAL_UNIT[vital]:
                values = [
                    converter.convert(v, HA_UNIT[CANONICAL_UNIT[vital]], unit) for v in values
                ]
            stats.append(
                StatisticData(start=start, mean=fmean(values), min=min(values), max=max(values))
            )
        if not stats:
            continue
        metadata: dict[str, Any] = {
            "mean_type": StatisticMeanType.ARITHMETIC,
            "has_sum": False,
            "name": None,
            "source": "recorder",
            "statistic_id": entity_id,
            "unit_of_measurement": unit,
        }
        if _HAS_UNIT_CLASS:
            metadata["unit_class"] = _unit_class(device_class, unit)
        async_import_statistics(hass, cast(StatisticMetaData, metadata), stats)
        imported += len(stats)
    return imported


# Hours this close together are read as one range (a meter's memory: hours apart).
_SPAN_GAP = timedelta(days=2)


def _values_by_hour(
    store: RecordStore, *, person_id: str, vital: str, starts: Iterable[datetime]
) -> dict[datetime, list[float]]:
    """Every logged value of the given hours, by hour: one range read per run of close hours.

    One executor job for a whole transfer instead of one per hour; runs of hours are read as
    one range, so a span between them costs at most two days of that vital's rows.
    """
    ordered = sorted(starts)
    spans: list[tuple[datetime, datetime]] = []
    for start in ordered:
        end = start + timedelta(hours=1)
        if spans and start - spans[-1][1] <= _SPAN_GAP:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    by_hour: dict[datetime, list[float]] = defaultdict(list)
    for since, until in spans:
        for row in store.history(person_id, since=since, vital=vital, until=until):
            # The hour that holds it, as the hours were given (any time zone).
            at = bisect_right(ordered, row.time) - 1
            if at >= 0 and row.time < ordered[at] + timedelta(hours=1):
                by_hour[ordered[at]].append(row.value)
    return by_hour


class BackfillStatistics(HouseholdListener):
    """Imports readings kept out of the state (device memory, backfill) into statistics."""

    def __init__(self, hass: HomeAssistant, household: Household) -> None:
        """Bind to the household."""
        self.hass = hass
        self.household = household

    async def async_readings_stored(
        self, person: Person, stored: list[StoredMeasurement], backfilled: list[StoredMeasurement]
    ) -> None:
        """Import the hours the backfilled rows touch."""
        if backfilled:
            await async_import_backfill(self.hass, self.household, person, backfilled)
