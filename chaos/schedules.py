"""The named fault schedules of docs/contract.md section 5.1, scaled to a run's duration.

``build(name, seed=, duration_s=, strategy=)`` returns a :data:`Schedule`. Guarantees:

* every fault lies inside the load window ``[lead, duration - tail]``: the first seconds run
  without faults (a baseline), and the last quarter (at most 15 s) is left for recovery under load
  (``mixed``: after a shorter lead, before a shorter tail, :func:`window_of`);
* the same (name, seed, duration, strategy, service clocks, buyers' timeout, number of service
  processes) always gives the same schedule; all randomness (``mixed``'s composition, magnitudes,
  which process, which failpoint) comes from the seed, and every drawn value is in the entry's
  params (so ``faults.jsonl`` records it);
* ``explore`` (BUGGIFY) pauses, in each window, one random service process past the lock lease
  at one failpoint (the windows take the strategy's failpoints in a seeded order that visits
  each before any twice), and either crashes a few other failpoints or delays several, now
  and then (a seeded chance per hit; a step that declares a hold, i.e. whose default action
  is a stall, is delayed more often than the others; a long delay fires less often, so the
  load keeps flowing); durations are scaled to the service's own clocks (lock lease, hold
  TTL, saga stale time, provider timeout: read from the service's door, never copied) and
  to the buyers' timeout when the run passes it (``client_timeout_s``); it knows no bug;
* ``mixed`` is dense and composed (Jepsen's combined nemesis): three lanes run at once, network
  faults on the links, process faults (pause, kill, failpoint crash) on the service, and an
  exploration lane (a new set of armed failpoints every few seconds), so families overlap;
  windows start every few seconds; the network and process lanes draw every family that
  applies to the strategy once (a 60 s run exercises all of them, see :func:`families_for`),
  the network lane more rounds while the process lane runs (its crash last), and exploration
  runs on after them alone for as long again (the quiet stretch, one delayed step at a time,
  just past the shortest deadline the strategy's requests race, then the clients' link alone
  for a few seconds when 8 s of exploration come before it);
  a long run repeats that cycle (a 60 s run is one, ending with the quiet stretch); at most
  one service process is stopped or killed at a time. It holds no white-box adversary: its
  pause is a plain SIGSTOP of a random process;
* a duration too short for a schedule's purpose (e.g. a pause longer than the lock lease) is a
  :class:`ScheduleError` (exit 2), never a silently weaker schedule.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chaos.errors import ScheduleError, UnknownFault
from chaos.schedule_types import Schedule, ScheduledFault
from target_service.introspection import (
    Clocks,
    clocks,
    crash_gaps,
    deadlines,
    exploration_failpoints,
)
from target_service.strategies import STRATEGIES

__all__ = ["SCHEDULES", "Schedule", "ScheduleSpec", "ScheduledFault", "build", "window"]


@dataclass(frozen=True, slots=True)
class BuildInput:
    """What a schedule is built from."""

    duration_s: float
    strategy: str | None
    lock_lease_s: float
    target_processes: int
    rng: random.Random
    clocks: Clocks
    #: the buyers' own timeout (the workload's ``client_timeout``), a deadline every held
    #: request races too: a buyer that gives up retries with the same Idempotency-Key while
    #: the original is still held (None: not known, e.g. a stand-alone chaos script)
    client_timeout_s: float | None = None


#: (input, start, length, label, episode index) -> the entries of one episode
Episode = Callable[[BuildInput, float, float, str, int], list[ScheduledFault]]


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A named schedule: a one-line doc and how one episode of it breaks things."""

    name: str
    doc: str
    episode: Episode | None = None
    preferred_s: float = 10.0
    min_s: float = 2.0
    #: (shortest useful, preferred) episode length that depends on the input (e.g. on the lock
    #: lease, which a pause must outlast); overrides ``min_s`` and ``preferred_s``
    span: Callable[[BuildInput], tuple[float, float]] | None = None
    #: a white-box adversary (it steers one interleaving): its own schedule, never in ``mixed``
    white_box: bool = False
    #: the strategies it can break (None: every one); building it for another is bad usage
    strategies: frozenset[str] | None = None

    def length(self, inp: BuildInput) -> tuple[float, float]:
        """(shortest useful, preferred) episode length for this input."""
        if self.span is not None:
            return self.span(inp)
        return self.min_s, self.preferred_s


def _ms_up(seconds: float) -> float:
    return math.ceil(round(seconds * 1000, 6)) / 1000


def _ms_down(seconds: float) -> float:
    return math.floor(round(seconds * 1000, 6)) / 1000


def window(duration_s: float) -> tuple[float, float]:
    """Where faults may run (whole milliseconds): after a baseline lead, before a recovery tail."""
    lead = min(10.0, 0.15 * duration_s)
    return _ms_up(lead), _ms_down(duration_s - min(15.0, 0.25 * duration_s))


#: ``mixed`` starts after a shorter lead than the other schedules: this share of the load, at
#: most this long (seconds). The buyers are all running by then (at the default spawn rate, 20
#: in 2 s), and the seconds go to its quiet stretch, where races among held requests form in
#: proportion to its length (on the lease bug, more double-sold seats per run than after the
#: lead of :func:`window`: docs/measurements.md)
MIXED_LEAD = (0.08, 5.0)
#: and ends before a shorter recovery tail too: this share of the load, at most this long
#: (seconds). Its faults end with its quiet stretch, one delayed step and then the clients'
#: link, whose held requests and lost answers are back within seconds (a delay ends by the
#: stretch's end; a buyer retries a lost answer within a second of the link's return), and
#: what a fault left half done is repaired by the settle phase after the load, whatever the
#: tail. The seconds go to the quiet stretch, as the lead's do (docs/measurements.md)
MIXED_TAIL = (0.12, 8.0)


def window_of(name: str, duration_s: float) -> tuple[float, float]:
    """Where schedule ``name``'s faults run (:func:`window`; ``mixed``'s lead and recovery
    tail are shorter)."""
    lead, end = window(duration_s)
    if name == "mixed":
        lead = _ms_up(min(MIXED_LEAD[0] * duration_s, MIXED_LEAD[1]))
        end = _ms_down(duration_s - min(MIXED_TAIL[0] * duration_s, MIXED_TAIL[1]))
    return lead, end


# --- episodes -------------------------------------------------------------------------------
def _one(fault: str, target: str, **params: object) -> Episode:
    def episode(
        inp: BuildInput, start: float, length: float, label: str, i: int
    ) -> list[ScheduledFault]:
        return [ScheduledFault(start, length, fault, target, dict(params), label)]
    return episode


def _latency(targets: tuple[str, ...], choices: tuple[int, ...]) -> Episode:
    def episode(
        inp: BuildInput, start: float, length: float, label: str, i: int
    ) -> list[ScheduledFault]:
        latency = inp.rng.choice(choices)
        params = {"latency_ms": latency, "jitter_ms": latency // 2, "stream": "downstream"}
        return [ScheduledFault(start, length, "latency", t, params, label) for t in targets]
    return episode


def _pg_reset(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    targets = inp.rng.choice((("seats_pg",), ("payments_pg",), ("seats_pg", "payments_pg")))
    params = {"timeout_ms": inp.rng.choice((0, 200, 1000)), "stream": "downstream"}
    return [ScheduledFault(start, length, "reset_peer", t, params, label) for t in targets]


#: a cut clients' link closes each of its connections in this share of its windows (as a proxy
#: that gives up on a silent backend does), the rest hold them open until the buyers time out
CLOSE_SHARE = 0.75
#: a connection is closed once it has been silent this share of the buyers' timeout (Toxiproxy
#: restarts the timer on each chunk it drops; a request slower than that is cut before its
#: answer), before the buyer would give up. A buyer retries a closed connection after its
#: short backoff, so such a window loses an answer of each buyer every second or so, each
#: after its request acted, until the buyer's retry budget is spent; a window that holds loses
#: only what was in flight when it began, then the buyers wait for their seat maps (measured:
#: 3 lost creates in a 4.4 s window that held)
CLOSE_AFTER = (0.1, 0.5)


def _client_blackhole(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """The service's answers never reach the buyers; each connection held open, or closed
    once silent a while (:data:`CLOSE_SHARE`, :data:`CLOSE_AFTER`; held whenever the buyers'
    timeout is not known)."""
    known = inp.client_timeout_s is not None  # else every window holds (and draws nothing)
    return _cut_clients(inp, start, length, label, close=known and inp.rng.random() < CLOSE_SHARE)


def _cut_clients(inp: BuildInput, start: float, length: float, label: str,
                 close: bool) -> list[ScheduledFault]:
    """A window of the cut clients' link: each connection closed once silent a while
    (:data:`CLOSE_AFTER`) when ``close`` and the buyers' timeout is known, else held."""
    params: dict[str, object] = {"stream": "downstream"}
    if inp.client_timeout_s is not None and close:
        close_s = inp.client_timeout_s * inp.rng.uniform(*CLOSE_AFTER)
        params["timeout_ms"] = max(1, round(close_s * 1000))
    return [ScheduledFault(start, length, "half-open", "target_api", params, label)]


def _process(fault: str) -> Episode:
    def episode(
        inp: BuildInput, start: float, length: float, label: str, i: int
    ) -> list[ScheduledFault]:
        target = f"target-{inp.rng.randrange(inp.target_processes)}"
        return [ScheduledFault(start, length, fault, target, {}, label)]
    return episode


def _pause_holder(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """Pause a service process, the one holding seat locks when one does."""
    return [ScheduledFault(start, length, "pause", "target", {}, label)]


def _relay(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """The lock take-over relay (chaos/faults/relay.py)."""
    return [ScheduledFault(start, length, "lock-takeover-relay", "target", {}, label)]


def _crash_gap(inp: BuildInput, i: int) -> str:
    """The strategy's ``i``-th crash gap, round and round (its door's ``crash_gaps``: where a
    crash leaves a purchase between two stores, its commit point first)."""
    points = crash_gaps(inp.strategy)
    return points[i % len(points)]


def _crash(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """A crash at the strategy's ``i``-th crash gap (:func:`_crash_gap`)."""
    return [ScheduledFault(start, length, "crash", _crash_gap(inp, i), {"count": 1}, label)]


def _pause_length(inp: BuildInput) -> tuple[float, float]:
    """Three leases and a second: the paused holder's leases surely expire and are taken over."""
    need = round(3 * inp.lock_lease_s + 1.0, 3)
    return need, need


def _relay_length(inp: BuildInput) -> tuple[float, float]:
    """A holder's leases run out (three leases and a second), then at least three leases more
    for its successor and a third buyer, preferably nine and a second in all: a round that
    shows nothing is followed by another."""
    return (round(6 * inp.lock_lease_s + 1.0, 3), round(9 * inp.lock_lease_s + 1.0, 3))


def _generic_pause(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """SIGSTOP a random service process for the whole window (no aim: mixed's pause). It does
    not wait for seat locks to be held first: under saga or 2pc none ever are, and the wait
    (``lock_wait_s``) would eat most of the window."""
    target = f"target-{inp.rng.randrange(inp.target_processes)}"
    return [ScheduledFault(start, length, "pause", target, {"holding_locks": False}, label)]


#: exploration windows come in two kinds (swarm testing: faults that undo each other's
#: effect are kept apart): a *delay* window holds requests at several steps now and then; a
#: *crash* window kills a process at a few steps. A crash ends every request of its process,
#: the held ones too, so crashes beside delays would cut short the interleavings the delays
#: set up. This share of windows crash, drawn per window from the seed.
CRASH_WINDOW_SHARE = 1 / 4
#: a delay window delays each step that declares a hold (its default action is a stall) with
#: this probability: a step's declared kind is where the service's author says a hold
#: matters (as a BUGGIFY site is placed), so it is tried more often than a step that
#: declares a crash, yet not in every window
DECLARED_SHARE = 0.75
#: and this many other steps, drawn afresh each window (at least one step in all). Few at a
#: time, as in swarm testing: each delayed step holds some requests, and a window that
#: delays many steps throttles the load itself (every request passes the steps around its
#: Idempotency-Key), so no rival meets the held requests (measured: 31 lapsed leases in a
#: run whose quiet windows delayed four steps, 59 in 12 s of one delayed step)
OTHER_DELAYS = (0, 2)
#: a crash window crashes this many failpoints (each at its first hit)
CRASHES_PER_WINDOW = (1, 3)
#: a delay window lasts this long (seconds): long enough for a chain of held requests at a
#: step (one held past a lease, a successor held after it, a third request after that)
DELAY_WINDOW = (4.0, 8.0)
#: a window of the quiet stretch lasts at least this many of its delays and a second (its
#: delay is cut to fit): requests held one after another at its step, a later one from when
#: an earlier one's deadline passed (a lease lapses and a rival takes over; the first lets go
#: while the rival is held, and a third comes in), all inside the window. It ends at least
#: its delay before the stretch's exploration does: a request held as the window ends comes
#: back that much later, so the clients' link that closes the stretch (:func:`_closing_link`)
#: meets a flowing load, not buyers still held at one step (a window that ran to the link
#: left most buyers of a run inside a held confirm while the link failed: no create or
#: finalize crossed it; docs/measurements.md)
QUIET_HOLDS = 2
#: and at most this long (seconds), unless what the stretch would have left after it could
#: not hold a window of its own: then it runs to its delay before the end of the stretch's
#: exploration (a short last window cut its delay below the deadline, and the chains that
#: start late in a window need its seconds)
QUIET_MAX_S = 12.0
#: a quiet window's delay is this multiple of the strategy's shortest deadline d (its door's
#: ``deadlines``, or the buyers' timeout when shorter): past it, so the deadline passes while
#: a request is held and a rival or a recovery acts on what it holds. A rival can act only
#: between the deadline and the held request's return (D - d); a race among held requests
#: needs about three of them held (a holder past its lease, the rival that took over, a third
#: buyer after the holder let go), and a delay D fires on at most :data:`HOLD_BUDGET_S` / D of
#: the hits, so (D - d) / D**3 is how often such a chain forms: largest at D = 1.5 d. Longer
#: deadlines are left to the windows before the quiet stretch (measured on lock: a lease bug
#: was caught in 4 of 10 runs with the quiet delays drawn from every clock, 26 of 30 at
#: 1.1-1.7 leases, 15 of 20 at 1.6-2.2, both before the last-window rule and the buyers'
#: clock; docs/measurements.md)
QUIET_PAST = (1.1, 1.7)
#: a quiet window's chance per hit, the upper part of :data:`DELAY_CHANCE`: a race among held
#: requests at its one step needs about three held at once (the chance cubed); still cut to
#: :data:`HOLD_BUDGET_S` over the delay, so the load flows (a delay over 3.6 s fires on fewer)
QUIET_CHANCE = (0.7, 1.0)
#: a pause lasts a random multiple of the lock lease in this range (past the lease: from just
#: past it, when a successor may still be mid-step as the paused process resumes, to long
#: past it, when successors have finished)
PAUSE_LEASES = (1.2, 3.5)
#: a delay is a random multiple of a random clock (:func:`_delay_clocks`) in this range: around a
#: deadline, just short of it (the step ends in time, late) or just past it (the deadline passes
#: meanwhile: a lease lapses, a client gives up, a saga goes stale). Far past a deadline a held
#: request meets only the recovery of what it held, which the deadline's own machinery (take-over,
#: sweeper) already settles
DELAY_FRACTION = (0.8, 1.6)
#: each hit of a delayed step is delayed with a seeded probability in this range (BUGGIFY's
#: "now and then"): the delays spread over the window, so a request that comes to a step
#: after an earlier one was held there may be held too, instead of the first few hits taking
#: every firing at once. Most hits, rather than a few: a race among held requests needs
#: several held at once (a holder past its lease, its successor, a third buyer: all three
#: held is the chance cubed, 1 in 37 at a third of the hits, 1 in 3 at 0.7)
DELAY_CHANCE = (0.4, 1.0)
#: a delayed step holds each request that passes it at most this long on average (seconds):
#: a long delay's chance is cut to this over its length (a step that every request passes,
#: held 12 s at every third hit, stalls the load itself, and with it every rival; a step
#: delayed around the lock lease still fires on most hits). Cutting every step of a window to
#: one shared budget instead left the chances at 0.1-0.2 (no chain of held requests formed)
HOLD_BUDGET_S = 2.5
#: a delay arming fires at most this many times: a bound its window's chance never reaches (a
#: step is hit some tens of times a second), so a delayed step stays delayed to the end of its
#: window (with a small budget, the arming fell silent after its first seconds, before the
#: chains of held requests that need several leases to form: a holder past its lease, its
#: successor, a third buyer)
DELAY_COUNT = 1000
#: the longest pause or delay an exploration window draws (seconds)
EXPLORE_MAX_S = 20.0
#: the shortest exploration window (a cut-down delay or pause of at least half a second)
EXPLORE_MIN_S = 2.0
#: the next exploration window starts this long after the previous one ended (seconds)
EXPLORE_GAP = (0.3, 1.0)


def _draw_pause(inp: BuildInput) -> dict[str, object]:
    """A pause of one random process past the lock lease (now and then past the saga stale
    time, when the sweeper takes a live saga over)."""
    rng, c = inp.rng, inp.clocks
    seconds = c.lock_lease_s * rng.uniform(*PAUSE_LEASES)
    stale = c.saga_stale_s * rng.uniform(1.05, 1.3)
    if rng.random() < 0.2 and stale <= EXPLORE_MAX_S:
        seconds = stale
    return {"action": "pause", "seconds": round(min(seconds, EXPLORE_MAX_S), 3), "count": 1,
            "instance": rng.randrange(inp.target_processes), "chance": 1.0}


def _buyers(inp: BuildInput) -> tuple[float, ...]:
    """The buyers' timeout, when the run says it (a deadline of the workload's)."""
    return () if inp.client_timeout_s is None else (inp.client_timeout_s,)


def _delay_clocks(inp: BuildInput) -> tuple[float, ...]:
    """The clocks a delay is scaled to: the service's (lock lease, provider timeout, saga
    stale time, hold TTL) and the buyers' timeout."""
    c = inp.clocks
    return (c.lock_lease_s, c.provider_timeout_s, c.saga_stale_s, c.hold_ttl_s, *_buyers(inp))


def _draw_action(inp: BuildInput, action: str) -> dict[str, object]:
    """Params of a delay or a crash at one failpoint: a delay's length scaled to a random
    clock (:func:`_delay_clocks`), now and then (a seeded chance per hit); a crash at the
    first hit; in one random process or any."""
    rng = inp.rng
    chance = 1.0
    if action == "delay":
        clock = rng.choice(_delay_clocks(inp))
        seconds = min(clock, EXPLORE_MAX_S) * rng.uniform(*DELAY_FRACTION)
        count = DELAY_COUNT
        chance = round(rng.uniform(*DELAY_CHANCE), 3)
    else:
        seconds, count = 0.0, 1
    # a delay in one process (a slow machine) now and then; mostly in any, so that each
    # request that comes to the step may be held, whichever process serves it
    single = 0.25 if action == "delay" else 0.5
    instance = rng.randrange(inp.target_processes) if rng.random() < single else -1
    return {"action": action, "seconds": round(min(seconds, EXPLORE_MAX_S), 3), "count": count,
            "instance": instance, "chance": chance}


def _strategies(inp: BuildInput) -> tuple[str, ...]:
    """The strategies a run drives (every one when it names none)."""
    return (inp.strategy,) if inp.strategy else STRATEGIES


def _kinds(inp: BuildInput) -> dict[str, str]:
    """The strategy's failpoints, each with the action its step declares (its default)."""
    return {p: kind for s in _strategies(inp) for p, kind in exploration_failpoints(s).items()}



class _Plan:
    """What the exploration windows of one run arm, drawn from the seed without replacement
    (as ``mixed`` draws every family once), so a short run spreads its few windows over the
    steps instead of drawing some twice and others never:

    * the pauses take the strategy's failpoints in a shuffled order, every one before any
      twice, one per window;
    * a window is a delay window or a crash window (:data:`CRASH_WINDOW_SHARE`); the crashes
      take the failpoints the same way, a few per window; a delay window delays each step
      that declares a hold with :data:`DECLARED_SHARE` and a fresh draw of
      :data:`OTHER_DELAYS` others; a failpoint at most once per window.
    """

    def __init__(self, inp: BuildInput) -> None:
        self.inp = inp
        kinds = _kinds(inp)
        self.points = sorted(kinds)
        #: the steps that declare a hold (a delay that renews nothing) as what matters there
        self.holds = sorted(p for p, kind in kinds.items() if kind == "stall")
        #: the shortest deadline a held request of the strategy races (seconds): the
        #: service's (its door's ``deadlines``) or the buyers' own timeout
        self.shortest = min((*_buyers(inp), *(s for name in _strategies(inp)
                                              for s in deadlines(name, inp.clocks).values())))
        self._pauses: list[str] = []
        self._crashes: list[str] = []

    def pause_at(self) -> str:
        """The next window's pause failpoint (call :meth:`paused` once it is used)."""
        if not self._pauses:
            self._pauses.extend(self.inp.rng.sample(self.points, len(self.points)))
        return self._pauses[0]

    def paused(self) -> None:
        self._pauses.pop(0)

    def crashes(self, want: int, used: set[str]) -> list[str]:
        """The next ``want`` failpoints of the crash round that are not ``used`` (at least
        one: when all that is left of the round is used in this window, the next round
        starts, so a failpoint may come twice before a used one had its turn)."""
        queue, taken = self._crashes, list[str]()
        for _ in range(2):  # at most one more round per window
            if not queue:
                queue.extend(self.inp.rng.sample(self.points, len(self.points)))
            for point in list(queue):
                if len(taken) == want:
                    break
                if point not in used:
                    taken.append(point)
                    used.add(point)
                    queue.remove(point)
            if len(taken) == want or len(used) == len(self.points):
                break
            if not taken:  # what is left of the round is all used here: start the next one
                queue.extend(self.inp.rng.sample(self.points, len(self.points)))
        return taken

    def window(self) -> tuple[str, list[tuple[str, dict[str, object]]]]:
        """The next window's kind (``delay`` or ``crash``) and [(failpoint, params)]: first
        its pause, then its delays or crashes.

        One pause per window, of one process: a process stops at the first pause it
        reaches (so several would all land on the earliest step), and the other keeps
        serving (a minority paused, as Jepsen's nemeses do)."""
        rng = self.inp.rng
        at = self.pause_at()
        crash = rng.random() < CRASH_WINDOW_SHARE
        kind = "crash" if crash else "delay"
        want = (rng.randint(*CRASHES_PER_WINDOW) if kind == "crash"
                else rng.randint(*OTHER_DELAYS))
        arms = [(at, _draw_pause(self.inp))]
        if kind == "crash":
            points = self.crashes(want, {at})
        else:  # a fresh draw each window: a round of its own would tie each window's
            # steps to what the previous windows took (a window after one that delayed most
            # steps got only the rest); many short windows visit every step anyway
            rest = [p for p in self.points if p != at]
            held = self._held(skip=at)
            others = [p for p in rest if p not in held]
            want = max(want, 0 if held else 1)
            points = sorted(held + rng.sample(others, min(want, len(others))))
        arms += [(p, _draw_action(self.inp, kind)) for p in points]
        return kind, arms

    def _held(self, skip: str | None = None) -> list[str]:
        """The steps that declare a hold, each drawn with :data:`DECLARED_SHARE` (``skip``,
        this window's pause step, is not drawn)."""
        return [p for p in self.holds
                if p != skip and self.inp.rng.random() < DECLARED_SHARE]

    def quiet(self, armed: frozenset[str] = frozenset()) -> list[tuple[str, dict[str, object]]]:
        """A window of the quiet stretch: one step delayed, in any process (one fault at a
        time, as Jepsen's nemeses also leave single faults alone), just past the strategy's
        shortest deadline (:data:`QUIET_PAST`), on most hits (:data:`QUIET_CHANCE`): a step
        that declares a hold whenever the strategy has one, else any step; never one that a
        crash holds ``armed``."""
        rng = self.inp.rng
        held = [p for p in self.holds if p not in armed]
        point = rng.choice(held or [p for p in self.points if p not in armed])
        params = _draw_action(self.inp, "delay")
        params["seconds"] = round(self.shortest * rng.uniform(*QUIET_PAST), 3)  # its length
        params["chance"] = round(rng.uniform(*QUIET_CHANCE), 3)  # most hits (QUIET_CHANCE)
        return [(point, {**params, "instance": -1})]


def _exploration_entries(arms: list[tuple[str, dict[str, object]]], start: float,
                         length: float, label: str) -> list[ScheduledFault]:
    """One window's entries (a pause or delay longer than the window is cut to fit: the fault
    heals at the end of its window; a delay's chance is then cut to :data:`HOLD_BUDGET_S`)."""
    out = []
    for point, params in arms:
        seconds = round(min(float(str(params["seconds"])), max(0.5, length - 1.0)), 3)
        chance = float(str(params["chance"]))
        if params["action"] == "delay":  # a long delay fires less often (HOLD_BUDGET_S)
            chance = round(min(chance, HOLD_BUDGET_S / max(seconds, HOLD_BUDGET_S)), 3)
        out.append(ScheduledFault(start, length, "explore", point,
                                  {**params, "seconds": seconds, "chance": chance}, label))
    return sorted(out, key=lambda e: e.target)


def _explore(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """One exploration window of ``length``."""
    return _exploration_entries(_Plan(inp).window()[1], start, length, label)


def _near(crash: ScheduledFault, start: float, end: float) -> bool:
    """Whether ``crash`` is armed within a gap of ``[start, end]`` (a failpoint is never armed
    again within :data:`EXPLORE_GAP` ``[0]`` of its disarming: the two could race in the
    runner)."""
    return crash.start_s < end + EXPLORE_GAP[0] and start < crash.end_s + EXPLORE_GAP[0]


def _explore_lane(inp: BuildInput, lead: float | None = None, end: float | None = None,
                  busy: list[tuple[float, float]] | None = None,
                  quiet_from: float | None = None,
                  armed: list[ScheduledFault] | None = None) -> Schedule:
    """Back-to-back exploration windows, a new set of failpoints every few seconds, each
    window's pause at the next failpoint of its :class:`_Plan` (the ``explore`` schedule;
    a lane of ``mixed``). A window that would overlap a ``busy`` interval pauses nothing (its
    pause goes to the next window); its delays and crashes stay. A window that would reach
    past ``quiet_from`` (when the other lanes are done) even at its shortest delays one step
    and pauses nothing (:meth:`_Plan.quiet`): a race among held requests needs rivals that
    reach every store and a running process, a crash shows without them; it ends its delay
    before ``end`` (what it holds is back by then), and an earlier window is cut to end at
    ``quiet_from``. Nor does a window pause at a step
    that another lane's crash holds ``armed`` meanwhile (one arming per failpoint)."""
    if lead is None or end is None:
        lead, end = window(inp.duration_s)
        if end - _ms_up(lead) < EXPLORE_MIN_S:
            raise ScheduleError(
                f"schedule 'explore' needs a load of at least {math.ceil(EXPLORE_MIN_S / 0.6)}s "
                f"(one {EXPLORE_MIN_S:g}s exploration inside the fault window); "
                f"got --duration {inp.duration_s:g}s")
    out: Schedule = []
    t = _ms_up(lead)
    plan = _Plan(inp)
    for _ in range(1000):  # bounded: t grows by >= 0.3 s per round
        room = end - t
        if room < EXPLORE_MIN_S:
            break
        # a window that reaches the quiet stretch (even at its shortest) is a quiet one
        late = quiet_from is not None and t + DELAY_WINDOW[0] > quiet_from
        if late:  # the quiet stretch: the processes run whole
            near = [c for c in armed or () if _near(c, t, end)]
            if not set(plan.points) - {c.target for c in near}:  # a crash window holds every
                t = _ms_up(min(c.end_s for c in near) + EXPLORE_GAP[0] + 0.001)  # step:
                continue  # from a gap after the first of them ends (then it is not near)
            point, params = plan.quiet(frozenset(c.target for c in near))[0]
            # its held requests are back by the lane's end (QUIET_HOLDS: a window ends its
            # delay's length before the lane does)
            seconds = max(0.5, min(float(str(params["seconds"])),
                                   (room - 1.0) / (QUIET_HOLDS + 1)))
            span = room - seconds
            length = min(max(inp.rng.uniform(*DELAY_WINDOW), QUIET_HOLDS * seconds + 1.0),
                         QUIET_MAX_S, span)
            if span - length - EXPLORE_GAP[1] < max(EXPLORE_MIN_S,
                                                    (QUIET_HOLDS + 1) * seconds + 1.0):
                length = span  # the rest could not hold a window of its own: take it
            seconds = max(0.5, min(seconds, (length - 1.0) / QUIET_HOLDS))
            arms = [(point, {**params, "seconds": round(seconds, 3)})]
            out.extend(_exploration_entries(arms, t, _ms_down(length), "explore"))
            if length >= span:
                break  # the last: what it holds comes back by the lane's end
            t = _ms_up(t + length + inp.rng.uniform(*EXPLORE_GAP))
            continue
        kind, arms = plan.window()
        if quiet_from is not None:  # an earlier window is cut to end at quiet_from (one
            room = min(room, quiet_from - t)  # that ran on held the stretch's first seconds)
        # the window fits its pause whole (a pause cut to just past the lease leaves a rival
        # no time to act on the lapsed lease), or cut to the room left if that is still past
        # the shortest pause; delays are cut to fit
        pause = float(str(arms[0][1]["seconds"])) + 1.0
        fits = pause <= room or room - 1.0 > PAUSE_LEASES[0] * inp.clocks.lock_lease_s
        length = inp.rng.uniform(*(DELAY_WINDOW if kind == "delay" else MIXED_LENGTH))
        until = t + max(pause, length)
        if not fits or any(a < until and t < b for a, b in busy or ()) or any(
                c.target == arms[0][0] and _near(c, t, until) for c in armed or ()):
            arms = arms[1:]  # no room, another lane stops or kills a process, or crashes at
            # this step: no pause
        else:
            length = min(max(pause, length), room)
            plan.paused()  # taken: the next window pauses at the next step
        length = min(length, room)  # the lane explores to the end of its window
        out.extend(_exploration_entries(arms, t, _ms_down(length), "explore"))
        t = _ms_up(t + length + inp.rng.uniform(*EXPLORE_GAP))
    return out


def _explore_length(inp: BuildInput) -> tuple[float, float]:
    """A pause past four leases fits, with a second to spare."""
    need = round(PAUSE_LEASES[1] * inp.clocks.lock_lease_s + 1.0, 3)
    return need, need


# --- the table ------------------------------------------------------------------------------
_SPECS = (
    ScheduleSpec("none", "no faults: the baseline"),
    ScheduleSpec("redis-partition", "Redis unreachable from the service (proxy disabled)",
                 _one("partition", "redis")),
    ScheduleSpec("redis-latency", "Redis answers 200-700 ms late (+/- 50% jitter)",
                 _latency(("redis",), (200, 400, 700)), preferred_s=12),
    ScheduleSpec("payments-partition", "payment provider unreachable (proxy disabled)",
                 _one("partition", "payments_api")),
    ScheduleSpec("payments-latency", "provider answers 1-3.5 s late, around the client timeout",
                 _latency(("payments_api",), (1000, 2500, 3500)), preferred_s=12),
    ScheduleSpec("payments-blackhole", "the provider acts but its answers never arrive",
                 _one("half-open", "payments_api", stream="downstream")),
    ScheduleSpec("target-blackhole",
                 "the service acts but the client never hears (retry with Idempotency-Key);"
                 " each connection held, or closed once silent a while",
                 _client_blackhole),
    ScheduleSpec("pg-latency", "both databases answer 100-400 ms late (+/- 50% jitter)",
                 _latency(("seats_pg", "payments_pg"), (100, 250, 400)), preferred_s=12),
    ScheduleSpec("pg-reset", "database connections reset by peer, at once or mid-use",
                 _pg_reset, preferred_s=5),
    ScheduleSpec("service-pause", "SIGSTOP a service process (a lock holder when one holds"
                 " locks) for 3 leases + 1 s, then SIGCONT",
                 _pause_holder, span=_pause_length),
    ScheduleSpec("service-kill", "SIGKILL a service process; supervisord restarts it",
                 _process("kill"), preferred_s=3, min_s=1),
    ScheduleSpec("coordinator-crash",
                 "the service dies at a failpoint: between 2PC prepare and commit first",
                 _crash, preferred_s=8),
    ScheduleSpec("explore", "every few seconds, one random failpoint of the strategy pauses"
                 " a service process past the lock lease while a few others delay requests now"
                 " and then or crash a process (BUGGIFY; knows no bug)",
                 _explore, span=_explore_length),
    ScheduleSpec("mixed", "dense and composed, after a shorter lead: network faults on the"
                 " links overlap process"
                 " faults and a lane of exploration on the service, every family of the"
                 " strategy, the links again and again; ends with exploration alone, then (when"
                 " there is room) the clients' link alone"),
    ScheduleSpec("lock-takeover-relay",
                 "white-box adversary (lock only): freezes and continues lock holders, their"
                 " successors and third buyers in the order that shows a lost lock",
                 _relay, span=_relay_length, white_box=True, strategies=frozenset({"lock"})),
)

#: schedule name -> spec, in docs/contract.md section 5.1 order
SCHEDULES: dict[str, ScheduleSpec] = {spec.name: spec for spec in _SPECS}

#: fault family -> its schedules, per lane of ``mixed`` (a lane's episodes never overlap; the
#: lanes do). ``service-pause`` in mixed is the plain pause of :func:`_generic_pause`.
NETWORK_FAMILIES: dict[str, tuple[str, ...]] = {
    "redis": ("redis-partition", "redis-latency"),
    "payments": ("payments-partition", "payments-latency", "payments-blackhole"),
    "client": ("target-blackhole",),
    "database": ("pg-latency", "pg-reset"),
}
PROCESS_FAMILIES: dict[str, tuple[str, ...]] = {
    "pause": ("service-pause",),
    "kill": ("service-kill",),
    "crash": ("coordinator-crash",),
}
#: the third lane: failpoint exploration (its own lane, so it overlaps the process faults)
EXPLORE_FAMILIES: dict[str, tuple[str, ...]] = {"explore": ("explore",)}
_LANES = (NETWORK_FAMILIES, PROCESS_FAMILIES, EXPLORE_FAMILIES)
#: the families that cannot matter to a strategy (it never uses that link)
NOT_FOR: dict[str, frozenset[str]] = {
    "saga": frozenset({"redis"}),
    "2pc": frozenset({"redis", "payments"}),
}
#: what ``mixed`` draws from
MIXABLE: tuple[str, ...] = tuple(
    n for fams in _LANES for names in fams.values() for n in names)
#: a window of the mixed lanes lasts this long (seconds; a pause at least its own shortest)
MIXED_LENGTH = (3.0, 6.0)
#: a kill window of mixed lasts this long (the kill is instant; the window covers the restart)
KILL_LENGTH = (1.5, 3.0)
#: a crash window of mixed lasts this long: the crash fires at the first request that reaches
#: its step, and a network fault of the other lane (a reset database, a blackholed provider or
#: clients' link) can keep every request from that step for its whole window (measured: armed
#: 3-6 s, 4 of 30 crashes never fired, each beside such a fault). So the crash comes last in
#: the process lane, and the network lane's later rounds end before it begins: the crashes
#: meet no network fault of those rounds (measured: with the later rounds ending 3 s before
#: the window did, a 2pc window's other crash steps fired 1 to 5 of 6 times, the load stopped
#: by a reset database or the clients' link meanwhile; docs/measurements.md)
CRASH_LENGTH = (5.0, 8.0)
#: while its first crash (at the strategy's commit point, the door's first crash gap) is
#: armed, the crash window of mixed also arms every other step of the strategy that
#: declares a crash, one after another in a seeded order, this long apart (seconds), each
#: from its moment to the window's end, to die at its first hit. A crash leaves a purchase
#: half done at its step (and every request of its process at whatever step it was), and
#: whatever repairs it (a buyer's retry, the sweepers, 2PC recovery) runs from there: a run
#: that crashes at one or two steps tests the repair of one or two (measured: bugs of the
#: sweepers that need a crash at one step caught in 1 of 5 runs; docs/measurements.md).
#: One after another, not all at once: a request dies at the first armed step on its path,
#: so steps armed together fire in path order, every process dying at the first steps
#: again as it comes back, and the later steps of a purchase are never reached (measured:
#: 4 of 9 fired in a 3.5 s window, all on the confirm path); this far apart, a process is
#: mostly back (in about a second) before the next dies
CRASH_STAGGER_S = (0.6, 0.9)
#: the first of them is armed this long after the window opens (the commit point's crash
#: has the window to itself meanwhile), and the last at least this long before it ends
CRASH_STAGGER_LEAD_S = 1.5
CRASH_STAGGER_TAIL_S = 2.0
#: and the next window of the process lane starts this long after the previous one ended
MIXED_GAP = (0.5, 2.5)
#: the next network window starts this long after the previous one ended (negative: before,
#: so two links fail at once now and then; each family is one link, drawn once)
NETWORK_GAP = (-1.5, 1.0)
#: the first window of a lane starts at most this long after the fault window opens
FIRST_OFFSET_S = 2.5


def families_for(strategy: str | None) -> tuple[str, ...]:
    """The fault families of ``mixed`` that apply to ``strategy`` (None: all)."""
    skip = NOT_FOR.get(strategy or "", frozenset())
    return tuple(f for fams in _LANES for f in fams if f not in skip)


def family_of(label: str) -> str:
    """The family of a schedule label drawn by ``mixed``."""
    for fams in _LANES:
        for family, names in fams.items():
            if label in names:
                return family
    raise KeyError(label)


def applies(name: str, strategy: str) -> bool:
    """Whether schedule ``name`` can break ``strategy`` (a lock-only adversary cannot break a
    saga: the matrix leaves such cells out, and ``build`` refuses them)."""
    spec = SCHEDULES[name]
    return spec.strategies is None or strategy in spec.strategies


# --- building -------------------------------------------------------------------------------
def _episode(spec: ScheduleSpec) -> Episode:
    if spec.episode is None:
        raise ValueError(f"schedule {spec.name!r} has no episodes")  # none/mixed: never here
    return spec.episode


def _gap(preferred: float) -> float:
    return max(2.0, preferred / 2)


def _repeat(spec: ScheduleSpec, inp: BuildInput, *, max_episodes: int = 3) -> Schedule:
    """Episodes of ``spec`` spread evenly over the window."""
    episode = _episode(spec)
    lead, end = window(inp.duration_s)
    shortest, preferred = spec.length(inp)
    room = end - lead
    if room < shortest:
        raise ScheduleError(
            f"schedule {spec.name!r} needs a load of at least "
            f"{shortest / 0.6 + 0.1:.0f}s (one {shortest:g}s episode inside the fault window); "
            f"got --duration {inp.duration_s:g}s"
        )
    gap = _gap(preferred)
    count = max(1, min(max_episodes, int((room + gap) // (preferred + gap))))
    slot = room / count
    length = max(shortest, min(preferred, slot - gap)) if count > 1 else min(preferred, room)
    out: Schedule = []
    for i in range(count):
        start = _ms_up(lead + i * slot)
        out.extend(episode(inp, start, _ms_down(min(length, end - start)), spec.name, i))
    return out


def _mixed_shortest(inp: BuildInput, name: str) -> float:
    """The shortest useful window of ``name`` in mixed (its plain pause: 3 leases + 1 s)."""
    if name == "service-pause":
        return round(3 * inp.lock_lease_s + 1.0, 3)
    return SCHEDULES[name].length(inp)[0]


def _mixed_episode(name: str) -> Episode:
    return _generic_pause if name == "service-pause" else _episode(SCHEDULES[name])


def _window_length(inp: BuildInput, name: str) -> float:
    """A window of ``name`` in a lane of mixed (a crash window: its first crash)."""
    drawn = inp.rng.uniform(*{"service-kill": KILL_LENGTH,
                              "coordinator-crash": CRASH_LENGTH}.get(name, MIXED_LENGTH))
    return max(_mixed_shortest(inp, name), drawn)


def _stagger(inp: BuildInput, at: str) -> list[tuple[float, str]]:
    """The other crash steps of a crash window at ``at``: (offset from the window's start,
    failpoint), in a seeded order, :data:`CRASH_STAGGER_S` apart."""
    steps = sorted(p for p, kind in _kinds(inp).items() if kind == "crash" and p != at)
    out, offset = [], CRASH_STAGGER_LEAD_S
    for point in inp.rng.sample(steps, len(steps)):
        out.append((offset, point))
        offset += inp.rng.uniform(*CRASH_STAGGER_S)
    return out


def _crash_window(inp: BuildInput, start: float, length: float, label: str, cycle: int,
                  stagger: list[tuple[float, str]]) -> list[ScheduledFault]:
    """Mixed's crash window of ``length``: the crash at the strategy's crash gap of this
    ``cycle`` (:func:`_crash`) armed throughout, and the ``stagger`` of the other crash steps
    (those armed at least :data:`CRASH_STAGGER_TAIL_S` before the end: a short window arms
    fewer)."""
    out = _crash(inp, start, length, label, cycle)
    for offset, point in stagger:
        at = _ms_up(start + offset)
        if start + length - at < CRASH_STAGGER_TAIL_S - 0.002:  # (milliseconds rounded)
            break
        out.append(ScheduledFault(at, _ms_down(start + length - at), "crash", point,
                                  {"count": 1}, label))
    return out


def _lane(inp: BuildInput, families: dict[str, tuple[str, ...]], lead: float,
          end: float, gap: tuple[float, float], cycle: int = 0,
          until: float | None = None) -> Schedule:
    """Back-to-back windows of this lane's families, each applicable family once (seeded
    order; one that no longer fits is left out), a few seconds apart; ``cycle`` is the
    episode index (the crash of the n-th cycle aims at the n-th crash point).

    With ``until``, the lane goes on after that first round with more rounds (each a fresh
    seeded order, never the previous window's family next) while a window still ends by
    ``until``: the network lane keeps its links failing until the process lane's crash
    window, so a family's effect (e.g. a client that never hears its answer) is not left to
    one window per cycle."""
    skip = NOT_FOR.get(inp.strategy or "", frozenset())
    mine = [f for f in families if f not in skip]
    out: Schedule = []
    t = _ms_up(lead + inp.rng.uniform(0.0, FIRST_OFFSET_S))
    last = None
    while True:  # bounded: a round places a window (t grows by >= 1.5 s) or is the last
        placed = False
        order = inp.rng.sample(mine, len(mine))
        order.sort(key=lambda f: f == "crash")  # the crash last (CRASH_LENGTH); stable
        for family in order:
            if family == last:
                continue  # never the same link twice in a row (they could overlap)
            name = inp.rng.choice(families[family])
            length = _window_length(inp, name)
            stagger = _stagger(inp, _crash_gap(inp, cycle)) if family == "crash" else []
            if stagger:  # the window lasts until the last of them had its tail
                length = max(length, stagger[-1][0] + CRASH_STAGGER_TAIL_S)
            if family == "crash" and t + length > end:  # a short run: armed what is left
                length = max(end - t, max(MIXED_LENGTH[0], _mixed_shortest(inp, name)))
            if t + length > end:
                continue  # this family does not fit any more; the next one may
            if family == "crash":
                out.extend(_crash_window(inp, t, _ms_down(length), name, cycle, stagger))
            else:
                out.extend(_mixed_episode(name)(inp, t, _ms_down(length), name, cycle))
            last, placed = family, True
            t = _ms_up(t + length + inp.rng.uniform(*gap))
        if until is None or not placed or len(mine) < 2:
            break
        end = min(end, until)  # the later rounds end with the other lane
    return out


#: a longer fault window repeats the cycle (the lanes, then a quiet stretch as long)
#: while at least this much of it is left (seconds; a soak is many cycles, a 60 s run one)
CYCLE_MIN_S = 30.0
#: process faults that stop or kill a whole service process
STOPPING = frozenset({"pause", "kill"})
#: and this much time on either side of them: a window's stop heals for a while after its end
#: (an exploration's stop continues every stopped process, even one a plain pause just stopped)
HEAL_MARGIN_S = 2.0


#: each cycle's quiet stretch ends with a window of this schedule alone, on the clients' link:
#: the one link every request of every strategy crosses, where an answer lost after its
#: request acted is retried with the same Idempotency-Key. Such a loss needs a flowing load,
#: and in the composed part the other faults often stop it (a paused process, a blackholed
#: provider, reset databases hold every buyer, so a window there may meet no request)
QUIET_LINK = "target-blackhole"
#: that window lasts this long (seconds) and closes each connection once silent a while
#: whenever the buyers' timeout is known: a buyer then loses an answer every second or so
#: (:data:`CLOSE_AFTER`), where a held connection loses only the first one it carries
QUIET_LINK_S = (3.0, 4.0)
#: and comes only when the quiet stretch keeps at least this long for exploration (seconds)
QUIET_EXPLORE_MIN_S = 8.0


def _closing_link(inp: BuildInput, quiet: float, until: float) -> Schedule:
    """The window of :data:`QUIET_LINK` that ends a quiet stretch ``[quiet, until]`` (none when
    the stretch is too short to keep :data:`QUIET_EXPLORE_MIN_S` of exploration before it)."""
    length = inp.rng.uniform(*QUIET_LINK_S)
    start = _ms_up(until - length)
    if start - EXPLORE_GAP[1] - quiet < QUIET_EXPLORE_MIN_S:
        return []
    return _cut_clients(inp, start, _ms_down(until - start), QUIET_LINK, close=True)


def _mixed(inp: BuildInput) -> Schedule:
    """Three overlapping lanes: network faults on the links, process faults on the service,
    and failpoint exploration (several failpoints armed per window, every few seconds).

    In a cycle, the process lane runs each family of the strategy once, the network lane
    each once and then more rounds until the process lane ends (:func:`_lane`), densely;
    exploration runs on after them for as long again, a *quiet stretch* of exploration
    alone, one delayed step at a time (a delayed step races rivals only when they can reach
    Redis, the provider and a running process; composed windows alone rarely let them, so
    Jepsen's combined nemesis also leaves single faults), and then, when the stretch has room,
    the clients' link fails alone for a few seconds (:func:`_closing_link`). Cycles follow
    each other while :data:`CYCLE_MIN_S` of the fault window is left; the last quiet stretch
    runs to its end (a 60 s run is one cycle; a soak many).

    At most one service process is stopped or killed at a time (as Jepsen's nemeses keep a
    majority up): a paused process whose peer is paused too, or that is killed while paused,
    meets no rival and writes nothing late, so the overlap would only hide what each shows.
    So the process lane runs each of its families once, and an exploration window that
    overlaps one of its pauses or kills pauses nothing."""
    lead, end = window_of("mixed", inp.duration_s)
    out: Schedule = []
    start = lead
    for cycle in range(10_000):  # bounded: each cycle ends seconds after it starts
        process = _lane(inp, PROCESS_FAMILIES, start, end, MIXED_GAP, cycle)
        process_end = max((e.end_s for e in process), default=start)
        until = min((e.start_s for e in process if e.fault == "crash"), default=process_end)
        faults = _lane(inp, NETWORK_FAMILIES, start, end, NETWORK_GAP, cycle,
                       until=until) + process
        busy = [(e.start_s - HEAL_MARGIN_S, e.end_s + HEAL_MARGIN_S)
                for e in process if e.fault in STOPPING]
        quiet = max((e.end_s for e in faults), default=start)
        # the quiet stretch lasts as long as the composed part; the last cycle's runs to the
        # end of the fault window (a 60 s run is one cycle)
        stop = _ms_up(quiet + (quiet - start))
        if end - stop < CYCLE_MIN_S:
            stop = end
        # one arming per failpoint at a time: an exploration never re-arms a failpoint that a
        # crash window holds armed (its stop would disarm the crash's arming, and vice versa)
        crashes = [e for e in faults if e.fault == "crash"]
        # a cycle's quiet stretch ends a gap before the next cycle's first window (the same
        # failpoint disarmed and armed again at one instant could race in the runner)
        until = stop if stop >= end else _ms_down(stop - EXPLORE_GAP[0])
        link = _closing_link(inp, quiet, until)
        explore_end = _ms_down(link[0].start_s - inp.rng.uniform(*EXPLORE_GAP)) if link \
            else until
        explored = _explore_lane(inp, _ms_up(start + inp.rng.uniform(0.0, FIRST_OFFSET_S)),
                                 explore_end, busy, quiet_from=quiet, armed=crashes)
        # (nor arms it within a gap of one: a disarm and an arming at one instant could race)
        explored = [e for e in explored
                    if not any(c.target == e.target and _near(c, e.start_s, e.end_s)
                               for c in crashes)]
        out.extend(faults + explored + link)
        if stop >= end:
            break
        start = stop
    return sorted(out, key=lambda e: (e.start_s, e.target))


def build(
    name: str,
    *,
    seed: int,
    duration_s: float,
    strategy: str | None,
    lock_lease_s: float | None = None,
    target_processes: int = 2,
    service_env: Mapping[str, str] | None = None,
    client_timeout_s: float | None = None,
) -> Schedule:
    """The schedule ``name`` for a load of ``duration_s`` seconds (see the module's guarantees).

    ``strategy`` (``lock``/``saga``/``2pc``, or None/``all``) aims strategy-specific faults;
    ``lock_lease_s`` is the service's lock lease (default: the service's default lease);
    ``target_processes`` how many target-service processes the process faults choose from;
    ``service_env`` the service's tuning variables (its clocks, read through its door);
    ``client_timeout_s`` the buyers' timeout (a deadline too: some delays pass it).
    """
    spec = SCHEDULES.get(name)
    if spec is None:
        raise UnknownFault(f"unknown fault schedule {name!r}; valid: {', '.join(SCHEDULES)}")
    if duration_s <= 0:
        raise ScheduleError(f"schedule {name!r}: the duration must be positive, not {duration_s}")
    if client_timeout_s is not None and not client_timeout_s > 0:
        raise ScheduleError(f"schedule {name!r}: the client timeout must be positive, "
                            f"not {client_timeout_s}")
    if spec.strategies is not None and (strategy in (None, "all")
                                        or strategy not in spec.strategies):
        raise ScheduleError(f"schedule {name!r} applies only to --strategy "
                            f"{' or '.join(sorted(spec.strategies))}, not {strategy or 'all'}")
    clk = clocks(service_env)
    if lock_lease_s is not None:
        clk = dataclasses.replace(clk, lock_lease_s=lock_lease_s)
    inp = BuildInput(
        duration_s=float(duration_s),
        strategy=None if strategy in (None, "all") else strategy,
        lock_lease_s=clk.lock_lease_s,
        target_processes=max(1, target_processes),
        rng=random.Random(f"{name}:{seed}"),
        clocks=clk,
        client_timeout_s=client_timeout_s,
    )
    if name == "none":
        return []
    if name == "mixed":
        return _mixed(inp)
    if name == "explore":  # dense: a new failpoint every few seconds
        return _explore_lane(inp)
    return _repeat(spec, inp)
