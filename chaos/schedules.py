"""The named fault schedules of docs/contract.md section 5.1, scaled to a run's duration.

``build(name, seed=, duration_s=, strategy=)`` returns a :data:`Schedule`. Guarantees:

* every fault lies inside the load window ``[lead, duration - tail]``: the first seconds run
  without faults (a baseline), and the last quarter (at most 15 s) is left for recovery under load;
* the same (name, seed, duration, strategy, lease) always gives the same schedule; all randomness
  (``mixed``'s sequence, magnitudes, which process) comes from the seed;
* a duration too short for a schedule's purpose (e.g. a pause longer than the lock lease) is a
  :class:`ScheduleError` (exit 2), never a silently weaker schedule.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from chaos.errors import ScheduleError, UnknownFault
from chaos.schedule_types import Schedule, ScheduledFault
from target_service.introspection import clocks

__all__ = ["SCHEDULES", "Schedule", "ScheduleSpec", "ScheduledFault", "build", "window"]


@dataclass(frozen=True, slots=True)
class BuildInput:
    """What a schedule is built from."""

    duration_s: float
    strategy: str | None
    lock_lease_s: float
    target_processes: int
    rng: random.Random


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


def _process(fault: str) -> Episode:
    def episode(
        inp: BuildInput, start: float, length: float, label: str, i: int
    ) -> list[ScheduledFault]:
        target = f"target-{inp.rng.randrange(inp.target_processes)}"
        return [ScheduledFault(start, length, fault, target, {}, label)]
    return episode


#: Failpoints coordinator-crash cycles through, per strategy (the first is the headline case).
CRASH_POINTS: dict[str | None, tuple[str, ...]] = {
    "2pc": ("2pc-after-prepare", "2pc-after-decision", "2pc-after-first-commit"),
    "saga": ("finalize-after-capture", "saga-after-authorize", "saga-after-reserve"),
    "lock": ("lock-after-authorize", "finalize-after-capture"),
    None: ("2pc-after-prepare", "finalize-after-capture"),
}


def _pause_holder(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """Pause a service process, the one holding seat locks when one does."""
    return [ScheduledFault(start, length, "pause", "target", {}, label)]


def _relay(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    """The lock take-over relay (chaos/faults/relay.py); nothing for the other strategies."""
    if inp.strategy != "lock":
        return []
    return [ScheduledFault(start, length, "lock-takeover-relay", "target", {}, label)]


def _crash(
    inp: BuildInput, start: float, length: float, label: str, i: int
) -> list[ScheduledFault]:
    points = CRASH_POINTS.get(inp.strategy, CRASH_POINTS[None])
    return [ScheduledFault(start, length, "crash", points[i % len(points)], {"count": 1}, label)]


def _pause_length(inp: BuildInput) -> tuple[float, float]:
    """Three leases and a second: the paused holder's leases surely expire and are taken over."""
    need = round(3 * inp.lock_lease_s + 1.0, 3)
    return need, need


def _relay_length(inp: BuildInput) -> tuple[float, float]:
    """A holder's leases run out (three leases and a second), then at least three leases more
    for its successor and a third buyer, preferably nine and a second in all: a round that
    shows nothing is followed by another."""
    return (round(6 * inp.lock_lease_s + 1.0, 3), round(9 * inp.lock_lease_s + 1.0, 3))


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
                 "the service acts but the client never hears (retry with Idempotency-Key)",
                 _one("half-open", "target_api", stream="downstream")),
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
    ScheduleSpec("mixed", "a seeded random sequence of the schedules above"),
    ScheduleSpec("lock-takeover-relay",
                 "white-box adversary (lock only): freezes and continues lock holders, their"
                 " successors and third buyers in the order that shows a lost lock",
                 _relay, span=_relay_length, white_box=True),
)

#: schedule name -> spec, in docs/contract.md section 5.1 order
SCHEDULES: dict[str, ScheduleSpec] = {spec.name: spec for spec in _SPECS}

#: what ``mixed`` draws from
MIXABLE: tuple[str, ...] = tuple(n for n, spec in SCHEDULES.items()
                                 if n not in ("none", "mixed") and not spec.white_box)


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


def _mixed(inp: BuildInput) -> Schedule:
    """Non-overlapping episodes of randomly drawn schedules, separated by random gaps."""
    lead, end = window(inp.duration_s)
    out: Schedule = []
    t = lead
    index: dict[str, int] = {}
    for _ in range(1000):  # bounded: t grows by >= 1 s per round
        fitting = [n for n in MIXABLE if SCHEDULES[n].length(inp)[0] <= end - t]
        if not fitting:
            break
        name = inp.rng.choice(fitting)
        spec = SCHEDULES[name]
        shortest, preferred = spec.length(inp)
        length = inp.rng.uniform(max(shortest, preferred / 2), preferred)
        length = max(shortest, min(length, end - t))
        i = index.get(name, 0)
        index[name] = i + 1
        start = _ms_up(t)
        length = _ms_down(min(length, end - start))
        if length < shortest:
            break
        out.extend(_episode(spec)(inp, start, length, name, i))
        t = start + length + inp.rng.uniform(1.0, 4.0)
    return out


def build(
    name: str,
    *,
    seed: int,
    duration_s: float,
    strategy: str | None,
    lock_lease_s: float | None = None,
    target_processes: int = 2,
) -> Schedule:
    """The schedule ``name`` for a load of ``duration_s`` seconds (see the module's guarantees).

    ``strategy`` (``lock``/``saga``/``2pc``, or None/``all``) aims strategy-specific faults;
    ``lock_lease_s`` is the service's lock lease (default: the service's default lease);
    ``target_processes`` how many target-service processes the process faults choose from.
    """
    spec = SCHEDULES.get(name)
    if spec is None:
        raise UnknownFault(f"unknown fault schedule {name!r}; valid: {', '.join(SCHEDULES)}")
    if duration_s <= 0:
        raise ScheduleError(f"schedule {name!r}: the duration must be positive, not {duration_s}")
    inp = BuildInput(
        duration_s=float(duration_s),
        strategy=None if strategy in (None, "all") else strategy,
        lock_lease_s=lock_lease_s if lock_lease_s is not None else clocks().lock_lease_s,
        target_processes=max(1, target_processes),
        rng=random.Random(f"{name}:{seed}"),
    )
    if name == "none":
        return []
    if name == "mixed":
        return _mixed(inp)
    return _repeat(spec, inp)
