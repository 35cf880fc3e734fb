"""Shrink candidates run for real: each re-run is a whole `harness run` of the candidate's
scenario in ``<out>/runs/c<candidate>-t<re-run>/``, judged against the original failure.

A re-run "fails" when one of the invariants the original run broke (for the strategy being
shrunk) breaks again; another violation alone does not count, so the search stays on one bug.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, cast

from harness import interrupt
from harness.replay.recorded import RecordedRun, replay_scenario
from harness.replay.shrink import Candidate, Clocks, Hints
from harness.report import write_report
from harness.report.model import OrderStory, Report, read_report
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
    hints: Hints = dataclasses.field(default_factory=Hints)


def hints_of(run: RecordedRun, strategy: str) -> Hints:
    """When the orders the violations name ran (their stories in ``report.json``)."""
    return hints_from(read_report(run.run_dir / "report.json").orders, strategy)


def hints_from(orders: Mapping[str, OrderStory], strategy: str) -> Hints:
    """The load-time spans of ``strategy``'s named orders that ran through a fault window, or
    of all when none did (an order no fault touched, e.g. one whose authorization a later
    failure left open, says little about the timeline)."""
    stories = [story for story in orders.values()
               if story.history and story.strategy in (None, strategy)]
    faulted = [story for story in stories if story.faults] or stories
    return Hints(tuple(sorted((min(e.t_s for e in story.history),
                               max(e.t_s for e in story.history)) for story in faulted)))


def target_of(run: RecordedRun) -> Target:
    """The first strategy whose invariants the run broke, with its own fault timeline."""
    strategy = next(s for s, names in run.broken.items() if names)
    replayed = replay_scenario(run)
    faults = tuple(dataclasses.replace(f, strategy=None) for f in replayed.schedule or ()
                   if f.strategy in (None, strategy))
    base = dataclasses.replace(replayed, strategy=strategy, schedule=faults)
    clocks = Clocks(base.service.hold_ttl_s, base.service.saga_stale_s, base.settle.timeout_s)
    return Target(base, strategy, run.broken[strategy],
                  Candidate(faults, base.duration_s, base.users, clocks=clocks),
                  hints_of(run, strategy))


def scenario_of(target: Target, candidate: Candidate) -> scenarios.Scenario:
    """The scenario that runs ``candidate`` (inline faults, its load, its clocks)."""
    base = target.base
    if candidate.clocks is not None:
        base = dataclasses.replace(
            base, service=dataclasses.replace(base.service, hold_ttl_s=candidate.clocks.hold_ttl_s,
                                              saga_stale_s=candidate.clocks.saga_stale_s),
            settle=dataclasses.replace(base.settle, timeout_s=candidate.clocks.settle_s))
    return dataclasses.replace(
        base, faults=scenarios.INLINE, schedule=candidate.faults,
        duration_s=candidate.duration_s, users=candidate.users)


class Stamped:
    """A text stream that prefixes each line with the seconds since it was opened, so a
    re-run's ``progress.log`` shows where its time went."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self.t0 = time.monotonic()
        self.fresh = True

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            if self.fresh:
                self.inner.write(f"{time.monotonic() - self.t0:7.2f}s ")
            self.inner.write(piece)
            self.fresh = piece.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Spent:
    """Where one re-run's wall time went: the load, settling, and the rest (stack, reset,
    Locust start and stop, checks, report)."""

    wall_s: float
    load_s: float
    settle_s: float

    @property
    def other_s(self) -> float:
        return max(0.0, self.wall_s - self.load_s - self.settle_s)

    def describe(self) -> str:
        return (f"{self.wall_s:.0f}s: load {self.load_s:g}s, settle {self.settle_s:.0f}s, "
                f"other {self.other_s:.0f}s")


def spent_of(run_dir: Path, load_s: float, wall_s: float) -> Spent:
    """The re-run's time split (settling from its ``settle.json``)."""
    try:
        settled = json.loads((run_dir / "settle.json").read_text(encoding="utf-8"))
        settle_s = float(sum(v.get("seconds", 0.0) for v in settled.values()))
    except (OSError, ValueError, AttributeError):
        settle_s = 0.0
    return Spent(wall_s, load_s, settle_s)


@dataclass(slots=True)
class RealAttempts:
    """Runs candidates on the stack of ``state_dir``; every re-run keeps its report folder."""

    target: Target
    out_dir: Path
    state_dir: str | None
    progress: Progress
    #: the last re-run's time split
    last: Spent | None = None

    def run_dir(self, number: int, rerun: int) -> Path:
        return self.out_dir / "runs" / f"c{number:03d}-t{rerun}"

    def __call__(self, candidate: Candidate, number: int, rerun: int) -> bool:
        run_dir = self.run_dir(number, rerun)
        run_dir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        report = interrupt.run(self._run(candidate, run_dir))
        self.last = spent_of(run_dir, candidate.duration_s, time.monotonic() - began)
        result = report.strategies.get(self.target.strategy)
        broken = {i.name for i in result.invariants if not i.ok} if result else set()
        return bool(broken & set(self.target.broken))

    async def _run(self, candidate: Candidate, run_dir: Path) -> Report:
        # the stack stays up between re-runs: a run restarts only the service, and only when
        # the candidate's service settings differ from the running ones
        stack = Stack(self.state_dir, progress=lambda m: self.progress.phase(f"[stack] {m}"))
        with (run_dir / "progress.log").open("w", encoding="utf-8") as log:
            # each re-run's own phase lines go to its folder, each with its time since the
            # re-run began; the shrink prints its own
            report = await loop.run(scenario_of(self.target, candidate), run_dir.name, run_dir,
                                    stack, Progress(cast(TextIO, Stamped(log)), live=False))
        write_report(run_dir, report)
        return report
