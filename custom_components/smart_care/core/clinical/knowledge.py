"""A small, curated health knowledge base, matched to findings and to a person's conditions.

Notes: docs/modules.md (core/clinical/knowledge.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import re

LANGUAGES = ("en", "zh-Hans")

DISCLAIMER = {
    "en": "General health information, not a diagnosis. If you are worried, contact your doctor.",
    "zh-Hans": "以上为一般健康知识，并非诊断。如有担心，请联系您的医生。",
}


@dataclass(frozen=True, slots=True)
class Note:
    """One knowledge note."""

    topic: str
    title: dict[str, str]
    text: dict[str, str]
    source: str
    # Finding codes that make this note relevant.
    codes: frozenset[str] = frozenset()
    # Condition keywords (English and Chinese) that make it relevant.
    conditions: tuple[str, ...] = ()

    def render(self, language: str) -> tuple[str, str]:
        """(title, body) in ``language`` (English if not available)."""
        lang = language if language in self.title else "en"
        body = f"{self.text[lang]}\n\n{self.source}\n\n{DISCLAIMER[lang]}"
        return self.title[lang], body


NOTES: tuple[Note, ...] = (
    Note(
        topic="home_bp_above_target",
        codes=frozenset({"bp_7day_mean_stage1", "systolic_bp_7day_rise"}),
        title={"en": "Home blood pressure above target", "zh-Hans": "家庭血压高于目标"},
        text={
            "en": "The average of the last week's home readings is at or above 135/85 mmHg, "
            "the level at which home readings count as raised. Less salt (under 5 g a day), "
            "regular activity (about 150 minutes a week), limiting alcohol and not smoking "
            "all lower blood pressure. Bring a week of morning and evening readings to your "
            "next visit.",
            "zh-Hans": "最近一周家庭血压的平均值达到或超过 135/85 mmHg，即家庭血压偏高的水平。"
            "少盐（每天少于 5 克）、规律运动（每周约 150 分钟）、限酒和戒烟都有助于降低血压。"
            "下次就诊时请带上一周早晚的测量记录。",
        },
        source="ESC/ESH 2018 Guidelines for the management of arterial hypertension; "
        "WHO Guideline on sodium intake (2012).",
    ),
    Note(
        topic="measuring_technique",
        codes=frozenset(
            {"device_cuff_too_loose", "device_improper_position", "device_body_movement"}
        ),
        conditions=("hypertension", "high blood pressure", "高血压"),
        title={"en": "Measuring blood pressure at home", "zh-Hans": "在家正确测量血压"},
        text={
            "en": "Sit quietly for 5 minutes with your back supported and feet flat. Rest the "
            "arm on a table with the cuff at heart level, on bare skin, snug enough for two "
            "fingers. Do not talk or move during the measurement. Take two readings a minute "
            "apart, morning and evening.",
            "zh-Hans": "测量前安静坐 5 分钟，背部有支撑、双脚平放。手臂放在桌上，袖带与心脏同高，"
            "直接绑在皮肤上，松紧以能插入两指为宜。测量时不要说话或移动。早晚各测两次，间隔一分钟。",
        },
        source="ESC/ESH 2018 Guidelines, home blood pressure monitoring; AHA 2019 "
        "scientific statement on blood pressure measurement.",
    ),
    Note(
        topic="irregular_pulse",
        codes=frozenset({"device_irregular_pulse"}),
        title={"en": "An irregular pulse was detected", "zh-Hans": "检测到脉搏不规则"},
        text={
            "en": "Blood pressure monitors can notice an irregular pulse. It is often harmless, "
            "but when it keeps coming back it can be a sign of atrial fibrillation, which is "
            "worth checking with an ECG. Re-measure after 5 minutes of rest; if it happens "
            "again, tell your doctor.",
            "zh-Hans": "血压计可以发现脉搏不规则。这常常无害，但如果反复出现，可能是心房颤动的信号，"
            "值得做心电图检查。休息 5 分钟后再测一次；如果仍然出现，请告诉医生。",
        },
        source="ESC 2020 Guidelines for the diagnosis and management of atrial fibrillation.",
    ),
    Note(
        topic="weight_gain_fluid",
        codes=frozenset({"weight_gain_3d"}),
        conditions=("heart failure", "心衰", "心力衰竭"),
        title={"en": "Daily weighing and fluid", "zh-Hans": "每日称重与体液"},
        text={
            "en": "Weigh yourself every morning after the toilet and before breakfast. A gain "
            "of 2 kg or more within 3 days can mean fluid is building up: contact your nurse "
            "or doctor the same day, especially with swollen ankles or "
            "breathlessness.",
            "zh-Hans": "每天早晨如厕后、早餐前称体重。3 天内体重增加 2 千克或以上，可能是体内积液："
            "请当天联系护士或医生，尤其是伴有脚踝肿胀或气短时。",
        },
        source="ESC 2021 Guidelines (escardio.org), self-care and daily weighing.",
    ),
    Note(
        topic="low_glucose",
        codes=frozenset({"glucose_low", "glucose_repeated_lows"}),
        title={"en": "Treating a low blood glucose", "zh-Hans": "低血糖的处理"},
        text={
            "en": "Below 3.9 mmol/L (70 mg/dL): take 15 g of fast sugar (e.g. half a glass of "
            "juice or 3–4 glucose tablets), re-check after 15 minutes and repeat if still low. "
            "Then eat a snack. Repeated lows need a review of medication with your doctor.",
            "zh-Hans": "低于 3.9 mmol/L（70 mg/dL）时：摄入 15 克快速起效的糖（如半杯果汁或 3–4 片"
            "葡萄糖片），15 分钟后复测，仍低则重复，之后吃些点心。反复低血糖需要与医生一起调整用药。",
        },
        source="American Diabetes Association, Standards of Care in Diabetes, section 6 "
        "(hypoglycaemia).",
    ),
    Note(
        topic="high_glucose",
        codes=frozenset({"glucose_high"}),
        title={"en": "A high blood glucose", "zh-Hans": "血糖偏高"},
        text={
            "en": "Drink water, take your medicines as prescribed and re-check in a few hours. "
            "Seek care the same day if it stays high with vomiting, deep breathing, confusion "
            "or great thirst.",
            "zh-Hans": "多喝水，按医嘱用药，几小时后复测。如果持续偏高并伴有呕吐、呼吸深快、意识模糊"
            "或极度口渴，请当天就医。",
        },
        source="American Diabetes Association, Standards of Care in Diabetes; "
        "hyperglycaemic crises consensus (2024).",
    ),
    Note(
        topic="low_oxygen",
        codes=frozenset({"spo2_low"}),
        conditions=("copd", "慢阻肺", "慢性阻塞性肺"),
        title={"en": "Low oxygen saturation", "zh-Hans": "血氧饱和度偏低"},
        text={
            "en": "Warm the hand, sit still and measure again for a minute. Most people should "
            "be at 94–98 %; some lung conditions have a lower target set by the doctor. Seek "
            "urgent help with breathlessness at rest, chest pain, blue lips or confusion.",
            "zh-Hans": "先暖手、静坐，再测一分钟。大多数人应在 94–98%；某些肺部疾病的目标值由医生"
            "设定得更低。如静息时气短、胸痛、口唇发紫或意识模糊，请立即就医。",
        },
        source="BTS Guideline for oxygen use in adults (2017); GOLD 2024 report.",
    ),
    Note(
        topic="fever",
        codes=frozenset({"temperature_high"}),
        title={"en": "Fever", "zh-Hans": "发热"},
        text={
            "en": "Rest, drink plenty and re-check in a few hours. Older people can be very "
            "ill with only a mild fever. Seek care for 39 °C or more, breathing difficulty, "
            "confusion, a stiff neck or a rash that does not fade when pressed.",
            "zh-Hans": "注意休息、多喝水，几小时后复测。老年人即使只是低热也可能病得很重。体温 39 °C"
            "及以上、呼吸困难、意识模糊、颈部僵硬或按压不褪色的皮疹，请就医。",
        },
        source="WHO; NHS guidance on high temperature in adults.",
    ),
    Note(
        topic="foot_care",
        conditions=("diabetes", "糖尿病"),
        title={"en": "Daily foot check", "zh-Hans": "每日检查双脚"},
        text={
            "en": "Look at both feet every day, including between the toes, for cuts, blisters, "
            "redness or swelling. Wear well-fitting shoes and never walk barefoot. Show any "
            "wound to a health worker within a day.",
            "zh-Hans": "每天检查双脚（包括脚趾之间）有无割伤、水疱、发红或肿胀。穿合脚的鞋，不要"
            "赤脚走路。发现伤口请在一天内给医护人员查看。",
        },
        source="IWGDF 2023 guidelines on preventing foot ulcers (iwgdf.org).",
    ),
)

_BY_TOPIC = {note.topic: note for note in NOTES}


def note(topic: str) -> Note:
    """The note of a topic (KeyError if unknown)."""
    return _BY_TOPIC[topic]


def for_codes(codes: Iterable[str]) -> list[Note]:
    """Notes relevant to these finding codes, in catalogue order."""
    wanted = set(codes)
    return [n for n in NOTES if n.codes & wanted]


def for_conditions(conditions_text: str) -> list[Note]:
    """Notes whose condition keywords appear in a person's free-text conditions."""
    text = conditions_text.casefold()
    return [n for n in NOTES if any(_mentions(text, k) for k in n.conditions)]


def _mentions(text: str, keyword: str) -> bool:
    # Latin keywords match whole words ("prediabetes" is not "diabetes"); Chinese has no
    # word breaks, so a substring is the match.
    if keyword.isascii():
        return re.search(rf"(?<![a-z]){re.escape(keyword)}", text) is not None
    return keyword in text
