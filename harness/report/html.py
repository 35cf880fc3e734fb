"""``report.html`` and ``violations.html``: self-contained pages (inline CSS and SVG, no script).

``report.html``, in order: the verdict; the thresholds; the strategies side by side (load,
latency, outcomes, faults, coverage, invariants); the invariant matrix; throughput and latency
over time per strategy with the fault windows shaded and the violations marked; extra sections
the run wrote into ``sections/`` (e.g. the soak's resource trends); every violated invariant
with its first examples ("5 of 56", rows of one order collapsed into one); and the story of each
order those examples name (a timeline of its operations with the faults it met, its rows).

``violations.html`` lists every example of every violated invariant and every order's story;
``report.html`` links to it for the rest. An order id in an example links to its story.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from harness.report.charts import Bar, Mark, Series, Window, line_chart, story_timeline
from harness.report.model import FaultWindow, InvariantOutcome, OrderStory, Report, StoryEvent
from harness.report.timeseries import Point, read_points
from invariants import CHECKERS
from invariants.order_rows import orders_named

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)

#: How many example groups (one per order) report.html shows per violated invariant.
PREVIEW = 5
#: A story's table with more columns and at most this many rows is shown transposed.
TRANSPOSE_COLUMNS, TRANSPOSE_ROWS = 8, 6
#: The second page, with every example and every order's story.
VIOLATIONS_PAGE = "violations.html"


def windows_of(faults: Iterable[FaultWindow]) -> list[Window]:
    return [Window(f"{f.name} ({f.target})", f.start_s, f.end_s) for f in faults]


def _charts(points: list[Point], windows: list[Window], duration: float,
            marks: list[Mark]) -> dict[str, str]:
    throughput = line_chart("Throughput", "req/s", [
        Series("requests/s", "#2563eb", [(p.t, p.rps) for p in points]),
        Series("failures/s", "#dc2626", [(p.t, p.failures_per_s) for p in points]),
    ], windows, duration, marks)
    latency = line_chart("Latency", "ms", [
        Series("p50", "#16a34a", [(p.t, p.p50) for p in points]),
        Series("p95", "#d97706", [(p.t, p.p95) for p in points]),
        Series("p99", "#9333ea", [(p.t, p.p99) for p in points]),
    ], windows, duration, marks)
    return {"throughput": throughput, "latency": latency}


# --- cells: text with order ids linked to their stories ------------------------------------
@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a table cell: text, linked (an order's story) or with a hover ``title``."""

    text: str
    href: str | None = None
    title: str | None = None


Cell = list[Segment]


@dataclass(frozen=True, slots=True)
class Links:
    """Where an order's story is: on this page, on the violations page, or nowhere."""

    here: frozenset[str]
    known: frozenset[str]

    def href(self, order_id: str) -> str | None:
        if order_id in self.here:
            return f"#order-{order_id}"
        if order_id in self.known:
            return f"{VIOLATIONS_PAGE}#order-{order_id}"
        return None


#: An ISO 8601 timestamp as the databases return them; shown as its time of day.
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d(?:\.\d{1,3})?)\d*([+-]\d\d:\d\d|Z)?")


def _cell(value: Any, links: Links) -> Cell:
    if isinstance(value, list):
        out: Cell = []
        for n, item in enumerate(value):
            if n:
                out.append(Segment(", "))
            out.extend(_cell(item, links))
        return out
    if isinstance(value, dict):
        return [Segment(json.dumps(value, sort_keys=True))]
    if value is None:
        return [Segment("")]
    text = str(value)
    if isinstance(value, str) and (stamp := _STAMP.fullmatch(text)):
        return [Segment(stamp.group(1), title=text)]
    return [Segment(text, links.href(text) if isinstance(value, str) else None)]


def _columns(rows: Iterable[Mapping[str, Any]], first: str = "kind") -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    if first in columns:
        columns.remove(first)
        columns.insert(0, first)
    return columns


def _groups(examples: Iterable[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Examples grouped by the orders they name (first appearance first; no order: alone)."""
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for n, ex in enumerate(examples):
        key = tuple(orders_named(ex)) or ("#", n)
        groups.setdefault(key, []).append(ex)
    return list(groups.values())


def violation_view(strategy: str, inv: InvariantOutcome, links: Links, *, full: bool
                   ) -> dict[str, Any]:
    """One violated invariant: its count, its examples' table (a preview or every row)."""
    groups = _groups(inv.examples)
    columns = _columns(inv.examples)
    shown = groups if full else groups[:PREVIEW]
    rows = []
    for group in shown:
        for n, ex in enumerate(group if full else group[:1]):
            rows.append({"cells": [_cell(ex.get(c), links) for c in columns],
                         "more": 0 if full or n else len(group) - 1})
    return {
        "strategy": strategy, "name": inv.name, "violations": inv.violations,
        "error": inv.error, "doc": _doc(inv.name), "columns": columns, "rows": rows,
        "examples": len(inv.examples), "groups": len(groups),
        "shown_examples": sum(len(g) for g in shown),
    }


# --- the order's story -----------------------------------------------------------------------
def _bars(history: Iterable[StoryEvent]) -> tuple[list[Bar], list[dict[str, Any]]]:
    """One bar per operation (invoke -> completion) and one table row per event."""
    ops: dict[str, list[StoryEvent]] = {}
    for event in history:
        ops.setdefault(event.op_id, []).append(event)
    bars = []
    for events in ops.values():
        invoke = next((e for e in events if e.type == "invoke"), events[0])
        done = next((e for e in events if e.type != "invoke"), None)
        status = f" {done.status}" if done and done.status is not None else ""
        code = f" {done.code}" if done and done.code else ""
        retries = f" x{done.attempts}" if done and done.attempts > 1 else ""
        detail = (f"{invoke.op}: {done.type if done else 'no completion'}{status}{code}"
                  f"{f', {done.latency_ms:g} ms' if done and done.latency_ms is not None else ''}"
                  f"{f', {done.attempts} attempts' if done and done.attempts > 1 else ''}"
                  f", key {invoke.key}")
        outcome = done.type if done else "open"
        bars.append(Bar(f"{invoke.op}{retries}", invoke.t_s, done.t_s if done else None,
                        outcome, detail + (f", {done.error}" if done and done.error else ""),
                        note=f"{outcome}{status}{code}"))
    rows = [{"t_s": e.t_s, "type": e.type, "op": e.op,
             "status": "" if e.status is None else e.status, "code": e.code or "",
             "latency_ms": "" if e.latency_ms is None else f"{e.latency_ms:g}",
             "attempts": e.attempts or "", "key": e.key, "error": e.error or ""}
            for e in history]
    return bars, rows


def story_view(order_id: str, story: OrderStory, broke: list[tuple[str, str]], links: Links
               ) -> dict[str, Any]:
    bars, events = _bars(story.history)
    tables = []
    for table, found in story.rows.items():
        columns = _columns(found, first="order_id")
        cells = [[_cell(r.get(c), links) for c in columns] for r in found]
        if len(columns) > TRANSPOSE_COLUMNS and len(found) <= TRANSPOSE_ROWS:
            # a wide table of few rows reads better (and fits the page) as one column per row
            tables.append({"name": table, "count": len(found), "transposed": True,
                           "columns": ["column", *(f"row {n}" for n in range(1, len(found) + 1))],
                           "rows": [[[Segment(c)], *(row[i] for row in cells)]
                                    for i, c in enumerate(columns)]})
        else:
            tables.append({"name": table, "count": len(found), "transposed": False,
                           "columns": columns, "rows": cells})
    return {
        "id": order_id, "strategy": story.strategy or "?", "broke": broke,
        "timeline": story_timeline(bars, windows_of(story.faults)) if bars else "",
        "events": events, "faults": story.faults, "tables": tables,
        "last_t_s": story.last_t_s,
    }


def broken_by(report: Report) -> dict[str, list[tuple[str, str]]]:
    """order id -> every (strategy, invariant) whose examples name it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for strategy, result in report.strategies.items():
        for inv in result.broken:
            for ex in inv.examples:
                for order_id in orders_named(ex):
                    pairs = out.setdefault(order_id, [])
                    if (strategy, inv.name) not in pairs:
                        pairs.append((strategy, inv.name))
    return out


def settle_seconds(run_dir: Path) -> dict[str, float]:
    """strategy -> how long settling took after its load (``settle.json``; empty if absent)."""
    try:
        data = json.loads((run_dir / "settle.json").read_text(encoding="utf-8"))
        return {str(k): float(v["seconds"]) for k, v in data.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def marks_for(report: Report, strategy: str, broke: Mapping[str, list[tuple[str, str]]],
              links: Links, check_s: float | None) -> list[Mark]:
    """A mark per (violated invariant, order) of ``strategy`` at the order's last event; an
    invariant none of whose orders has a known time is marked when it was checked
    (``check_s``: load plus settling), when that is known."""
    marks = []
    timed: set[str] = set()
    for order_id, story in report.orders.items():
        t = story.last_t_s
        if t is None:
            continue
        for s, name in broke.get(order_id, []):
            if s == strategy:
                marks.append(Mark(t, f"{name}: order {order_id}", links.href(order_id)))
                timed.add(name)
    if check_s is not None:
        marks.extend(Mark(check_s, f"{inv.name}: found by the check after settling",
                          f"#v-{strategy}-{inv.name}")
                     for inv in report.strategies[strategy].broken
                     if inv.violations and inv.name not in timed)
    return marks


def view(report: Report, run_dir: Path, *, full: bool = False) -> dict[str, Any]:
    """Everything a page shows (``full``: the violations page, every example and story)."""
    broke = broken_by(report)
    known = frozenset(report.orders)
    if full:
        links = Links(here=known, known=known)
    else:
        previewed = {o for r in report.strategies.values() for inv in r.broken
                     for group in _groups(inv.examples)[:PREVIEW] for o in orders_named(group[0])}
        links = Links(here=frozenset(previewed & known), known=known)
    strategies: list[dict[str, Any]] = []
    violations: list[dict[str, Any]] = []
    settled = settle_seconds(run_dir)
    for name, result in report.strategies.items():
        points = read_points(run_dir, name)
        check_s = report.duration_s + settled[name] if name in settled else None
        strategies.append({
            "name": name, "result": result, "load": result.load, "faults": result.faults,
            "held": result.held, "total": len(result.invariants), "coverage": result.coverage,
            "charts": _charts(points, windows_of(result.faults), report.duration_s,
                              marks_for(report, name, broke, links, check_s)),
            "has_points": bool(points),
        })
        violations.extend(violation_view(name, inv, links, full=full) for inv in result.broken)
    matrix = [
        {"name": n, "doc": _doc(n),
         "cells": [r.invariant(n) for r in report.strategies.values()]}
        for n in CHECKERS
    ]
    orders = [story_view(o, story, broke.get(o, []), links)
              for o, story in report.orders.items() if o in links.here]
    return {"report": report, "verdict": report.verdict, "strategies": strategies,
            "matrix": matrix, "violations": violations, "orders": orders,
            "all_orders": len(report.orders), "thresholds": report.thresholds,
            "sections": [] if full else extra_sections(run_dir), "full": full,
            "violations_page": VIOLATIONS_PAGE}


#: Folder of a run with extra HTML sections (e.g. the soak's resource trends), each a fragment
#: written by the harness itself (``<order>-<slug>.html``, first line ``<!-- title: ... -->``).
SECTIONS_DIR = "sections"


def extra_sections(run_dir: Path) -> list[dict[str, Any]]:
    """The run's extra sections, in file-name order (trusted markup written by the harness)."""
    out = []
    for path in sorted((run_dir / SECTIONS_DIR).glob("*.html")):
        html = path.read_text(encoding="utf-8")
        first = html.split("\n", 1)[0]
        title = first.removeprefix("<!-- title:").removesuffix("-->").strip() if (
            first.startswith("<!-- title:")) else path.stem
        out.append({"id": path.stem, "title": title, "html": html})
    return out


def _doc(name: str) -> str:
    inv = CHECKERS.get(name)
    return inv.doc if inv else ""


def render(report: Report, run_dir: Path) -> str:
    """``report.html`` of ``report`` whose files are in ``run_dir``."""
    return _ENV.get_template("report.html").render(**view(report, run_dir))


def render_violations(report: Report, run_dir: Path) -> str:
    """``violations.html``: every example of every violated invariant, every order's story."""
    return _ENV.get_template("violations.html").render(**view(report, run_dir, full=True))
