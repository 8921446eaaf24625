"""Charts of the KPI dashboard as plain SVG drawn on the server (``templates/oversight/_charts.html``).

The geometry is computed here; the template writes the elements with presentation attributes
(``fill=``, ``font-size=``) and classes from ``static/css/oversight.css`` — no ``style`` attribute
or element, so the charts pass the Content Security Policy, read without JavaScript and render in
WeasyPrint's PDF. Every chart carries a ``<title>`` and ``<desc>``; the page puts the same numbers
in a table next to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Colours (presentation attributes; the CSS classes may refine them on screen)
GOOD, BAD, NEUTRAL, MUTED, TARGET, GRID, INK = ("#2f855a", "#c53030", "#2b6cb0", "#a0aec0", "#b7791f",
                                                "#d9dee5", "#1a202c")
FONT = "Noto Sans CJK SC, Noto Serif CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, sans-serif"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    fill: str
    label: str
    value_text: str
    label_x: float
    label_y: float
    value_x: float
    value_y: float
    anchor: str = "start"  # text-anchor of the value text


@dataclass(frozen=True)
class Tick:
    x1: float
    y1: float
    x2: float
    y2: float
    text: str
    text_x: float
    text_y: float
    anchor: str = "middle"


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    kind: str  # hbar | vbar | line
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    target: Tick | None = None
    points: list[tuple[float, float, str]] = field(default_factory=list)  # line: x, y, value text
    labels: list[tuple[float, float, str]] = field(default_factory=list)  # line: x, y, month
    segments: list[str] = field(default_factory=list)  # line: polylines between months without data
    font: str = FONT

    @property
    def empty(self) -> bool:
        return not self.bars and not self.points


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.0f}%" if float(value).is_integer() else f"{value:.1f}%"
    return f"{value:g}"


def _scale_max(values: list[float | None], unit: str) -> float:
    if unit == "%":
        return 100.0
    top = max([v for v in values if v is not None] or [0])
    if top <= 4:
        return 4.0
    step = 5 if top <= 20 else 10 if top <= 50 else 50
    return float(((int(top) + step - 1) // step) * step)


def _tick_values(top: float, unit: str) -> list[float]:
    if unit == "%":
        return [0, 25, 50, 75, 100]
    return [top * i / 4 for i in range(5)]


def hbar(id: str, title: str, desc: str, rows: list[tuple[str, float | None]], unit: str = "%",
         target: float | None = None, good_at: float | None = None, invert: bool = False) -> Chart:
    """Horizontal bars, one per row (department): ``rows`` = [(label, value)]. With ``good_at``
    bars reaching it are green and the others red (``invert``: reaching it is bad)."""
    label_w, value_w, width, row_h, bar_h, top, bottom = 130, 64, 640, 28, 16, 26, 10
    area = width - label_w - value_w
    height = top + row_h * max(len(rows), 1) + bottom
    chart = Chart(id, title, desc, width, height, "hbar")
    scale = _scale_max([v for _l, v in rows], unit)
    for value in _tick_values(scale, unit):
        x = label_w + area * value / scale
        chart.ticks.append(Tick(x, top - 4, x, height - bottom, _fmt(value, unit), x, top - 8))
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h + (row_h - bar_h) / 2
        w = area * (value or 0) / scale if value is not None else 0
        fill = NEUTRAL
        if good_at is not None and value is not None:
            ok = value >= good_at
            fill = (BAD if ok else GOOD) if invert else (GOOD if ok else BAD)
        if value is None:
            fill = MUTED
        chart.bars.append(Bar(label_w, y, max(w, 0), bar_h, fill, label, _fmt(value, unit),
                              label_w - 8, y + bar_h - 3, label_w + w + 6, y + bar_h - 3))
    if target is not None:
        x = label_w + area * target / scale
        chart.target = Tick(x, top - 4, x, height - bottom, _fmt(target, unit), x, height - 1)
    return chart


def vbar(id: str, title: str, desc: str, columns: list[tuple[str, float | None]], unit: str = "",
         fill: str = NEUTRAL) -> Chart:
    """Vertical bars, one per column (month): ``columns`` = [(label, value)]."""
    left, slot, top, bottom, plot_h = 44, 48, 18, 34, 150
    width = max(left + slot * len(columns) + 10, 320)
    height = top + plot_h + bottom
    chart = Chart(id, title, desc, width, height, "vbar")
    scale = _scale_max([v for _l, v in columns], unit)
    for value in _tick_values(scale, unit):
        y = top + plot_h - plot_h * value / scale
        chart.ticks.append(Tick(left, y, width - 10, y, _fmt(value, unit), left - 6, y + 4, "end"))
    for i, (label, value) in enumerate(columns):
        h = plot_h * (value or 0) / scale if value is not None else 0
        x = left + i * slot + slot * 0.2
        w = slot * 0.6
        y = top + plot_h - h
        chart.bars.append(Bar(x, y, w, h, fill if value is not None else MUTED, label, _fmt(value, unit),
                              x + w / 2, top + plot_h + 16, x + w / 2, y - 4, "middle"))
    return chart


def line(id: str, title: str, desc: str, columns: list[tuple[str, float | None]], unit: str = "%",
         target: float | None = None) -> Chart:
    """A line through the months' values (gaps where a month has none)."""
    left, slot, top, bottom, plot_h = 44, 48, 18, 34, 150
    width = max(left + slot * len(columns) + 10, 320)
    height = top + plot_h + bottom
    chart = Chart(id, title, desc, width, height, "line")
    scale = _scale_max([v for _l, v in columns], unit)
    for value in _tick_values(scale, unit):
        y = top + plot_h - plot_h * value / scale
        chart.ticks.append(Tick(left, y, width - 10, y, _fmt(value, unit), left - 6, y + 4, "end"))
    segment: list[str] = []
    for i, (label, value) in enumerate(columns):
        x = left + i * slot + slot / 2
        chart.labels.append((x, top + plot_h + 16, label))
        if value is None:
            if len(segment) > 1:
                chart.segments.append(" ".join(segment))
            segment = []
            continue
        y = top + plot_h - plot_h * value / scale
        chart.points.append((x, y, _fmt(value, unit)))
        segment.append(f"{x:.1f},{y:.1f}")
    if len(segment) > 1:
        chart.segments.append(" ".join(segment))
    if target is not None:
        y = top + plot_h - plot_h * target / scale
        chart.target = Tick(left, y, width - 10, y, _fmt(target, unit), width - 12, y - 4, "end")
    return chart
