"""`harness run` and `harness demo`: one verification run, its report and its exit code.

Everything the user gave is validated before the stack is touched (scenario file, flags, fault
schedules): bad input is exit 2 naming the file, line or flag. Exit codes (docs/contract.md
section 2.2): 0 every invariant holds, 1 one is violated, 2 bad input, 3 the stack could not be
started.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console

from harness import interrupt
from harness.errors import EXIT_OK, EXIT_VIOLATION, UsageError
from harness.paths import REPORTS_DIR
from harness.report import Report, summary, write_report
from harness.run import loop
from harness.run import scenario as scenarios
from harness.run.live_metrics import LiveMetrics, serving
from harness.run.progress import Progress
from harness.stack import Stack


def run(args: argparse.Namespace) -> int:
    return _run(args, demo=False)


def demo(args: argparse.Namespace) -> int:
    """The default scenario, every strategy, fault schedule ``mixed`` (flags still win)."""
    return _run(args, demo=True)


def scenario_from(args: argparse.Namespace, *, demo: bool) -> scenarios.Scenario:
    """The scenario file with the flags applied (``demo``: all strategies, faults mixed)."""
    scenario = scenarios.load(args.scenario)
    if demo:
        scenario = scenarios.with_overrides(scenario, strategy="all", faults="mixed")
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers: must be >= 0 (got {args.workers})")
    return scenarios.with_overrides(
        scenario, strategy=args.strategy, faults=args.faults, bug=args.bug, users=args.users,
        duration_s=args.duration, seed=args.seed, workers=args.workers,
    )


def new_run_dir(out: str | None, scenario: scenarios.Scenario) -> tuple[str, Path]:
    """(run id, folder); ``--out`` must not be an existing non-empty folder."""
    if out:
        run_dir = Path(out).resolve()
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UsageError(f"--out: {run_dir} exists and is not empty")
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir.name, run_dir
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{scenario.name}-{scenario.strategy}-s{scenario.seed}"
    for n in range(1, 100):
        run_id = base if n == 1 else f"{base}-{n}"
        run_dir = REPORTS_DIR / run_id
        try:
            run_dir.mkdir(parents=True)
        except FileExistsError:
            continue
        return run_id, run_dir
    raise UsageError(f"--out: could not create a fresh folder {base}-N in {REPORTS_DIR}")


def point_latest(run_dir: Path) -> None:
    """``reports/latest`` -> ``run_dir`` (atomically), when the run lives under reports/."""
    if run_dir.parent != REPORTS_DIR:
        return
    link = REPORTS_DIR / "latest"
    tmp = REPORTS_DIR / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, link)


def _run(args: argparse.Namespace, *, demo: bool) -> int:
    scenario = scenario_from(args, demo=demo)
    loop.schedules_for(scenario)  # bad schedules are exit 2 before anything is touched
    run_id, run_dir = new_run_dir(args.out, scenario)
    progress = Progress()
    progress.phase(f"run {run_id}: scenario {scenario.name!r}, strategies "
                   f"{', '.join(scenario.strategies)}, faults {scenario.faults}, "
                   f"seed {scenario.seed} -> {run_dir}")
    stack = Stack(args.state_dir, progress=lambda m: progress.phase(f"[stack] {m}"))
    point_latest(run_dir)
    report = interrupt.run(_run_with_metrics(scenario, run_id, run_dir, stack, progress))
    written = write_report(run_dir, report)
    print_summary(report, run_dir, written)
    return EXIT_OK if report.verdict == "pass" else EXIT_VIOLATION


async def _run_with_metrics(scenario: scenarios.Scenario, run_id: str, run_dir: Path,
                            stack: Stack, progress: Progress) -> Report:
    """The run, with its live counters served in Prometheus format while it lasts."""
    metrics = LiveMetrics(run_dir, stack)
    async with serving(metrics, run_id=run_id) as url:
        progress.phase(f"live metrics (Prometheus): {url}")
        return await loop.run(scenario, run_id, run_dir, stack, progress,
                              on_strategy=metrics.observe_strategy)


def print_summary(report: Report, run_dir: Path, written: list[str]) -> None:
    """The run's summary (stdout): per strategy its load and invariants, every broken
    invariant, every threshold, then the verdict and where the report is."""
    console = Console(file=sys.stdout, highlight=False, width=max(150, Console().width))
    console.print(summary(report))
    console.print(f"report: {run_dir} ({', '.join(written)})")
