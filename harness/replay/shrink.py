"""The pure part of ``harness shrink``: which smaller runs to try, in what order, and when one is
accepted. No process runs here; :func:`search` calls the ``attempt`` it is given.

Like Hypothesis's shrinker (and DEMi for distributed executions) it is greedy: passes propose
candidates smaller than the best run so far, the first accepted candidate becomes the best and
its pass starts again from it, and the passes repeat until none of them finds anything more
(or the budget is spent). The passes, in order (the fault timeline first, then the load):

1. ``drop all faults``;
1b. ``trim the load``: the load ends :data:`TAIL_S` after the last window. Strictly a load
   step, it comes this early because a re-run costs about its load: the load left after the
   last fault (a quarter of a named schedule's run, more once faults are dropped) would
   otherwise be paid by every candidate of the timeline passes;
2. ``drop faults``: chunks of the timeline, halves first, then quarters ... then single faults,
   the latest first (dropping late faults lets the load end sooner);
3. ``shorten window``: each fault's window halved (never below :data:`MIN_WINDOW_S`);
4. ``move earlier``: the whole timeline moved to start at :data:`LEAD_S`, then every gap
   between windows closed to :data:`GAP_S`;
5. ``shorter load``: the shortest load that still covers the timeline (last window's end +
   :data:`TAIL_S`, at least :data:`MIN_DURATION_S`), then halfway to the current one;
6. ``fewer users``: half the users (at least one).

Real processes are not deterministic, so a candidate is **accepted** only when it fails at
least ``need`` of ``tries`` re-runs (it "fails" when one of the invariants the original run
broke breaks again, so the search never slips to another bug); its re-runs stop as soon as the
outcome is decided (:func:`decide`). Candidates already tried are never run twice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from chaos.schedule_types import ScheduledFault

#: A shrunk window is never shorter than this.
MIN_WINDOW_S = 1.0
#: Where a timeline moved earlier starts (a little load before the first fault).
LEAD_S = 2.0
#: The gap left between windows when gaps are closed.
GAP_S = 1.0
#: Load after the last window ends, and the shortest load a candidate has.
TAIL_S = 2.0
MIN_DURATION_S = 5.0
#: Before a candidate's cost is known: a run's time beyond its load (reset, settle, checks).
DEFAULT_OVERHEAD_S = 30.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """One run to try: one strategy's fault timeline, load duration and users."""

    faults: tuple[ScheduledFault, ...]
    duration_s: float
    users: int
    #: the pass that proposed it
    step: str = "original"

    @property
    def key(self) -> tuple[object, ...]:
        """Identity for "already tried" (the step does not count)."""
        return (tuple((f.start_s, f.duration_s, f.fault, f.target, tuple(sorted(
            f.params.items())), f.label) for f in self.faults), self.duration_s, self.users)

    @property
    def windows_s(self) -> float:
        return round(sum(f.duration_s for f in self.faults), 3)

    @property
    def last_end_s(self) -> float:
        return max((f.end_s for f in self.faults), default=0.0)

    def describe(self) -> str:
        return (f"{len(self.faults)} fault{'s' if len(self.faults) != 1 else ''} "
                f"({self.windows_s:g}s of windows), {self.duration_s:g}s load, "
                f"{self.users} users")


def decide(fails: int, runs: int, *, tries: int, need: int) -> bool | None:
    """Accepted (True), rejected (False), or not decided yet (None) after ``runs`` re-runs of
    which ``fails`` failed."""
    if fails >= need:
        return True
    if fails + (tries - runs) < need:
        return False
    return None


# --- passes -----------------------------------------------------------------------------------
def _with(best: Candidate, step: str, **changes: object) -> Candidate:
    return dataclasses.replace(best, step=step, **changes)  # type: ignore[arg-type]


def drop_all(best: Candidate) -> Iterator[Candidate]:
    if best.faults:
        yield _with(best, "drop all faults", faults=())


def _floor_s(best: Candidate) -> float:
    """The shortest load that covers ``best``'s timeline and its tail."""
    return max(MIN_DURATION_S, float(math.ceil(best.last_end_s + TAIL_S)))


def trim_load(best: Candidate) -> Iterator[Candidate]:
    floor = _floor_s(best)
    if floor < best.duration_s:
        yield _with(best, f"trim the load to {floor:g}s", duration_s=floor)


def drop_chunks(best: Candidate) -> Iterator[Candidate]:
    n = len(best.faults)
    size = n // 2
    while size >= 1:
        starts = list(range(0, n, size))
        for start in reversed(starts):
            kept = best.faults[:start] + best.faults[start + size:]
            if kept:  # dropping everything is its own pass
                dropped = ", ".join(f.name for f in best.faults[start:start + size])
                yield _with(best, f"drop faults ({dropped})", faults=kept)
        size //= 2


def shorten_windows(best: Candidate) -> Iterator[Candidate]:
    for i, f in enumerate(best.faults):
        shorter = max(MIN_WINDOW_S, math.floor(f.duration_s / 2 * 10) / 10)
        if shorter < f.duration_s:
            faults = (*best.faults[:i], dataclasses.replace(f, duration_s=shorter),
                      *best.faults[i + 1:])
            yield _with(best, f"shorten window {i + 1} ({f.name}) to {shorter:g}s",
                        faults=faults)


def _shifted(faults: Sequence[ScheduledFault], by: float) -> tuple[ScheduledFault, ...]:
    return tuple(dataclasses.replace(f, start_s=round(f.start_s - by, 3)) for f in faults)


def move_earlier(best: Candidate) -> Iterator[Candidate]:
    if not best.faults:
        return
    first = min(f.start_s for f in best.faults)
    if first > LEAD_S:
        yield _with(best, f"move the timeline {first - LEAD_S:g}s earlier",
                    faults=_shifted(best.faults, first - LEAD_S))
    ordered = sorted(best.faults, key=lambda f: f.start_s)
    closed = [ordered[0]]
    end = ordered[0].end_s
    for f in ordered[1:]:
        start = min(f.start_s, round(end + GAP_S, 3))
        closed.append(dataclasses.replace(f, start_s=start))
        end = max(end, start + f.duration_s)
    if closed != ordered:
        yield _with(best, "close the gaps between windows", faults=tuple(closed))


def shorter_load(best: Candidate) -> Iterator[Candidate]:
    floor = _floor_s(best)
    for duration in (floor, float(math.ceil((floor + best.duration_s) / 2))):
        if duration < best.duration_s:
            yield _with(best, f"load {duration:g}s", duration_s=duration)


def fewer_users(best: Candidate) -> Iterator[Candidate]:
    if best.users > 1:
        users = best.users // 2
        yield _with(best, f"{users} users", users=users)


Pass = Callable[[Candidate], Iterator[Candidate]]
#: The passes in order: the fault timeline first (after trimming the load's tail), then the load.
PASSES: tuple[Pass, ...] = (drop_all, trim_load, drop_chunks, shorten_windows, move_earlier,
                            shorter_load, fewer_users)


# --- the search -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    """A tried candidate: its re-runs' results and the decision."""

    number: int
    candidate: Candidate
    fails: int
    runs: int
    accepted: bool
    #: the budget ran out before the outcome was decided
    undecided: bool = False


#: Run a candidate once (the candidate's number, its re-run's number, both from 1): True when
#: it failed the same way.
Attempt = Callable[[Candidate, int, int], bool]


@dataclass(slots=True)
class Budget:
    """Wall-clock budget: a re-run starts only when its estimated time still fits."""

    seconds: float
    clock: Callable[[], float]
    started: float = 0.0
    overhead_s: float = DEFAULT_OVERHEAD_S

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def fits(self, candidate: Candidate) -> bool:
        return self.elapsed_s + candidate.duration_s + self.overhead_s <= self.seconds

    def observed(self, candidate: Candidate, wall_s: float) -> None:
        """A re-run took ``wall_s``: what runs cost beyond their load (the worst seen)."""
        beyond = max(0.0, wall_s - candidate.duration_s)
        self.overhead_s = beyond if self.overhead_s == DEFAULT_OVERHEAD_S else max(
            self.overhead_s, beyond)


def evaluate(candidate: Candidate, attempt: Attempt, *, tries: int, need: int,
             budget: Budget, number: int) -> Outcome:
    """Re-run ``candidate`` until accepted or rejected (or out of budget: not accepted)."""
    fails = runs = 0
    while True:
        verdict = decide(fails, runs, tries=tries, need=need)
        if verdict is not None:
            return Outcome(number, candidate, fails, runs, verdict)
        if not budget.fits(candidate):
            return Outcome(number, candidate, fails, runs, False, undecided=True)
        before = budget.clock()
        failed = attempt(candidate, number, runs + 1)
        budget.observed(candidate, budget.clock() - before)
        runs += 1
        fails += int(failed)


def search(initial: Candidate, attempt: Attempt, *, tries: int, need: int, budget: Budget,
           report: Callable[[Outcome], None], passes: Sequence[Pass] = PASSES) -> Candidate:
    """The smallest accepted candidate (``initial`` when none is); ``report`` sees every
    outcome as it is decided. Stops when no pass finds anything more, or at the budget."""
    if not 1 <= need <= tries:
        raise ValueError(f"need must be within 1..tries (got need={need}, tries={tries})")
    best = initial
    tried: set[tuple[object, ...]] = {initial.key}
    number = 0
    changed = True
    while changed:
        changed = False
        for propose in passes:
            restart = True
            while restart:
                restart = False
                for candidate in propose(best):
                    if candidate.key in tried:
                        continue
                    if not budget.fits(candidate):
                        return best
                    tried.add(candidate.key)
                    number += 1
                    outcome = evaluate(candidate, attempt, tries=tries, need=need,
                                       budget=budget, number=number)
                    report(outcome)
                    if outcome.undecided:
                        return best
                    if outcome.accepted:
                        best, changed, restart = candidate, True, True
                        break
    return best
