"""Run one matrix cell through the run loop and reduce its report to the matrix's cell entry.

A cell is a whole `harness run` (same loop, same report files in ``cells/<cell-id>/``). A bug
cell also runs a :class:`~harness.soak.periodic.PeriodicChecker` on its catching invariants
beside the load, to measure the time to detection: the confirmed mid-run sighting when the
final check agrees, else the moment of the final check (load + settling).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.matrix.plan import Cell, MatrixPlan
from harness.report import write_report
from harness.report.model import Report
from harness.run import loop
from harness.run import scenario as scenarios
from harness.run.progress import Progress
from harness.soak.periodic import MIDRUN_ALWAYS, MIDRUN_BY_STRATEGY, PeriodicChecker
from harness.stack import Stack

#: A mid-run sighting of an invariant that only holds after settling must outlive this long
#: (the service's own recovery deadlines: saga staleness, 2PC recovery, sweeper period).
SETTLE_CONFIRM_S = 15.0
#: ... and of a mid-run-safe invariant (a transient read skew vanishes on the recheck).
SAFE_CONFIRM_S = 3.0


def cell_scenario(base: scenarios.Scenario, plan: MatrixPlan, cell: Cell) -> scenarios.Scenario:
    """The base scenario with the cell's strategy, schedule, bug, seed and the plan's load."""
    return scenarios.with_overrides(
        base, strategy=cell.strategy, faults=cell.schedule, bug=cell.bug or "none",
        seed=cell.seed, users=plan.users, duration_s=plan.duration_s)


def bug_checker(cell: Cell, plan: MatrixPlan, progress: Progress) -> PeriodicChecker:
    safe = set(MIDRUN_ALWAYS) | set(MIDRUN_BY_STRATEGY.get(cell.strategy, ()))
    return PeriodicChecker(
        {cell.strategy: cell.expect}, every_s=plan.check_every_s,
        confirm_s={n: SAFE_CONFIRM_S if n in safe else SETTLE_CONFIRM_S for n in cell.expect},
        log=lambda m: progress.phase(f"[{cell.id}] {m}"))


def _load(report: Report, strategy: str) -> dict[str, Any]:
    result = report.strategies.get(strategy)
    if result is None:
        return {"requests": 0, "rps": 0.0, "p99_ms": 0}
    load = result.load
    return {"requests": load.requests, "rps": round(load.rps, 2),
            "p99_ms": load.latency_ms.p99}


def _settle_seconds(cell_dir: Path, strategy: str) -> float:
    try:
        data = json.loads((cell_dir / "settle.json").read_text())
        return float(data[strategy]["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def cell_entry(cell: Cell, report: Report, cell_dir: Path, duration_s: float,
               checker: PeriodicChecker | None) -> dict[str, Any]:
    """The matrix's entry for one finished cell (pure given its inputs)."""
    result = report.strategies.get(cell.strategy)
    broken = [i.name for i in result.broken] if result is not None else []
    entry: dict[str, Any] = {
        "id": cell.id, "kind": cell.kind, "strategy": cell.strategy, "schedule": cell.schedule,
        "seed": cell.seed, "broken": broken, **_load(report, cell.strategy),
        "report": f"cells/{cell.id}/report.html",
    }
    if cell.bug is None:
        vacuous = result is not None and result.coverage is not None and result.coverage.vacuous
        # a failed threshold of the scenario fails the cell as it fails the run (exit 1)
        limits = [t.name for t in report.failed_thresholds]
        if limits:
            entry["failed_thresholds"] = limits
        entry["verdict"] = "fail" if broken or limits else "vacuous" if vacuous else "pass"
        return entry
    caught_by = [n for n in broken if n in cell.expect]
    entry.update(bug=cell.bug, expect=list(cell.expect), caught=bool(caught_by),
                 caught_by=caught_by, ttd_s=None, detected_by=None)
    if not caught_by:
        return entry
    midrun = [c for c in (checker.summary(cell.strategy)["confirmed"] if checker else [])
              if c["name"] in caught_by]
    if midrun:
        entry["ttd_s"] = min(c["confirmed_at_s"] for c in midrun)
        entry["detected_by"] = "periodic"
    else:
        entry["ttd_s"] = round(duration_s + _settle_seconds(cell_dir, cell.strategy), 3)
        entry["detected_by"] = "final"
    return entry


async def run_cell(cell: Cell, plan: MatrixPlan, base: scenarios.Scenario, matrix_dir: Path,
                   stack: Stack, progress: Progress) -> dict[str, Any]:
    """Run one cell (its full run report in ``cells/<id>/``); its matrix entry."""
    scenario = cell_scenario(base, plan, cell)
    cell_dir = matrix_dir / "cells" / cell.id
    cell_dir.mkdir(parents=True, exist_ok=True)
    checker = bug_checker(cell, plan, progress) if cell.bug is not None else None
    report = await loop.run(scenario, cell.id, cell_dir, stack, progress, checker)
    write_report(cell_dir, report)
    entry = cell_entry(cell, report, cell_dir, scenario.duration_s, checker)
    if checker is not None:
        entry["periodic"] = {k: v for k, v in checker.summary(cell.strategy).items()
                             if k != "observations"}
    return entry


def error_entry(cell: Cell, exc: BaseException) -> dict[str, Any]:
    """The entry of a cell that could not run (counts as a failure / a miss)."""
    entry: dict[str, Any] = {
        "id": cell.id, "kind": cell.kind, "strategy": cell.strategy, "schedule": cell.schedule,
        "seed": cell.seed, "broken": [], "requests": 0, "rps": 0.0, "p99_ms": 0,
        "report": f"cells/{cell.id}/report.html", "error": f"{type(exc).__name__}: {exc}",
    }
    if cell.bug is None:
        entry["verdict"] = "error"
    else:
        entry.update(bug=cell.bug, expect=list(cell.expect), caught=False, caught_by=[],
                     ttd_s=None, detected_by=None)
    return entry
