"""The demo's story: who measures what, when (pure data: no Home Assistant, no bytes).

Two people share a blood pressure cuff and a scale (user buttons 1 and 2); Grandma also
has a pulse oximeter and a glucose meter. On the first start the devices hold two weeks
of earlier measurements in their memory, which Smart Care downloads (so graphs and
long-term statistics have a history). Then the live timeline plays, on every start:

=====  ========  =========================================================
 time  device    what happens
=====  ========  =========================================================
 0:25  cuff      Grandpa, user 2: 128/80 mmHg, pulse 64
 0:40  scale     Grandpa, user 2: 71.9 kg
 0:55  meter     Grandma: glucose 7.2 mmol/L after breakfast
 1:10  oximeter  Grandma: SpO2 96 %, pulse 76
 1:25  cuff      Grandma, user 1: 134/82 mmHg, pulse 74
 1:40  scale     Grandma, user 1: 58.7 kg
 2:00  cuff      Grandma: 186/112 mmHg, pulse 104  <- abnormal episode
 2:15  oximeter  Grandma: SpO2 87 %, pulse 108      <- abnormal episode (critical)
 6:00  cuff      Grandma re-measures after resting: 174/106, pulse 98
 6:15  oximeter  Grandma: SpO2 92 %
12:00  cuff      Grandma: 152/94, pulse 88; 12:15 SpO2 95 %
20:00  cuff      Grandma: 134/84, pulse 78; 20:15 SpO2 96 %
30:00+ all       a round of ordinary measurements every 30 minutes
=====  ========  =========================================================

``SMART_CARE_DEMO_FAST=1`` plays the same story ten times faster (the episode at 0:12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
import random
from typing import Final

FAST_FACTOR: Final = 0.1
ROUND_INTERVAL: Final = 1800.0  # seconds between ordinary rounds after the story
FIRST_ROUND: Final = 1800.0
MEMORY_DAYS: Final = 14


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """A person as the devices know them: a user button and a height."""

    key: str
    alias: str
    user: int
    height_m: float


PEOPLE: Final = {
    "grandma": DemoPerson("grandma", "Grandma", 1, 1.56),
    "grandpa": DemoPerson("grandpa", "Grandpa", 2, 1.70),
}


@dataclass(frozen=True, slots=True)
class DemoDevice:
    """One simulated device: address, advertised name, kind."""

    key: str
    address: str
    name: str
    kind: str  # cuff | oximeter | scale | meter


DEVICES: Final = {
    "cuff": DemoDevice("cuff", "C0:FF:EE:00:18:10", "Demo BP Cuff", "cuff"),
    "oximeter": DemoDevice("oximeter", "C0:FF:EE:00:18:22", "Demo Oximeter", "oximeter"),
    "scale": DemoDevice("scale", "C0:FF:EE:00:18:1D", "Demo Scale", "scale"),
    "meter": DemoDevice("meter", "C0:FF:EE:00:18:08", "Demo Glucose Meter", "meter"),
}
PROXY_SOURCE: Final = "C0:FF:EE:00:00:01"
PROXY_NAME: Final = "Smart Care demo proxy"


@dataclass(frozen=True, slots=True)
class Measurement:
    """Someone measures on a device.

    ``values``: cuff (systolic, diastolic, pulse); oximeter (spo2, pulse); scale (kg,);
    meter (mmol/L,).
    """

    at: float  # seconds after the timeline starts (live) or 0 for memory
    device: str
    person: str
    values: tuple[float, ...]
    story: str = ""
    abnormal: bool = False
    when: datetime | None = field(default=None, compare=False)  # memory: when it was taken


LIVE: Final[tuple[Measurement, ...]] = (
    Measurement(25, "cuff", "grandpa", (128, 80, 64), "Grandpa's morning blood pressure"),
    Measurement(40, "scale", "grandpa", (71.9,), "Grandpa steps on the scale"),
    Measurement(55, "meter", "grandma", (7.2,), "Grandma's glucose after breakfast"),
    Measurement(70, "oximeter", "grandma", (96, 76), "Grandma's oxygen saturation"),
    Measurement(85, "cuff", "grandma", (134, 82, 74), "Grandma's morning blood pressure"),
    Measurement(100, "scale", "grandma", (58.7,), "Grandma steps on the scale"),
    Measurement(
        120,
        "cuff",
        "grandma",
        (186, 112, 104),
        "Grandma feels dizzy: blood pressure very high",
        abnormal=True,
    ),
    Measurement(
        135, "oximeter", "grandma", (87, 108), "Grandma's oxygen saturation is low", abnormal=True
    ),
    Measurement(360, "cuff", "grandma", (174, 106, 98), "Grandma re-measures after resting"),
    Measurement(375, "oximeter", "grandma", (92, 96), "Grandma's oxygen saturation again"),
    Measurement(720, "cuff", "grandma", (152, 94, 88), "Grandma's blood pressure is coming down"),
    Measurement(735, "oximeter", "grandma", (95, 84), "Grandma's oxygen saturation recovers"),
    Measurement(1200, "cuff", "grandma", (134, 84, 78), "Grandma's blood pressure is back"),
    Measurement(1215, "oximeter", "grandma", (96, 78), "Grandma's oxygen saturation is normal"),
)


def ordinary_round(index: int, start: float) -> list[Measurement]:
    """The ``index``-th round of unremarkable measurements, starting at ``start`` seconds."""
    rng = random.Random(1000 + index)
    round_ = [
        Measurement(
            start,
            "cuff",
            "grandma",
            (rng.randint(124, 138), rng.randint(76, 86), rng.randint(68, 80)),
            "Grandma's blood pressure",
        ),
        Measurement(
            start + 15, "oximeter", "grandma", (rng.randint(95, 98), rng.randint(68, 80)), ""
        ),
        Measurement(
            start + 30,
            "cuff",
            "grandpa",
            (rng.randint(118, 132), rng.randint(72, 82), rng.randint(60, 70)),
            "Grandpa's blood pressure",
        ),
    ]
    if index % 4 == 0:
        round_.append(
            Measurement(
                start + 45, "meter", "grandma", (round(rng.uniform(5.6, 8.4), 1),), "Glucose"
            )
        )
    return round_


def _at(day: datetime, clock: time, rng: random.Random) -> datetime:
    minutes = rng.randint(-12, 12)
    return datetime.combine(day.date(), clock) + timedelta(
        minutes=minutes, seconds=rng.randint(0, 59)
    )


def memory(now_local: datetime, days: int = MEMORY_DAYS, seed: int = 7) -> list[Measurement]:
    """What the devices measured in the ``days`` before today (device memory).

    Grandma (treated hypertension, type 2 diabetes): blood pressure around 131/80 twice a
    day, weight about 58.8 kg, fasting glucose about 6.5 and after dinner about 8.1 mmol/L.
    Grandpa: around 124/77, about 72 kg. Nothing here is abnormal: old readings feed the
    record, trends and long-term statistics, never an alarm.
    """
    rng = random.Random(seed)
    out: list[Measurement] = []
    today = now_local.replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        for clock in (time(7, 30), time(19, 30)):
            out.append(
                Measurement(
                    0,
                    "cuff",
                    "grandma",
                    (rng.randint(124, 138), rng.randint(75, 85), rng.randint(68, 80)),
                    when=_at(day, clock, rng),
                )
            )
            out.append(
                Measurement(
                    0,
                    "cuff",
                    "grandpa",
                    (rng.randint(116, 132), rng.randint(70, 84), rng.randint(58, 70)),
                    when=_at(day, clock, rng),
                )
            )
        out.append(
            Measurement(
                0,
                "scale",
                "grandma",
                (round(58.8 + rng.uniform(-0.35, 0.35), 1),),
                when=_at(day, time(7, 10), rng),
            )
        )
        out.append(
            Measurement(
                0,
                "scale",
                "grandpa",
                (round(72.1 + rng.uniform(-0.4, 0.4), 1),),
                when=_at(day, time(7, 15), rng),
            )
        )
        out.append(
            Measurement(
                0,
                "meter",
                "grandma",
                (round(rng.uniform(5.8, 7.0), 1),),
                when=_at(day, time(7, 0), rng),
            )
        )
        out.append(
            Measurement(
                0,
                "meter",
                "grandma",
                (round(rng.uniform(7.0, 9.2), 1),),
                when=_at(day, time(20, 30), rng),
            )
        )
    out.sort(key=lambda m: m.when or now_local)
    return out


def timeline(fast: bool, rounds: int = 48) -> list[Measurement]:
    """The live story followed by ``rounds`` ordinary rounds, times scaled for fast mode."""
    steps = list(LIVE)
    for index in range(rounds):
        steps.extend(ordinary_round(index, FIRST_ROUND + index * ROUND_INTERVAL))
    factor = FAST_FACTOR if fast else 1.0
    return [
        Measurement(m.at * factor, m.device, m.person, m.values, m.story, m.abnormal)
        for m in sorted(steps, key=lambda m: m.at)
    ]
