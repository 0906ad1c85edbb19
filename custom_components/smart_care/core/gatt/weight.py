"""Weight scale (0x2A9D) and body composition (0x2A9C), pure.

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..clinical.vitals import INCH_TO_CM, LB_TO_KG, Vital, VitalSample
from .base import DATE_TIME_FMT, Decoder, Layout, Reading, fast_new, read_date_time
from .const import BODY_COMPOSITION_MEASUREMENT, WEIGHT_MEASUREMENT
from .values import clean, iso


def _mass_to_kg(value: float, unit: str) -> float:
    return value if unit == "kg" else clean(value * LB_TO_KG)


def _length_to_cm(value: float, unit: str) -> float:
    return clean(value * 100.0) if unit == "m" else clean(value * INCH_TO_CM)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightReading(Reading):
    """Weight Measurement (0x2A9D).

    Weight in "kg" (0.005) or "lb" (0.01); height in "m" (0.001) or "in" (0.1); BMI
    0.1 kg/m². ``weight`` is ``None`` when the scale reports "measurement unsuccessful"
    (0xFFFF).
    """

    weight_unit: str
    height_unit: str
    weight: float | None
    bmi: float | None = None
    height: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        return {
            **Reading.as_dict(self),
            "weight": self.weight,
            "weight_unit": self.weight_unit,
            "timestamp": iso(self.timestamp),
            "user_id": self.user_id,
            "bmi": self.bmi,
            "bmi_unit": "kg/m²",
            "height": self.height,
            "height_unit": self.height_unit,
        }

    def vitals(self) -> list[VitalSample]:
        """Weight (kg), BMI and height (cm)."""
        out: list[VitalSample] = []
        if self.weight is not None:
            out.append(VitalSample(Vital.WEIGHT, _mass_to_kg(self.weight, self.weight_unit)))
        if self.bmi is not None:
            out.append(VitalSample(Vital.BMI, self.bmi))
        if self.height is not None:
            out.append(VitalSample(Vital.HEIGHT, _length_to_cm(self.height, self.height_unit)))
        return out

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return ["measurement_unsuccessful"] if self.weight is None else []


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyCompositionReading(Reading):
    """Body Composition Measurement (0x2A9C).

    Masses in ``mass_unit`` ("kg" 0.005 / "lb" 0.01), height in ``height_unit``
    ("m" 0.001 / "in" 0.1), percentages 0.1 %, basal metabolism kJ, impedance 0.1 Ω.
    ``body_fat_percent`` is ``None`` for "measurement unsuccessful" (0xFFFF).
    ``multiple_packets`` means this packet is one part of a split measurement.
    """

    mass_unit: str
    height_unit: str
    body_fat_percent: float | None
    basal_metabolism: int | None = None
    muscle_percent: float | None = None
    muscle_mass: float | None = None
    fat_free_mass: float | None = None
    soft_lean_mass: float | None = None
    body_water_mass: float | None = None
    impedance: float | None = None
    weight: float | None = None
    height: float | None = None
    multiple_packets: bool = False

    def as_dict(self) -> dict[str, Any]:
        """See ``Reading.as_dict``."""
        mass = self.mass_unit
        return {
            **Reading.as_dict(self),
            "body_fat_percent": self.body_fat_percent,
            "body_fat_percent_unit": "%",
            "timestamp": iso(self.timestamp),
            "user_id": self.user_id,
            "basal_metabolism": self.basal_metabolism,
            "basal_metabolism_unit": "kJ",
            "muscle_percent": self.muscle_percent,
            "muscle_percent_unit": "%",
            "muscle_mass": self.muscle_mass,
            "muscle_mass_unit": mass,
            "fat_free_mass": self.fat_free_mass,
            "fat_free_mass_unit": mass,
            "soft_lean_mass": self.soft_lean_mass,
            "soft_lean_mass_unit": mass,
            "body_water_mass": self.body_water_mass,
            "body_water_mass_unit": mass,
            "impedance": self.impedance,
            "impedance_unit": "Ω",
            "weight": self.weight,
            "weight_unit": mass,
            "height": self.height,
            "height_unit": self.height_unit,
            "multiple_packets": self.multiple_packets,
        }

    def vitals(self) -> list[VitalSample]:
        """Body fat (%), weight (kg) and height (cm)."""
        out: list[VitalSample] = []
        if self.body_fat_percent is not None:
            out.append(VitalSample(Vital.BODY_FAT, self.body_fat_percent))
        if self.weight is not None:
            out.append(VitalSample(Vital.WEIGHT, _mass_to_kg(self.weight, self.mass_unit)))
        if self.height is not None:
            out.append(VitalSample(Vital.HEIGHT, _length_to_cm(self.height, self.height_unit)))
        return out

    def status_flags(self) -> list[str]:
        """See ``Reading.status_flags``."""
        return ["measurement_unsuccessful"] if self.body_fat_percent is None else []


# Constructors without the frozen-dataclass __setattr__ cost (see base.fast_new).
_NEW_WEIGHT: Final = fast_new(WeightReading)
_NEW_BODY: Final = fast_new(BodyCompositionReading)


_WEIGHT = Layout(
    WEIGHT_MEASUREMENT,
    "weight",
    "B",
    (
        ("weight", "H", 0),
        ("timestamp", DATE_TIME_FMT, 0x02),
        ("user_id", "B", 0x04),
        ("bmi", "H", 0x08),
        ("height", "H", 0x08),
    ),
)


def _decode_weight(data: bytes) -> Reading:
    flags, v = _WEIGHT.unpack(data)
    imperial = flags & 0x01
    raw_weight = v[1]
    # SI 0.005 kg = raw/200; imperial 0.01 lb = raw/100 (division keeps the decimal exact).
    weight = None if raw_weight == 0xFFFF else raw_weight / (100 if imperial else 200)
    timestamp = user = bmi = height = None
    i = 2
    if flags & 0x02:
        timestamp = read_date_time(_WEIGHT, "timestamp", v, i)
        i += 6
    if flags & 0x04:
        user = None if v[i] == 0xFF else v[i]
        i += 1
    if flags & 0x08:
        bmi = v[i] / 10
        height = v[i + 1] / (10 if imperial else 1000)
    return _NEW_WEIGHT(
        characteristic=WEIGHT_MEASUREMENT,
        kind="weight",
        weight_unit="lb" if imperial else "kg",
        height_unit="in" if imperial else "m",
        weight=weight,
        timestamp=timestamp,
        user_id=user,
        bmi=bmi,
        height=height,
    )


_BODY = Layout(
    BODY_COMPOSITION_MEASUREMENT,
    "body_composition",
    "H",
    (
        ("body_fat_percent", "H", 0),
        ("timestamp", DATE_TIME_FMT, 0x0002),
        ("user_id", "B", 0x0004),
        ("basal_metabolism", "H", 0x0008),
        ("muscle_percent", "H", 0x0010),
        ("muscle_mass", "H", 0x0020),
        ("fat_free_mass", "H", 0x0040),
        ("soft_lean_mass", "H", 0x0080),
        ("body_water_mass", "H", 0x0100),
        ("impedance", "H", 0x0200),
        ("weight", "H", 0x0400),
        ("height", "H", 0x0800),
    ),
)


def _decode_body_composition(data: bytes) -> Reading:
    flags, v = _BODY.unpack(data)
    imperial = flags & 0x0001
    # SI masses 0.005 kg = raw/200, imperial 0.01 lb = raw/100.
    mass_div = 100 if imperial else 200
    timestamp = user = basal = muscle_pct = muscle = fat_free = soft_lean = water = None
    impedance = weight = height = None
    i = 2
    if flags & 0x0002:
        timestamp = read_date_time(_BODY, "timestamp", v, i)
        i += 6
    if flags & 0x0004:
        user = None if v[i] == 0xFF else v[i]
        i += 1
    if flags & 0x0008:
        basal = v[i]
        i += 1
    if flags & 0x0010:
        muscle_pct = v[i] / 10
        i += 1
    if flags & 0x0020:
        muscle = v[i] / mass_div
        i += 1
    if flags & 0x0040:
        fat_free = v[i] / mass_div
        i += 1
    if flags & 0x0080:
        soft_lean = v[i] / mass_div
        i += 1
    if flags & 0x0100:
        water = v[i] / mass_div
        i += 1
    if flags & 0x0200:
        impedance = v[i] / 10
        i += 1
    if flags & 0x0400:
        weight = v[i] / mass_div
        i += 1
    if flags & 0x0800:
        height = v[i] / (10 if imperial else 1000)
    return _NEW_BODY(
        characteristic=BODY_COMPOSITION_MEASUREMENT,
        kind="body_composition",
        mass_unit="lb" if imperial else "kg",
        height_unit="in" if imperial else "m",
        body_fat_percent=None if v[1] == 0xFFFF else v[1] / 10,
        timestamp=timestamp,
        user_id=user,
        basal_metabolism=basal,
        muscle_percent=muscle_pct,
        muscle_mass=muscle,
        fat_free_mass=fat_free,
        soft_lean_mass=soft_lean,
        body_water_mass=water,
        impedance=impedance,
        weight=weight,
        height=height,
        multiple_packets=bool(flags & 0x1000),
    )


# Short UUID -> (reading kind, decoder), merged into one dispatch table by parser.py.
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    WEIGHT_MEASUREMENT: ("weight", _decode_weight),
    BODY_COMPOSITION_MEASUREMENT: ("body_composition", _decode_body_composition),
}
# Names status_flags() can return for these readings.
STATUS_FLAGS: Final[frozenset[str]] = frozenset({"measurement_unsuccessful"})
