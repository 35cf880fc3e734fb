"""Inline SVG charts with the fault windows shaded: no script, no external resource.

Each chart is a string of SVG markup; fault windows are ``<rect class="fault">`` bands with a
``<title>`` (hover text) and their label, drawn under the lines. Labels of nearby windows are
stacked in lanes (:func:`label_lanes`) so they never print over each other. Violations whose
time is known are marked on the time axis (``class="violation-mark"``, linked to their order).
:func:`story_timeline` draws one order's operations as bars over time (Jepsen's timeline).
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


@dataclass(frozen=True, slots=True)
class Mark:
    """A violation seen at ``t`` seconds: a tick on the time axis, linking to ``href``."""

    t: float
    label: str
    href: str | None = None


#: Width of one character of a fault label (10 px sans-serif), with margin, in px.
LABEL_CHAR_PX = 6.0
#: Height of one lane of fault labels, in px.
LANE_PX = 11


def label_width(label: str) -> float:
    return LABEL_CHAR_PX * len(label) + 4


def label_lanes(spans: Sequence[tuple[float, float]], gap: float = 4.0) -> list[int]:
    """The lane (0, 1, ...) of each label spanning ``(x0, x1)`` px: the lowest lane whose
    labels all end ``gap`` px before this one starts, labels placed left to right; so no two
    labels of one lane overlap."""
    lanes: list[float] = []  # right end of the last label of each lane
    out = [0] * len(spans)
    for index in sorted(range(len(spans)), key=lambda i: (spans[i][0], i)):
        x0, x1 = spans[index]
        lane = next((n for n, end in enumerate(lanes) if end + gap <= x0), len(lanes))
        if lane == len(lanes):
            lanes.append(x1)
        else:
            lanes[lane] = x1
        out[index] = lane
    return out


def _fault_bands(windows: Sequence[Window], px: Callable[[float], float], x_hi: float,
                 top: float, height: float, right: float) -> list[str]:
    """The shaded bands and their labels, stacked in lanes."""
    placed = []
    for w in windows:
        x0, x1 = px(w.start), px(w.end if w.end is not None else x_hi)
        width = label_width(w.label)
        lx = max(min(x0 + 3, right - width), 0.0)
        placed.append((x0, x1, lx, lx + width))
    lanes = label_lanes([(p[2], p[3]) for p in placed])
    out = []
    for w, (x0, x1, lx, _), lane in zip(windows, placed, lanes, strict=True):
        out.append(
            f'<g class="fault-window"><rect class="fault" data-fault="{escape(w.label)}"'
            f' x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1.0):.1f}" height="{height}">'
            f"<title>{escape(w.label)}: {w.start:g}s to "
            f"{'end' if w.end is None else f'{w.end:g}s'}</title></rect>"
            f'<text class="fault-label" x="{lx:.1f}" y="{top + 11 + lane * LANE_PX}"'
            f' data-lane="{lane}">{escape(w.label)}</text></g>'
        )
    return out


def _marks(marks: Sequence[Mark], px: Callable[[float], float], top: float, bottom: float
           ) -> list[str]:
    """A dashed line through the plot and a triangle on the time axis per violation."""
    out = []
    for m in marks:
        x = px(m.t)
        body = (f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>'
                f'<path d="M{x - 4:.1f},{bottom:.1f} l8,0 l-4,-8 z"/>'
                f"<title>{escape(m.label)} at {m.t:g}s</title>")
        if m.href:
            body = f'<a href="{escape(m.href)}">{body}</a>'
        out.append(f'<g class="violation-mark" data-t="{m.t:g}">{body}</g>')
    return out


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
               x_max: float | None = None, marks: Sequence[Mark] = ()) -> str:
    """An SVG chart of ``series`` over seconds, ``windows`` shaded, ``marks`` on the axis."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points if y is not None]
    ends = [w.end for w in windows if w.end is not None] + [w.start for w in windows]
    x_hi = max([x_max or 0.0, *xs, *ends, *(m.t for m in marks), 1.0])
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
    out.extend(_fault_bands(windows, px, x_hi, TOP, plot_h, WIDTH - RIGHT))
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
    out.extend(_marks(marks, px, TOP, TOP + plot_h))
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


# --- one order's story as a timeline -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bar:
    """One operation of an order: from its invoke to its completion (None: never completed)."""

    label: str
    start: float
    end: float | None
    outcome: str  # ok | fail | info | open
    detail: str  # hover text
    note: str = ""  # printed after the bar (e.g. "ok 201")


#: Fill colour of an operation bar by its outcome (Jepsen's colours: ok, fail, info).
OUTCOME_COLOURS = {"ok": "#16a34a", "fail": "#dc2626", "info": "#d97706", "open": "#9ca3af"}
TIMELINE_W, BAR_H, BAR_GAP, TL_LEFT, TL_RIGHT = 1000, 16, 6, 150, 16


def story_timeline(bars: Sequence[Bar], windows: Sequence[Window]) -> str:
    """An SVG timeline: one row per operation (bar coloured by its outcome), the fault windows
    it met shaded behind, time in seconds since the strategy's load began."""
    times = [b.start for b in bars] + [b.end for b in bars if b.end is not None]
    times += [w.start for w in windows] + [w.end for w in windows if w.end is not None]
    lo, hi = (min(times), max(times)) if times else (0.0, 1.0)
    pad = max((hi - lo) * 0.05, 0.05)
    lo, hi = max(lo - pad, 0.0), hi + pad
    spans = [label_width(w.label) for w in windows]
    plot_l, plot_r = TL_LEFT, TIMELINE_W - TL_RIGHT

    def px(t: float) -> float:
        return plot_l + (plot_r - plot_l) * (min(max(t, lo), hi) - lo) / (hi - lo)

    label_xs = [max(min(px(w.start) + 3, plot_r - width), 0.0)
                for w, width in zip(windows, spans, strict=True)]
    lanes = label_lanes([(x, x + w) for x, w in zip(label_xs, spans, strict=True)])
    top = 8 + LANE_PX * (max(lanes) + 1 if lanes else 0)
    rows_h = len(bars) * (BAR_H + BAR_GAP)
    height = top + rows_h + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{TIMELINE_W}"'
           f' viewBox="0 0 {TIMELINE_W} {height}" role="img" aria-label="timeline">']
    for w, lx, lane in zip(windows, label_xs, lanes, strict=True):
        x0, x1 = px(w.start), px(w.end if w.end is not None else hi)
        out.append(f'<g class="fault-window"><rect class="fault" x="{x0:.1f}" y="{top - 2}"'
                   f' width="{max(x1 - x0, 1.0):.1f}" height="{rows_h + 4}">'
                   f"<title>{escape(w.label)}: {w.start:g}s to "
                   f"{'end' if w.end is None else f'{w.end:g}s'}</title></rect>"
                   f'<text class="fault-label" x="{lx:.1f}" y="{8 + lane * LANE_PX + 2}"'
                   f' data-lane="{lane}">{escape(w.label)}</text></g>')
    for row, bar in enumerate(bars):
        y = top + row * (BAR_H + BAR_GAP)
        x0 = px(bar.start)
        x1 = px(bar.end if bar.end is not None else hi)
        colour = OUTCOME_COLOURS.get(bar.outcome, OUTCOME_COLOURS["open"])
        out.append(
            f'<g class="op op-{escape(bar.outcome)}">'
            f'<text class="op-label" x="{plot_l - 6}" y="{y + BAR_H - 4}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
            f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 3.0):.1f}" height="{BAR_H}"'
            f' rx="3" fill="{colour}"><title>{escape(bar.detail)}</title></rect>'
            f'<text class="op-detail" x="{x0 + max(x1 - x0, 3.0) + 4:.1f}" y="{y + BAR_H - 4}"'
            f">{escape(bar.note or bar.outcome)}</text></g>")
    axis_y = top + rows_h + 4
    out.append(f'<line class="axis" x1="{plot_l}" x2="{plot_r}" y1="{axis_y}" y2="{axis_y}"/>')
    step = nice_step(hi - lo, 8)
    t = math.ceil(lo / step) * step
    while t <= hi + 1e-9:
        out.append(f'<text class="tick" x="{px(t):.1f}" y="{axis_y + 14}"'
                   f' text-anchor="middle">{t:g}s</text>')
        t += step
    out.append("</svg>")
    return "".join(out)
