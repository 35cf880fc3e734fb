"""The run loop's seams to the fault layer, the checkers and the report renderer.

Each is imported lazily, when the run needs it. While a part does not exist yet in this build
(its module is missing, not broken), the run falls back: fault schedule ``none``, healing through
:meth:`Stack.heal`, every invariant reported as not checked (``ok: false`` with an ``error``, so
a run never passes by accident), and ``report.json`` written here in the CONTRACT section 7 form.
A part that exists but fails to import raises: a broken build is never silently skipped.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.history import HistoryEvent
from harness.stack import Stack, StackState

#: CONTRACT.md section 4, in contract order (used only while ``invariants`` is missing).
INVARIANT_NAMES = (
    "no_double_sold_seats", "no_orphaned_authorizations", "no_capture_without_ticket",
    "no_ticket_without_capture", "idempotent_effects", "seat_conservation",
    "no_in_doubt_transactions", "acknowledged_writes_durable",
)


def optional(name: str) -> ModuleType | None:
    """Module ``name``, or None when it (or its package) does not exist in this build."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if name == missing or name.startswith(missing + "."):
            return None
        raise


# --- faults --------------------------------------------------------------------------------
def build_schedule(
    name: str, inline: Sequence[Any] | None, *, seed: int, duration_s: float,
    strategy: str, lock_lease_s: float | None, target_processes: int,
    service_env: Mapping[str, str] | None = None,
) -> list[Any]:
    """The fault schedule of one strategy's load (validated; bad input is exit 2)."""
    if inline is not None:
        return sorted(inline, key=lambda e: e.start_s)  # validated when the scenario loaded
    schedules = optional("chaos.schedules")
    if schedules is None:
        return []
    built: list[Any] = schedules.build(
        name, seed=seed, duration_s=duration_s, strategy=strategy,
        lock_lease_s=lock_lease_s, target_processes=target_processes, service_env=service_env)
    return built


def fault_layer_ready() -> bool:
    """True when the fault schedule can run (``chaos.runner`` exists)."""
    return optional("chaos.runner") is not None and optional("chaos.schedules") is not None


async def run_faults(schedule: list[Any], state: StackState, *, faults_log: Path, t0: float,
                     stop: asyncio.Event, seed: int, strategy: str) -> list[dict[str, Any]]:
    """Run ``schedule`` beside the load until ``stop``; the report's fault windows."""
    runner = optional("chaos.runner")
    if runner is None or not schedule:
        await stop.wait()
        return []
    context = importlib.import_module("chaos.context")
    async with context.ChaosContext(state, seed=seed) as ctx:
        windows = await runner.run_schedule(schedule, ctx, faults_log=faults_log, t0=t0,
                                            stop=stop, log_extra={"strategy": strategy})
    return [w.to_json() for w in windows]


async def heal(state: StackState) -> None:
    """Every fault healed (``chaos.heal.heal_all``, or the stack's own heal until it exists)."""
    healer = optional("chaos.heal")
    if healer is not None:
        await healer.heal_all(state)
    else:
        await Stack(state.state_dir).heal(state)


# --- checkers ------------------------------------------------------------------------------
async def check(state: StackState, history: Sequence[HistoryEvent],
                strategy: str | None) -> list[dict[str, Any]]:
    """Every invariant for ``strategy``, in the report's form (never raises for a checker)."""
    invariants = optional("invariants")
    if invariants is None or not hasattr(invariants, "check_all"):
        return [{"name": name, "ok": False, "violations": 0, "examples": [],
                 "error": "the invariant checkers are not available in this build"}
                for name in INVARIANT_NAMES]
    ctx = invariants.CheckContext(state.dsn("seats"), state.dsn("payments"),
                                  history=list(history), strategy=strategy)
    results = await invariants.check_all(ctx)
    return [r.to_json() for r in results]


# --- report --------------------------------------------------------------------------------
def write_report(run_dir: Path, report: dict[str, Any]) -> list[str]:
    """Write the run's report; the names of the files written."""
    renderer = optional("harness.report")
    if renderer is not None and hasattr(renderer, "write_report"):
        renderer.write_report(run_dir, report)
        return sorted(p.name for p in run_dir.glob("report.*")) + (
            ["junit.xml"] if (run_dir / "junit.xml").exists() else [])
    tmp = run_dir / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / "report.json")
    return ["report.json"]


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
