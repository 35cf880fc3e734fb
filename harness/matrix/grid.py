"""``matrix.json``: the cell entries reduced to the grids, rates and the verdict (pure).

* ``grid``: per strategy x schedule, the runs, how many passed, the broken invariants (union
  over seeds), mean requests/s and worst p99; ``pass_rate`` over every grid cell.
* ``bugs``: per bug, caught / runs, how many within ``ttd_goal_s`` of load, median and worst
  time to detection; ``catch_rate`` over every bug cell.

The verdict is ``fail`` when any grid cell did not pass or any bug cell missed its bug.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from harness.matrix.plan import MatrixPlan

#: The issue's goal: each bug caught within this much load.
TTD_GOAL_S = 30.0


def _rate(hits: int, runs: int) -> float:
    return round(hits / runs, 4) if runs else 0.0


def grid_summary(cells: Sequence[dict[str, Any]], plan: MatrixPlan) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {}
    for strategy in plan.strategies:
        row: dict[str, Any] = {}
        for schedule in plan.schedules:
            mine = [c for c in cells if c["kind"] == "grid" and c["strategy"] == strategy
                    and c["schedule"] == schedule]
            if not mine:
                continue
            broken = sorted({n for c in mine for n in c["broken"]})
            row[schedule] = {
                "runs": len(mine), "passed": sum(1 for c in mine if c["verdict"] == "pass"),
                "vacuous": sum(1 for c in mine if c["verdict"] == "vacuous"),
                "broken": broken, "errors": [c["error"] for c in mine if "error" in c],
                "rps": round(statistics.fmean(c["rps"] for c in mine), 2),
                "p99_ms": max(c["p99_ms"] for c in mine),
                "cells": [c["id"] for c in mine],
            }
        table[strategy] = row
    runs = sum(1 for c in cells if c["kind"] == "grid")
    passed = sum(1 for c in cells if c["kind"] == "grid" and c["verdict"] == "pass")
    vacuous = sum(1 for c in cells if c["kind"] == "grid" and c["verdict"] == "vacuous")
    return {"table": table, "runs": runs, "passed": passed, "vacuous": vacuous,
            "pass_rate": _rate(passed, runs)}


def bug_summary(cells: Sequence[dict[str, Any]], plan: MatrixPlan,
                ttd_goal_s: float = TTD_GOAL_S) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for bug in plan.bugs:
        mine = [c for c in cells if c["kind"] == "bug" and c["bug"] == bug]
        if not mine:
            continue
        ttds = [float(c["ttd_s"]) for c in mine if c["caught"] and c["ttd_s"] is not None]
        caught = sum(1 for c in mine if c["caught"])
        table[bug] = {
            "strategy": mine[0]["strategy"], "schedule": mine[0]["schedule"],
            "expect": mine[0]["expect"], "runs": len(mine), "caught": caught,
            "catch_rate": _rate(caught, len(mine)),
            "within_goal": sum(1 for t in ttds if t <= ttd_goal_s),
            "ttd_median_s": round(statistics.median(ttds), 3) if ttds else None,
            "ttd_max_s": max(ttds) if ttds else None,
            "rps": round(statistics.fmean(c["rps"] for c in mine), 2),
            "p99_ms": max(c["p99_ms"] for c in mine),
            "seeds": {str(c["seed"]): c["id"] for c in mine},
        }
    runs = sum(1 for c in cells if c["kind"] == "bug")
    caught = sum(1 for c in cells if c["kind"] == "bug" and c["caught"])
    return {"table": table, "runs": runs, "caught": caught, "catch_rate": _rate(caught, runs),
            "ttd_goal_s": ttd_goal_s}


def matrix_document(matrix_id: str, plan: MatrixPlan, cells: Sequence[dict[str, Any]], *,
                    started_at: str, finished_at: str, complete: bool) -> dict[str, Any]:
    """The whole ``matrix.json`` (``complete`` False: interrupted, some cells did not run)."""
    grid = grid_summary(cells, plan)
    bugs = bug_summary(cells, plan)
    # a vacuous cell (passed without reaching danger) is no pass, and no failure either
    failed = (grid["passed"] + grid["vacuous"] < grid["runs"] or bugs["caught"] < bugs["runs"]
              or not complete)
    return {
        "schema": 1, "matrix_id": matrix_id, "started_at": started_at,
        "finished_at": finished_at, "complete": complete,
        "verdict": "fail" if failed else "pass",
        "settings": plan.settings(),
        "grid": grid, "bugs": bugs, "cells": list(cells),
    }
