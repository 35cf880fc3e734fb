"""The pure part of ``harness shrink``: which smaller runs to try, in what order, and when one is
accepted. No process runs here; :func:`search` calls the ``attempt`` it is given.

Like Hypothesis's shrinker (and DEMi for distributed executions) it is greedy: passes propose
candidates smaller than the best run so far, biggest cuts first; the first accepted candidate
becomes the best and the search starts again from the first pass (candidates already tried are
skipped, so this is cheap), until no pass finds anything more (or the budget is spent). A re-run
costs about its load plus a fixed overhead (reset, settling, checks), so the cuts that shorten
every later re-run come first. The passes, in order (:func:`passes_for`):

1. ``cut at the first violation``: when the run's history says when the first violating order
   ended (:class:`Hints`), the load ends :data:`CUT_MARGIN_S` + :data:`TAIL_S` after it and
   the windows after it are dropped (those across it end there);
2. ``trim the load``: the load ends :data:`TAIL_S` after the last window;
3. ``shorter clocks`` (:class:`Clocks`): the service's hold TTL and stuck-saga delay at their
   floors, then halved, with the settling bound: settling waits for the holds of buyers who
   walked away (most of a short re-run's overhead), and a violation recovery never repairs
   waits out the whole bound;
4. ``move earlier``: the whole timeline moved to start at :data:`LEAD_S`, then every gap
   between windows closed to :data:`GAP_S`, the load ending as much earlier (a violation late
   in the load costs every later re-run its lead);
5. ``keep one window``: the :data:`KEEP_ONE_TRIES` most likely windows (a window: the
   entries of one label that start together, :func:`windows_of`), each alone with the same
   load tail after it, the most likely first (:meth:`Hints.rank`);
6. ``drop all faults``;
7. ``drop windows``: chunks of the windows, halves first, then quarters ... then single
   windows, the latest first (dropping late faults lets the load end sooner), as delta
   debugging does; then single entries of a window that has several;
8. ``shorten window``: each fault's window halved (never below :data:`MIN_WINDOW_S`);
9. ``shorter load``: the shortest load that still covers the timeline (last window's end +
   :data:`TAIL_S`, at least :data:`MIN_DURATION_S`), then halfway to the current one;
10. ``fewer users``: half the users (at least one).

Real processes are not deterministic, so a candidate is **accepted** only when it fails at
least ``need`` of ``tries`` re-runs (it "fails" when one of the invariants the original run
broke breaks again, so the search never slips to another bug); its re-runs stop as soon as the
outcome is decided (:func:`decide`: after ``need`` fails, or ``tries - need + 1`` passes).
Candidates already tried are never run twice.
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
#: Load kept after the first violating order ended, before the tail (``cut at the first
#: violation``).
CUT_MARGIN_S = 2.0
#: The floors of the service clocks a candidate may shorten: hold TTL, stuck-saga delay.
MIN_HOLD_TTL_S = 3.0
MIN_SAGA_STALE_S = 2.0
#: The settling bound a candidate may shorten to: at least this, and at least this many times
#: the longer service clock (correct recovery must still finish: a cut-short settling would
#: show unfinished work as a violation)
MIN_SETTLE_S = 20.0
SETTLE_PER_CLOCK = 2.0
#: How many windows ``keep one window`` tries alone (the most likely first; then the search
#: goes on by halves, as delta debugging does, which needs fewer candidates for a long list)
KEEP_ONE_TRIES = 3
#: How many recent re-runs the budget's overhead estimate looks at (the worst of them).
OVERHEAD_WINDOW = 3
#: Before a candidate's cost is known: a run's time beyond its load (reset, settle, checks).
DEFAULT_OVERHEAD_S = 30.0


@dataclass(frozen=True, slots=True)
class Clocks:
    """The clocks a re-run waits for after its load: the service's hold TTL and stuck-saga
    delay (``[service] hold_ttl``, ``saga_stale``) and the bound on settling (``[settle]
    timeout``, which a violation that recovery never repairs always waits out)."""

    hold_ttl_s: float
    saga_stale_s: float
    settle_s: float

    def describe(self) -> str:
        return (f"holds {self.hold_ttl_s:g}s, stale sagas {self.saga_stale_s:g}s, settle "
                f"<= {self.settle_s:g}s")

    def shorter(self) -> list[Clocks]:
        """At the floors, then halved; the settling bound stays at least
        :data:`SETTLE_PER_CLOCK` times the longer service clock and :data:`MIN_SETTLE_S`."""
        out = []
        for hold, stale in ((MIN_HOLD_TTL_S, MIN_SAGA_STALE_S),
                            (math.floor(self.hold_ttl_s / 2 * 10) / 10,
                             math.floor(self.saga_stale_s / 2 * 10) / 10)):
            hold = min(self.hold_ttl_s, max(MIN_HOLD_TTL_S, hold))
            stale = min(self.saga_stale_s, max(MIN_SAGA_STALE_S, stale))
            settle = min(self.settle_s, max(MIN_SETTLE_S, SETTLE_PER_CLOCK * max(hold, stale)))
            clocks = Clocks(hold, stale, settle)
            if clocks != self and clocks not in out:
                out.append(clocks)
        return out


@dataclass(frozen=True, slots=True)
class Candidate:
    """One run to try: one strategy's fault timeline, load duration and users."""

    faults: tuple[ScheduledFault, ...]
    duration_s: float
    users: int
    #: the pass that proposed it
    step: str = "original"
    #: the service's clocks and the settling bound; None: the scenario's own, never shortened
    clocks: Clocks | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """Identity for "already tried" (the step does not count)."""
        return (tuple((f.start_s, f.duration_s, f.fault, f.target, tuple(sorted(
            f.params.items())), f.label) for f in self.faults), self.duration_s, self.users,
            self.clocks)

    @property
    def windows_s(self) -> float:
        return round(sum(f.duration_s for f in self.faults), 3)

    @property
    def last_end_s(self) -> float:
        return max((f.end_s for f in self.faults), default=0.0)

    def describe(self) -> str:
        clocks = f", {self.clocks.describe()}" if self.clocks else ""
        return (f"{len(self.faults)} fault{'s' if len(self.faults) != 1 else ''} "
                f"({self.windows_s:g}s of windows), {self.duration_s:g}s load, "
                f"{self.users} users{clocks}")


@dataclass(frozen=True, slots=True)
class Hints:
    """What the original run's history says about its violation, to order candidates.

    ``spans`` are the load-time spans (first to last client event, seconds since the load
    started) of the orders the violations name; empty when no violation names an order with
    client events (e.g. a prepared transaction left in doubt).
    """

    spans: tuple[tuple[float, float], ...] = ()

    @property
    def first_violation_s(self) -> float | None:
        """When the first violating order ended (its last client event), if known."""
        return min((end for _, end in self.spans), default=None)

    def rank(self, windows: Sequence[Window]) -> list[Window]:
        """``windows``, the most likely cause first: one the first violating order ran
        through, then the one the most violating orders ran through, then the nearest to the
        first violation; without hints, the earliest (it leaves the shortest load)."""
        first = min(self.spans, key=lambda span: span[1], default=None)

        def met(w: Window, span: tuple[float, float]) -> bool:
            return span[0] <= w.end_s + CUT_MARGIN_S and w.start_s <= span[1]

        def score(w: Window) -> tuple[int, int, float, float]:
            if first is None:
                return (0, 0, 0.0, w.start_s)
            near = min(abs(w.start_s - first[1]), abs(w.end_s - first[1]))
            return (-int(met(w, first)), -sum(met(w, span) for span in self.spans),
                    near, w.start_s)

        return sorted(windows, key=score)


@dataclass(frozen=True, slots=True)
class Window:
    """One fault window: the timeline's entries of one label that start together (e.g. an
    exploration window's failpoints, or latency on both databases)."""

    faults: tuple[ScheduledFault, ...]

    @property
    def start_s(self) -> float:
        return min(f.start_s for f in self.faults)

    @property
    def end_s(self) -> float:
        return max(f.end_s for f in self.faults)

    @property
    def name(self) -> str:
        return self.faults[0].name


def windows_of(faults: Sequence[ScheduledFault]) -> list[Window]:
    """``faults`` grouped into windows (label and start), in timeline order."""
    groups: dict[tuple[str, float], list[ScheduledFault]] = {}
    for f in faults:
        groups.setdefault((f.name, f.start_s), []).append(f)
    return [Window(tuple(g)) for g in groups.values()]


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
    """Chunks of windows (:func:`windows_of`), halves first, the latest first; then single
    entries of a window that has several (e.g. one failpoint of an exploration window)."""
    windows = windows_of(best.faults)
    n = len(windows)
    size = n // 2
    while size >= 1:
        for start in reversed(range(0, n, size)):
            dropped = windows[start:start + size]
            gone = {id(f) for w in dropped for f in w.faults}
            kept = tuple(f for f in best.faults if id(f) not in gone)
            if kept:  # dropping everything is its own pass
                names = ", ".join(f"{w.name} at {w.start_s:g}s" for w in dropped)
                yield _with(best, f"drop windows ({names})", faults=kept)
        size //= 2
    for w in reversed(windows):
        if len(w.faults) > 1:
            for f in w.faults:
                kept = tuple(g for g in best.faults if g is not f)
                yield _with(best, f"drop {f.name} {f.target} at {f.start_s:g}s", faults=kept)


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


def _earlier_end(best: Candidate, faults: tuple[ScheduledFault, ...]) -> float:
    """The load of ``best`` ended as much earlier as its last window now ends (same tail)."""
    saved = best.last_end_s - max(f.end_s for f in faults)
    return max(MIN_DURATION_S, float(math.ceil(best.duration_s - saved)))


def move_earlier(best: Candidate) -> Iterator[Candidate]:
    """The timeline moved to start at :data:`LEAD_S`, then its gaps closed; the load ends as
    much earlier (the same tail after the last window)."""
    if not best.faults:
        return
    first = min(f.start_s for f in best.faults)
    if first > LEAD_S:
        moved = _shifted(best.faults, first - LEAD_S)
        yield _with(best, f"move the timeline {first - LEAD_S:g}s earlier", faults=moved,
                    duration_s=_earlier_end(best, moved))
    ordered = sorted(best.faults, key=lambda f: f.start_s)
    closed = [ordered[0]]
    end = ordered[0].end_s
    for f in ordered[1:]:
        start = min(f.start_s, round(end + GAP_S, 3))
        closed.append(dataclasses.replace(f, start_s=start))
        end = max(end, start + f.duration_s)
    if closed != ordered:
        yield _with(best, "close the gaps between windows", faults=tuple(closed),
                    duration_s=_earlier_end(best, tuple(closed)))


def shorter_load(best: Candidate) -> Iterator[Candidate]:
    floor = _floor_s(best)
    for duration in (floor, float(math.ceil((floor + best.duration_s) / 2))):
        if duration < best.duration_s:
            yield _with(best, f"load {duration:g}s", duration_s=duration)


def fewer_users(best: Candidate) -> Iterator[Candidate]:
    if best.users > 1:
        users = best.users // 2
        yield _with(best, f"{users} users", users=users)


def shorter_clocks(best: Candidate) -> Iterator[Candidate]:
    for clocks in best.clocks.shorter() if best.clocks else ():
        yield _with(best, f"shorter clocks: {clocks.describe()}", clocks=clocks)


Pass = Callable[[Candidate], Iterator[Candidate]]


def cut_at_violation(initial: Candidate, hints: Hints) -> Pass:
    """The load ends soon after the first violating order ended; later windows go. Only while
    the timeline is the original's (a moved one no longer matches the history's times)."""
    originals = set(_fault_keys(initial.faults))

    def propose(best: Candidate) -> Iterator[Candidate]:
        first = hints.first_violation_s
        if first is None or not set(_fault_keys(best.faults)) <= originals:
            return
        cut = float(math.ceil(first + CUT_MARGIN_S))
        faults = tuple(dataclasses.replace(f, duration_s=round(min(f.duration_s,
                                                                   cut - f.start_s), 3))
                       for f in best.faults if f.start_s < cut)
        duration = max(MIN_DURATION_S, cut + TAIL_S)
        if duration < best.duration_s:
            yield _with(best, f"cut at the first violation ({first:g}s): {duration:g}s load",
                        faults=faults, duration_s=duration)
    return propose


def _fault_keys(faults: Sequence[ScheduledFault]) -> list[tuple[object, ...]]:
    return [(f.start_s, f.fault, f.target, f.label) for f in faults]


def keep_one(hints: Hints) -> Pass:
    """The :data:`KEEP_ONE_TRIES` most likely windows, each alone with the same load tail after
    it; a window is tried alone once (a later best does not bring it back)."""
    tried: set[tuple[object, ...]] = set()

    def propose(best: Candidate) -> Iterator[Candidate]:
        windows = windows_of(best.faults)
        if len(windows) < 2:
            return
        tail = max(0.0, best.duration_s - best.last_end_s)
        for w in hints.rank(windows)[:KEEP_ONE_TRIES]:
            identity = tuple(_fault_keys(w.faults))
            if identity in tried:
                continue
            tried.add(identity)
            duration = min(best.duration_s, max(MIN_DURATION_S, float(math.ceil(w.end_s + tail))))
            yield _with(best, f"keep one window ({w.name} at {w.start_s:g}s)", faults=w.faults,
                        duration_s=duration)
    return propose


def passes_for(initial: Candidate, hints: Hints | None = None) -> tuple[Pass, ...]:
    """The passes in order (see the module docstring): the biggest cuts first."""
    hints = hints or Hints()
    return (cut_at_violation(initial, hints), trim_load, shorter_clocks, move_earlier,
            keep_one(hints), drop_all, drop_chunks, shorten_windows, shorter_load, fewer_users)


#: The passes without hints from a history.
PASSES: tuple[Pass, ...] = passes_for(Candidate((), 0.0, 1))


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
    #: what the last re-runs cost beyond their load (newest last)
    recent: list[float] = dataclasses.field(default_factory=list)
    #: kept back for what must still run after (the confirmation of the best)
    reserve_s: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def overhead_s(self) -> float:
        """The estimate of a re-run's time beyond its load: the worst of the last
        :data:`OVERHEAD_WINDOW` re-runs (it falls once the service clocks are shortened)."""
        return max(self.recent[-OVERHEAD_WINDOW:], default=DEFAULT_OVERHEAD_S)

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def cost_s(self, candidate: Candidate) -> float:
        """The estimated time of one re-run of ``candidate``."""
        return candidate.duration_s + self.overhead_s

    def fits(self, candidate: Candidate) -> bool:
        return self.elapsed_s + self.cost_s(candidate) + self.reserve_s <= self.seconds

    def observed(self, candidate: Candidate, wall_s: float) -> None:
        """A re-run took ``wall_s``: what it cost beyond its load."""
        self.recent.append(max(0.0, wall_s - candidate.duration_s))


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


#: The step of a confirmation: the best candidate run again (``confirm: <its step>``).
CONFIRM = "confirm"


def search(initial: Candidate, attempt: Attempt, *, tries: int, need: int, budget: Budget,
           report: Callable[[Outcome], None], passes: Sequence[Pass] | None = None,
           hints: Hints | None = None, confirm: bool = True) -> Candidate:
    """The smallest accepted candidate (``initial`` when none is); ``report`` sees every
    outcome as it is decided. After each accepted candidate the passes start again from the
    first (``passes``, default :func:`passes_for` with ``hints``). Stops when no pass finds
    anything more that fits the budget, or when a candidate's re-runs ran out of it.

    With ``confirm`` the result is confirmed: a candidate that fails only now and then passes
    ``need`` of ``tries`` by luck now and then, and the search, trying many, keeps the lucky
    ones. So the best is run again, ``need`` of ``tries`` on fresh re-runs (the budget keeps
    ``tries`` re-runs of the best back for this); when it is rejected, the one accepted before
    it is confirmed instead, and so on (the original needs none). A confirmation the budget
    cut short leaves its candidate the result, unconfirmed."""
    if not 1 <= need <= tries:
        raise ValueError(f"need must be within 1..tries (got need={need}, tries={tries})")
    order = tuple(passes) if passes is not None else passes_for(initial, hints)
    accepted = [initial]
    tried: set[tuple[object, ...]] = {initial.key}
    number = 0

    def reserve() -> None:
        best = accepted[-1]
        budget.reserve_s = tries * budget.cost_s(best) if confirm and best is not initial else 0.0

    changed = True
    reserve()
    while changed:
        changed = False
        for candidate in (c for propose in order for c in propose(accepted[-1])):
            if candidate.key in tried:
                continue
            if not budget.fits(candidate):
                continue  # a shorter candidate may still fit
            tried.add(candidate.key)
            number += 1
            outcome = evaluate(candidate, attempt, tries=tries, need=need, budget=budget,
                               number=number)
            report(outcome)
            if outcome.undecided:
                changed = False
                break
            if outcome.accepted:
                accepted.append(candidate)
                reserve()
                changed = True
                break
    budget.reserve_s = 0.0
    while confirm and len(accepted) > 1:
        best = accepted[-1]
        number += 1
        outcome = evaluate(dataclasses.replace(best, step=f"{CONFIRM}: {best.step}"), attempt,
                           tries=tries, need=need, budget=budget, number=number)
        report(outcome)
        if outcome.accepted or outcome.undecided:
            return best
        accepted.pop()
    return accepted[-1]
