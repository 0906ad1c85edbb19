"""The visit report's charts as SVG text, drawn by our own code (pure; docs/visit-report.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
import math
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

from .report import ReportPeriod

__all__ = ["bp_chart", "glucose_chart"]

WIDTH: Final = 720
HEIGHT: Final = 260
_LEFT: Final = 48
_RIGHT: Final = 16
_TOP: Final = 28
_BOTTOM: Final = 34
_FONT: Final = "font-family:sans-serif;font-size:11px"


class _Frame:
    """Maps times and values onto the plot area."""

    def __init__(self, period: ReportPeriod, low: float, high: float) -> None:
        self.period = period
        self.t0 = period.start_utc.timestamp()
        self.t1 = period.end_utc.timestamp()
        self.low = low
        self.high = high

    def x(self, when: datetime) -> float:
        share = (when.timestamp() - self.t0) / (self.t1 - self.t0)
        return round(_LEFT + share * (WIDTH - _LEFT - _RIGHT), 1)

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return round(HEIGHT - _BOTTOM - share * (HEIGHT - _TOP - _BOTTOM), 1)


def _nice_bounds(
    values: Sequence[float], low: float, high: float, step: float
) -> tuple[float, float]:
    lo = min([low, *values])
    hi = max([high, *values])
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def _axes(
    frame: _Frame,
    step: float,
    title: str,
    format_date: Callable[[date], str],
    format_number: Callable[[float], str],
) -> list[str]:
    out = [
        f'<text x="{_LEFT}" y="16" style="{_FONT};font-weight:bold">{escape(title)}</text>',
    ]
    value = frame.low
    while value <= frame.high + 1e-9:
        y = frame.y(value)
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y}" y2="{y}" '
            'stroke="#ddd" stroke-width="0.5"/>'
        )
        out.append(
            f'<text x="{_LEFT - 4}" y="{y + 4}" text-anchor="end" style="{_FONT}">'
            f"{escape(format_number(value))}</text>"
        )
        value += step
    period = frame.period
    # A tick each day, a label each week (or each day for a short period).
    label_every = 1 if period.days <= 10 else 7
    day = period.start
    while day <= period.end + timedelta(days=1):
        x = frame.x(datetime.combine(day, datetime.min.time(), period.tz))
        out.append(
            f'<line class="tick" x1="{x}" x2="{x}" y1="{HEIGHT - _BOTTOM}" '
            f'y2="{HEIGHT - _BOTTOM + 4}" stroke="#000" stroke-width="0.5"/>'
        )
        if (day - period.start).days % label_every == 0 and day <= period.end:
            out.append(
                f'<text class="date" x="{x}" y="{HEIGHT - _BOTTOM + 16}" style="{_FONT}">'
                f"{escape(format_date(day))}</text>"
            )
        day += timedelta(days=1)
    out.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{WIDTH - _LEFT - _RIGHT}" '
        f'height="{HEIGHT - _TOP - _BOTTOM}" fill="none" stroke="#000" stroke-width="0.8"/>'
    )
    return out


def _limit(frame: _Frame, value: float, name: str, label: str) -> list[str]:
    y = frame.y(value)
    return [
        f'<line class="limit {name}" data-value="{value:g}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
        f'y1="{y}" y2="{y}" stroke="#000" stroke-width="1" stroke-dasharray="6 4"/>',
        f'<text class="limit-label" x="{WIDTH - _RIGHT - 2}" y="{y - 3}" text-anchor="end" '
        f'style="{_FONT}">{escape(label)}</text>',
    ]


def _svg(body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label={quoteattr(label)}>'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def _marker(shape: str, x: float, y: float, name: str, extra: str, fill: str) -> str:
    if shape == "square":
        return (
            f'<rect class="{name}"{extra} x="{x - 3}" y="{y - 3}" width="6" height="6" '
            f'fill="{fill}" stroke="#000" stroke-width="1"/>'
        )
    return (
        f'<circle class="{name}"{extra} cx="{x}" cy="{y}" r="3.2" fill="{fill}" '
        'stroke="#000" stroke-width="1"/>'
    )


def bp_chart(
    figures: Mapping[str, Any],
    period: ReportPeriod,
    texts: Mapping[str, str],
    format_date: Callable[[date], str] = date.isoformat,
    format_number: Callable[[float], str] = lambda v: f"{v:g}",
) -> str:
    """Systolic (filled circles) and diastolic (squares) of every reading, targets dashed.

    ``figures`` is the report's ``blood_pressure`` section; ``texts`` gives ``title``,
    ``systolic``, ``diastolic``, ``target`` and ``discarded`` in the reader's language.
    Readings of the discarded first day are drawn hollow and grey.
    """
    series = figures["series"]
    target = figures["target"]
    values = [p["systolic"] for p in series] + [p["diastolic"] for p in series]
    low, high = _nice_bounds(values, 60, 180, 20)
    frame = _Frame(period, low, high)
    body = _axes(frame, 20, texts["title"], format_date, format_number)
    body += _limit(
        frame,
        target["systolic"],
        "systolic",
        f"{texts['target']} {format_number(target['systolic'])}",
    )
    body += _limit(
        frame,
        target["diastolic"],
        "diastolic",
        f"{texts['target']} {format_number(target['diastolic'])}",
    )
    for name, shape in (("systolic", "circle"), ("diastolic", "square")):
        kept = [p for p in series if not p["discarded"]]
        if len(kept) > 1:
            points = " ".join(
                f"{frame.x(datetime.fromisoformat(p['time']))},{frame.y(p[name])}" for p in kept
            )
            body.append(
                f'<polyline class="series {name}" points="{points}" fill="none" '
                f'stroke="#000" stroke-width="{1.2 if name == "systolic" else 0.8}"/>'
            )
        for p in series:
            x = frame.x(datetime.fromisoformat(p["time"]))
            extra = f' data-value="{p[name]:g}"'
            if p["discarded"]:
                body.append(
                    _marker(shape, x, frame.y(p[name]), f"point {name} discarded", extra, "#fff")
                )
            else:
                fill = "#000" if name == "systolic" else "#888"
                body.append(_marker(shape, x, frame.y(p[name]), f"point {name}", extra, fill))
    # Legend: shapes, not colours, so it survives a black-and-white printer.
    lx = _LEFT + 260
    body.append(_marker("circle", lx, 12, "legend", "", "#000"))
    body.append(f'<text x="{lx + 7}" y="16" style="{_FONT}">{escape(texts["systolic"])}</text>')
    body.append(_marker("square", lx + 110, 12, "legend", "", "#888"))
    body.append(f'<text x="{lx + 117}" y="16" style="{_FONT}">{escape(texts["diastolic"])}</text>')
    body.append(_marker("circle", lx + 220, 12, "legend", "", "#fff"))
    body.append(f'<text x="{lx + 227}" y="16" style="{_FONT}">{escape(texts["discarded"])}</text>')
    return _svg(body, texts["title"])


def glucose_chart(
    figures: Mapping[str, Any],
    period: ReportPeriod,
    texts: Mapping[str, str],
    format_date: Callable[[date], str] = date.isoformat,
    format_number: Callable[[float], str] = lambda v: f"{v:g}",
    axis: tuple[float, float, float] = (2, 14, 2),
) -> str:
    """Glucose readings over the person's range (shaded band, dashed limits).

    ``texts`` gives ``title``, ``low`` and ``high``. Readings outside the range are drawn
    as larger hollow markers so they stand out without colour. ``axis``: the least span
    shown and the grid step, in the unit of the values (mg/dL needs other numbers).
    """
    series = figures["series"]
    band = figures["range"]
    values = [p["value"] for p in series]
    low, high = _nice_bounds(values, axis[0], axis[1], axis[2])
    frame = _Frame(period, low, high)
    body = _axes(frame, axis[2], texts["title"], format_date, format_number)
    top, bottom = frame.y(band["high"]), frame.y(band["low"])
    body.append(
        f'<rect class="range" x="{_LEFT}" y="{top}" width="{WIDTH - _LEFT - _RIGHT}" '
        f'height="{round(bottom - top, 1)}" fill="#eee"/>'
    )
    body += _limit(
        frame, band["high"], "glucose-high", f"{texts['high']} {format_number(band['high'])}"
    )
    body += _limit(
        frame, band["low"], "glucose-low", f"{texts['low']} {format_number(band['low'])}"
    )
    if len(series) > 1:
        points = " ".join(
            f"{frame.x(datetime.fromisoformat(p['time']))},{frame.y(p['value'])}" for p in series
        )
        body.append(
            f'<polyline class="series glucose" points="{points}" fill="none" stroke="#000" '
            'stroke-width="0.8"/>'
        )
    for p in series:
        x = frame.x(datetime.fromisoformat(p["time"]))
        y = frame.y(p["value"])
        outside = not band["low"] <= p["value"] <= band["high"]
        extra = f' data-value="{p["value"]:g}"'
        if outside:
            body.append(
                f'<circle class="point glucose outside"{extra} cx="{x}" cy="{y}" r="5" '
                'fill="#fff" stroke="#000" stroke-width="1.6"/>'
            )
        else:
            body.append(_marker("circle", x, y, "point glucose", extra, "#000"))
    return _svg(body, texts["title"])
