"""``report.html``: one self-contained page (inline CSS and SVG, no script, no external URL).

Order of the page: the verdict; the strategies side by side (load, latency, outcomes, faults,
invariants); the invariant matrix; throughput and latency over time per strategy with the fault
windows shaded; extra sections the run wrote into ``sections/`` (e.g. the soak's resource
trends); then every violation with its examples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from harness.report.charts import Series, Window, line_chart
from harness.report.timeseries import Point, read_points
from invariants import CHECKERS

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)


def _windows(faults: list[dict[str, Any]]) -> list[Window]:
    out = []
    for f in faults:
        start = f.get("start_s")
        if isinstance(start, int | float):
            end = f.get("end_s")
            label = f"{f.get('name', 'fault')} ({f.get('target', '?')})"
            out.append(Window(label, float(start),
                              float(end) if isinstance(end, int | float) else None))
    return out


def _charts(points: list[Point], windows: list[Window], duration: float) -> dict[str, str]:
    throughput = line_chart("Throughput", "req/s", [
        Series("requests/s", "#2563eb", [(p.t, p.rps) for p in points]),
        Series("failures/s", "#dc2626", [(p.t, p.failures_per_s) for p in points]),
    ], windows, duration)
    latency = line_chart("Latency", "ms", [
        Series("p50", "#16a34a", [(p.t, p.p50) for p in points]),
        Series("p95", "#d97706", [(p.t, p.p95) for p in points]),
        Series("p99", "#9333ea", [(p.t, p.p99) for p in points]),
    ], windows, duration)
    return {"throughput": throughput, "latency": latency}


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


def _example_table(examples: list[dict[str, Any]]) -> dict[str, Any]:
    columns: list[str] = []
    for ex in examples:
        columns.extend(k for k in ex if k not in columns)
    if "kind" in columns:
        columns.remove("kind")
        columns.insert(0, "kind")
    return {"columns": columns,
            "rows": [[_cell(ex.get(c)) for c in columns] for ex in examples]}


def view(report: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Everything the template shows, computed from a normalised report and the run's files."""
    strategies = []
    violations = []
    for name, entry in report["strategies"].items():
        windows = _windows(entry["faults"])
        points = read_points(run_dir, name)
        invs = entry["invariants"]
        strategies.append({
            "name": name, "load": entry["load"], "faults": entry["faults"],
            "held": sum(1 for i in invs if i["ok"]), "total": len(invs),
            "charts": _charts(points, windows, float(report.get("duration_s") or 0.0)),
            "has_points": bool(points),
            "coverage": entry.get("coverage"),
        })
        for inv in invs:
            if not inv["ok"]:
                violations.append({
                    "strategy": name, "name": inv["name"], "violations": inv["violations"],
                    "error": inv.get("error"), "doc": _doc(inv["name"]),
                    "table": _example_table(inv["examples"]),
                })
    names = [i["name"] for i in next(iter(report["strategies"].values()))["invariants"]] if (
        report["strategies"]) else list(CHECKERS)
    matrix = [
        {"name": n, "doc": _doc(n), "cells": [
            next(i for i in entry["invariants"] if i["name"] == n)
            for entry in report["strategies"].values()]}
        for n in names
    ]
    return {"report": report, "strategies": strategies, "matrix": matrix,
            "violations": violations, "sections": extra_sections(run_dir)}


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


def render(report: dict[str, Any], run_dir: Path) -> str:
    """The HTML page of a normalised report whose files are in ``run_dir``."""
    return _ENV.get_template("report.html").render(**view(report, run_dir))
