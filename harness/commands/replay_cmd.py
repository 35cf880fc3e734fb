"""`harness replay RUN_DIR [--out DIR]`: run again exactly what a run recorded.

Its effective scenario (``scenario.toml``), seed, bug, strategies and load duration
(``report.json``), and its fault timeline (``faults.jsonl``) as an inline schedule at the same
offsets. The new report names the original (``replay_of`` in report.json, a link in the HTML).
Exit codes as `harness run`: 0 pass, 1 fail, 2 a run folder that cannot be replayed (naming the
file), 3 the stack could not be started.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from harness import interrupt
from harness.commands.run_cmd import new_run_dir, point_latest, print_summary
from harness.errors import EXIT_OK, EXIT_VIOLATION, UsageError
from harness.replay.recorded import RecordedRun, read_report, replay_scenario
from harness.report import write_report
from harness.report.model import ReplayLink, Report
from harness.run import loop
from harness.run import scenario as scenarios
from harness.run.progress import Progress
from harness.stack import Stack


def replay_of(original: RecordedRun, run_dir: Path) -> ReplayLink:
    """The report's link to the run it replays (path relative to the new run's folder)."""
    return ReplayLink(original.run_id,
                      os.path.relpath(original.run_dir.resolve(), run_dir.resolve()))


def run_replay(scenario: scenarios.Scenario, original: RecordedRun, out: str | None,
               state_dir: str | None, progress: Progress) -> tuple[Report, Path]:
    """Run ``scenario`` (a replay of ``original``); its report (written) and folder."""
    loop.schedules_for(scenario)  # bad input is exit 2 before anything is touched
    run_id, run_dir = new_run_dir(out, scenario)
    progress.phase(f"replay {run_id} of {original.run_id}: strategies "
                   f"{', '.join(scenario.strategies)}, {len(scenario.schedule or ())} faults, "
                   f"seed {scenario.seed}, bug {scenario.bug or 'none'} -> {run_dir}")
    stack = Stack(state_dir, progress=lambda m: progress.phase(f"[stack] {m}"))
    point_latest(run_dir)
    report = interrupt.run(loop.run(scenario, run_id, run_dir, stack, progress))
    report = dataclasses.replace(report, replay_of=replay_of(original, run_dir))
    written = write_report(run_dir, report)
    print_summary(report, run_dir, written)
    return report, run_dir


def replay(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"RUN_DIR: {run_dir}: no such run folder")
    original = read_report(run_dir)
    scenario = replay_scenario(original)
    report, _ = run_replay(scenario, original, args.out, args.state_dir, Progress())
    print(f"original verdict: {original.verdict}; replay verdict: {report.verdict}")
    return EXIT_OK if report.verdict == "pass" else EXIT_VIOLATION
