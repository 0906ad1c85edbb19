"""The printable page: figures with their counts, "not enough data", locale, identity."""

from __future__ import annotations

from datetime import UTC, date, datetime
import json
from pathlib import Path
from typing import Any
import xml.etree.ElementTree as ET

from custom_components.smart_care.core.clinical.report import Targets, build_report
from custom_components.smart_care.core.clinical.report_html import (
    format_date,
    format_time,
    render_html,
)

from .test_report import AFTER, PERIOD, bp_series, other_series

TRANSLATIONS = Path(__file__).parents[2] / "custom_components" / "smart_care" / "translations"


def _texts(language: str) -> dict[str, str]:
    data = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))
    return {
        k.removeprefix("report_"): v for k, v in data["common"].items() if k.startswith("report_")
    }


def _page(
    language: str, identity: dict[str, Any] | None = None, rows: Any = None, unit: str = "mmol/L"
) -> str:
    report = build_report(
        period=PERIOD,
        now=AFTER,
        measurements=bp_series() + other_series() if rows is None else rows,
        targets=Targets(),
    )
    return render_html(
        report,
        person="Grandma <3",
        texts=_texts(language),
        language=language,
        period=PERIOD,
        identity=identity,
        glucose_unit=unit,
    )


def test_english_page_has_the_figures_and_their_counts() -> None:
    page = _page("en")
    assert "Visit report · Grandma &lt;3" in page  # the alias is escaped
    assert "2 Mar 2026 to 15 Mar 2026 (14 days)" in page
    assert "131/83 mmHg" in page  # overall (see test_report.py)
    assert "(18 readings)" in page
    assert "6.3 mmol/L" in page
    assert "first day (2 Mar 2026, 2 readings) not counted" in page
    # The NEWS2 episode says it is partial, and what was not measured.
    assert "peak 5 (medium risk) · partial: respiration rate, oxygen, systolic BP" in page
    assert page.count("<svg") == 2
    assert "@media print" in page
    assert "Identity" not in page


def test_too_few_readings_read_not_enough_data() -> None:
    rows = bp_series()[:9]  # three readings (3 values each): two on the first day, one kept
    page = _page("en", rows=rows)
    assert "not enough data (" in page
    assert "needs 12" in page
    assert "mmHg (" not in page  # no average printed


def test_chinese_page_and_identity_for_admins() -> None:
    page = _page("zh-Hans", identity={"id_number": "X-1", "conditions": ["高血压"], "sex": None})
    assert '<html lang="zh-Hans">' in page
    assert "2026年3月2日至2026年3月15日（14天）" in page
    assert "家庭血压" in page
    assert "(18次测量)" in page
    assert "最高5分（中风险） · 部分评分：未测呼吸频率、吸氧、收缩压" in page
    assert "X-1" in page
    assert "高血压" in page
    # Charts inside the page are valid XML too.
    start = page.index("<svg")
    ET.fromstring(page[start : page.index("</svg>", start) + 6])


def test_locale_formats() -> None:
    assert format_date(date(2026, 3, 2), "en") == "2 Mar 2026"
    assert format_date(date(2026, 3, 2), "zh-Hans") == "2026年3月2日"
    when = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
    assert format_time(when, PERIOD.tz, "en") == "10 Mar 09:30"
    assert format_time(when.isoformat(), PERIOD.tz, "zh-Hans") == "3月10日 09:30"


def test_glucose_in_the_households_mg_dl() -> None:
    page = _page("en", unit="mg/dL")
    # 6.3 mmol/L * 18.016 = 113.5 -> 114; range 3.9-10.0 -> 70-180; the low 3.5 -> 63
    assert '<span id="glucose-mean">114 mg/dL <span class="n">(5 readings)' in page
    assert "In range 70–180" in page
    assert ": 63" in page
    start = page.index('<figure id="glucose-chart">')
    chart = ET.fromstring(
        page[start + len('<figure id="glucose-chart">') : page.index("</figure>", start)]
    )
    limits = sorted(
        float(e.get("data-value"))
        for e in chart.iter()
        if "limit" in (e.get("class") or "").split()
    )
    assert limits == [70.0, 180.0]
    assert "mmol/L" not in page.split('id="glucose"')[1].split("</figure>")[0]
