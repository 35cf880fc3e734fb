"""Shrink candidates run for real: each re-run is a whole `harness run` of the candidate's
scenario in ``<out>/runs/c<candidate>-t<re-run>/``, judged against the original failure.

A re-run "fails" when one of the invariants the original run broke (for the strategy being
shrunk) breaks again; another violation alone does not count, so the search stays on one bug.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from harness.replay.recorded import RecordedRun, replay_scenario
from harness.replay.shrink import Candidate
from harness.report import write_report
from harness.report.model import Report
from harness.run import loop
from harness.run import scenario as scenarios
from harness.run.progress import Progress
from harness.stack import Stack


@dataclass(frozen=True, slots=True)
class Target:
    """What is being shrunk: one strategy of a failing run, and the invariants it broke."""

    base: scenarios.Scenario
    strategy: str
    broken: tuple[str, ...]
    initial: Candidate


def target_of(run: RecordedRun) -> Target:
    """The first strategy whose invariants the run broke, with its own fault timeline."""
    strategy = next(s for s, names in run.broken.items() if names)
    replayed = replay_scenario(run)
    faults = tuple(dataclasses.replace(f, strategy=None) for f in replayed.schedule or ()
                   if f.strategy in (None, strategy))
    base = dataclasses.replace(replayed, strategy=strategy, schedule=faults)
    return Target(base, strategy, run.broken[strategy],
                  Candidate(faults, base.duration_s, base.users))


def scenario_of(target: Target, candidate: Candidate) -> scenarios.Scenario:
    """The scenario that runs ``candidate`` (inline faults, its load)."""
    return dataclasses.replace(
        target.base, faults=scenarios.INLINE, schedule=candidate.faults,
        duration_s=candidate.duration_s, users=candidate.users)


@dataclass(slots=True)
class RealAttempts:
    """Runs candidates on the stack of ``state_dir``; every re-run keeps its report folder."""

    target: Target
    out_dir: Path
    state_dir: str | None
    progress: Progress

    def run_dir(self, number: int, rerun: int) -> Path:
        return self.out_dir / "runs" / f"c{number:03d}-t{rerun}"

    def __call__(self, candidate: Candidate, number: int, rerun: int) -> bool:
        run_dir = self.run_dir(number, rerun)
        run_dir.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(self._run(candidate, run_dir))
        result = report.strategies.get(self.target.strategy)
        broken = {i.name for i in result.invariants if not i.ok} if result else set()
        return bool(broken & set(self.target.broken))

    async def _run(self, candidate: Candidate, run_dir: Path) -> Report:
        stack = Stack(self.state_dir, progress=lambda m: self.progress.phase(f"[stack] {m}"))
        with (run_dir / "progress.log").open("w", encoding="utf-8") as log:
            # each re-run's own phase lines go to its folder; the shrink prints its own
            report = await loop.run(scenario_of(self.target, candidate), run_dir.name, run_dir,
                                    stack, Progress(log, live=False))
        write_report(run_dir, report)
        return report
