"""Inline SVG line charts with the fault windows shaded: no script, no external resource.

Each chart is a string of SVG markup; fault windows are ``<rect class="fault">`` bands with a
``<title>`` (hover text) and their label, drawn under the lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 600, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 30


@dataclass(frozen=True, slots=True)
class Series:
    """One line: its name, colour and (x, y) points (y None: no value at that x)."""

    name: str
    colour: str
    points: Sequence[tuple[float, float | None]]


@dataclass(frozen=True, slots=True)
class Window:
    """A shaded band: a fault from ``start`` to ``end`` seconds (None: to the chart's end)."""

    label: str
    start: float
    end: float | None


def nice_step(span: float, ticks: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value) < 10_000 else f"{value / 1000:g}k"


def line_chart(title: str, unit: str, series: Sequence[Series], windows: Sequence[Window],
               x_max: float | None = None) -> str:
    """An SVG chart of ``series`` over seconds, ``windows`` shaded."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points if y is not None]
    ends = [w.end for w in windows if w.end is not None] + [w.start for w in windows]
    x_hi = max([x_max or 0.0, *xs, *ends, 1.0])
    y_hi = max([*ys, 0.0])
    y_step = nice_step(y_hi or 1.0)
    y_hi = y_step * max(1, math.ceil(y_hi / y_step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * min(max(x, 0.0), x_hi) / x_hi

    def py(y: float) -> float:
        return TOP + plot_h * (1 - y / y_hi)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{escape(title)}">',
        f'<text class="title" x="{LEFT}" y="16">{escape(title)}</text>',
    ]
    for w in windows:
        x0, x1 = px(w.start), px(w.end if w.end is not None else x_hi)
        out.append(
            f'<g class="fault-window"><rect class="fault" data-fault="{escape(w.label)}"'
            f' x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1.0):.1f}" height="{plot_h}">'
            f"<title>{escape(w.label)}: {w.start:g}s to "
            f"{'end' if w.end is None else f'{w.end:g}s'}</title></rect>"
            f'<text class="fault-label" x="{x0 + 3:.1f}" y="{TOP + 11}">{escape(w.label)}</text>'
            "</g>"
        )
    y = 0.0
    while y <= y_hi + 1e-9:
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(y):.1f}"'
                   f' y2="{py(y):.1f}"/><text class="tick" x="{LEFT - 4}" y="{py(y) + 4:.1f}"'
                   f' text-anchor="end">{_fmt(y)}</text>')
        y += y_step
    x_step = nice_step(x_hi, 6)
    x = 0.0
    while x <= x_hi + 1e-9:
        out.append(f'<text class="tick" x="{px(x):.1f}" y="{HEIGHT - BOTTOM + 14}"'
                   f' text-anchor="middle">{_fmt(x)}s</text>')
        x += x_step
    out.append(f'<text class="tick" x="{LEFT - 4}" y="{TOP - 6}" text-anchor="end">'
               f"{escape(unit)}</text>")
    for s in series:
        out.extend(_polylines(s, px, py))
    legend_x = WIDTH - RIGHT
    for s in reversed(series):
        legend_x -= 8 + 7 * len(s.name)
        out.append(f'<text class="legend" x="{legend_x}" y="16" fill="{s.colour}">'
                   f"{escape(s.name)}</text>")
    if not xs:
        out.append(f'<text class="empty" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}"'
                   ' text-anchor="middle">no load statistics</text>')
    out.append("</svg>")
    return "".join(out)


def _polylines(s: Series, px: Callable[[float], float], py: Callable[[float], float]
               ) -> list[str]:
    """One polyline per run of defined points (gaps stay gaps)."""
    runs: list[list[str]] = [[]]
    for x, y in s.points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append(f"{px(x):.1f},{py(y):.1f}")
    return [
        f'<polyline class="line" fill="none" stroke="{s.colour}" points="{" ".join(r)}">'
        f"<title>{escape(s.name)}</title></polyline>"
        for r in runs if r
    ]
