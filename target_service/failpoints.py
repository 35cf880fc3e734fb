"""Named failpoints: inert unless armed, then crash (``os._exit(137)``), stall or stop at a step.

A stall or delay holds the request at its step, and with it whatever the request started in
a :func:`stall_scope` (its lock lease renewal): a held lock holder's lease runs out as a
stopped one's would, while the process serves everyone else.

Armed two ways: ``HARNESS_FAILPOINTS`` (this process, every hit) or ``POST /admin/failpoints``,
which writes the shared ``failpoints`` table that every process polls; a table entry may carry a
``remaining`` count, decremented atomically in Postgres on each hit, so "fire once" means once
across all processes. A table entry may also choose its action when armed (:class:`Arm`):
``crash``, ``delay`` (sleep ``seconds``: the event loop keeps running) or ``pause`` (SIGSTOP
this process; the chaos layer continues it), and the one ``instance`` that fires it; without
an action a failpoint does its default (:func:`default_action`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: name -> what happens when it fires
FAILPOINTS: dict[str, str] = {
    "2pc-after-prepare": "crash after both participants prepared, before the decision is logged",
    "2pc-after-decision": "crash after the COMMIT decision is logged, before COMMIT PREPARED",
    "2pc-after-first-commit": "crash after the seats participant committed, before payments",
    "saga-after-reserve": "crash after the seats are held, before the payment is authorized",
    "saga-after-authorize": "crash after the payment is authorized, before the order is marked",
    "finalize-after-capture": "crash after the capture, before the order is marked SOLD",
    "lock-after-authorize": "crash holding the seat locks after the payment is authorized",
    "idempotency-after-effect": "crash after the effect committed, before the response is stored",
    "lock-stall-before-write": "stall (no lease renewal) 3 leases long before the fenced write",
    "lock-pause-before-write": "SIGSTOP this process before the fenced write (a real pause; the"
    " chaos layer's pause fault continues it)",
    "provider-after-authorize": "(provider) crash after the authorization is committed",
    "lock-after-acquire": "crash holding the seat locks, before the claim and the seat check",
    "lock-before-release": "crash after the seat write, before the locks are released",
    "confirm-before-compensate": "crash after a failed authorize, before the compensation",
    "void-before-call": "crash before the void (or refund) of a compensation is sent",
    "finalize-before-capture": "crash after the finalize is recorded, before the capture",
    "expiry-after-close": "crash after an expired hold is closed, before its void",
    "sweeper-after-takeover": "crash after the sweeper took a stale saga over, before re-driving",
    "2pc-after-commit": "crash after both participants committed, before completion is logged",
    "idempotency-before-effect": "crash after the Idempotency-Key is claimed, before the effect",
}

_ALL = frozenset({"lock", "saga", "2pc"})
_SAGAS = frozenset({"lock", "saga"})
#: failpoint -> the strategies whose requests or recovery pass it (exploration picks from these)
FAILPOINT_STRATEGIES: dict[str, frozenset[str]] = {
    "2pc-after-prepare": frozenset({"2pc"}),
    "2pc-after-decision": frozenset({"2pc"}),
    "2pc-after-first-commit": frozenset({"2pc"}),
    "2pc-after-commit": frozenset({"2pc"}),
    "saga-after-reserve": frozenset({"saga"}),
    "saga-after-authorize": frozenset({"saga"}),
    "finalize-after-capture": _SAGAS,
    "finalize-before-capture": _SAGAS,
    "lock-after-authorize": frozenset({"lock"}),
    "lock-after-acquire": frozenset({"lock"}),
    "lock-before-release": frozenset({"lock"}),
    "lock-stall-before-write": frozenset({"lock"}),
    "lock-pause-before-write": frozenset({"lock"}),
    "confirm-before-compensate": _SAGAS,
    "void-before-call": _SAGAS,
    "expiry-after-close": _ALL,
    "sweeper-after-takeover": _SAGAS,
    "idempotency-after-effect": _ALL,
    "idempotency-before-effect": _ALL,
    "provider-after-authorize": _SAGAS,
}

#: strategy -> the steps of its purchase where a crash leaves it between two stores (one
#: written, the next not yet), each a gap its recovery must close: the service's own marking
#: of where a coordinator's death matters (as a BUGGIFY site is placed by the code's author).
#: The first is the strategy's commit point: 2PC's decision, the capture that cannot be
#: undone before SOLD is recorded, the authorization taken while the lock holder still owns
#: the seats.
CRASH_GAPS: dict[str, tuple[str, ...]] = {
    "2pc": ("2pc-after-prepare", "2pc-after-decision", "2pc-after-first-commit"),
    "saga": ("finalize-after-capture", "saga-after-authorize", "saga-after-reserve"),
    "lock": ("lock-after-authorize", "finalize-after-capture"),
}

STALLS = frozenset({"lock-stall-before-write"})
#: Failpoints at which the process stops itself: the event loop freezes for real (no timers, no
#: lease renewal) until a SIGCONT, exactly as if it had been paused from outside at that step.
SELF_STOPS = frozenset({"lock-pause-before-write"})
#: A shared self-stop (any shared arming whose action is ``pause``) stops the process only on a
#: firing just taken in Postgres, and only if taking it (and recording it) took at most this
#: long, read by this process. So every self-stop happens within this window after its firing
#: committed, and a firing committed before a disarm cannot stop a process later: e.g. an
#: answer read after this very process was frozen by another request's self-stop and
#: continued (it would freeze again with nobody to continue it). Whoever disarms and continues
#: watches this long for late self-stops, no longer.
SELF_STOP_WINDOW_S = 0.5
CRASH_EXIT_CODE = 137
ACTIONS = ("crash", "delay", "pause")


def default_action(name: str) -> str:
    """What ``name`` does when armed without an action: stall, self-stop or crash."""
    if name in STALLS:
        return "stall"
    if name in SELF_STOPS:
        return "pause"
    return "crash"


def failpoints_of(strategy: str) -> tuple[str, ...]:
    """The service-process failpoints a request or the recovery of ``strategy`` passes."""
    return tuple(sorted(n for n, s in FAILPOINT_STRATEGIES.items()
                        if strategy in s and not n.startswith("provider-")))


@dataclass(frozen=True, slots=True)
class Arm:
    """One shared arming: firings left (None: every hit), action (None: the default), the
    delay or pause length, the one instance that fires it (None: every process), and the
    chance that a hit fires (None: every hit; BUGGIFY's "fire now and then", which spreads
    the firings over the arming instead of spending them on its first hits)."""

    remaining: int | None = None
    action: str | None = None
    seconds: float | None = None
    instance: str | None = None
    chance: float | None = None


#: Arms (or re-arms) one failpoint in the shared table: ``$1`` name, then :func:`arm_row`.
UPSERT_ARM = (
    "INSERT INTO failpoints (name, remaining, action, seconds, instance, chance)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET"
    " remaining = EXCLUDED.remaining, action = EXCLUDED.action, seconds = EXCLUDED.seconds,"
    " instance = EXCLUDED.instance, chance = EXCLUDED.chance, armed_at = now()")
#: Reads the shared table; each row gives an :class:`Arm` by :func:`arm_of`.
SELECT_ARMS = "SELECT name, remaining, action, seconds, instance, chance FROM failpoints"


def arm_row(arm: Arm) -> tuple[int | None, str | None, float | None, str | None, float | None]:
    """The table columns of ``arm`` after the name, in :data:`UPSERT_ARM`'s order."""
    return arm.remaining, arm.action, arm.seconds, arm.instance, arm.chance


def arm_of(row: Mapping[str, object]) -> Arm:
    """A row of :data:`SELECT_ARMS` as an :class:`Arm`."""
    def num(key: str) -> float | None:
        v = row[key]
        return None if v is None else float(str(v))
    remaining = row["remaining"]
    return Arm(None if remaining is None else int(str(remaining)),
               None if row["action"] is None else str(row["action"]), num("seconds"),
               None if row["instance"] is None else str(row["instance"]), num("chance"))


@dataclass(slots=True)
class Stall:
    """Until when the request that owns this scope is held at a failpoint (a delay or a
    stall): its helpers, such as its lease renewal, stand still until then, as they would if
    the request's thread had stopped. A slow dependency, which a helper does outlive, is
    modelled by network latency, not here."""

    until: float = 0.0

    def stalled(self) -> bool:
        """Whether the owning request is held at a failpoint now."""
        return time.monotonic() < self.until


_stall: ContextVar[Stall | None] = ContextVar("failpoint_stall", default=None)


@contextmanager
def stall_scope() -> Iterator[Stall]:
    """A :class:`Stall` that failpoint delays inside the block (in this task) extend; hand it
    to the helpers the block starts."""
    scope = Stall()
    token = _stall.set(scope)
    try:
        yield scope
    finally:
        _stall.reset(token)


def _hold(seconds: float) -> None:
    scope = _stall.get()
    if scope is not None:
        scope.until = max(scope.until, time.monotonic() + seconds)


def parse_failpoints(raw: str) -> frozenset[str]:
    """Comma-separated names -> set; unknown names raise ``ValueError``."""
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - FAILPOINTS.keys())
    if unknown:
        raise ValueError(
            f"unknown failpoints {unknown}; known: {', '.join(sorted(FAILPOINTS))}"
        )
    return names


def crash(name: str) -> None:
    """Die like SIGKILL would: no cleanup, no flushing of anything but stderr."""
    sys.stderr.write(f"failpoint {name}: os._exit({CRASH_EXIT_CODE})\n")
    sys.stderr.flush()
    os._exit(CRASH_EXIT_CODE)


class Failpoints:
    """The armed set of one process: static (env) plus shared (polled from the database)."""

    def __init__(self, static: frozenset[str], *, instance: str = "0") -> None:
        self._static = static
        self._instance = instance
        self._shared: dict[str, Arm] = {}
        self._consume: Callable[[str], Awaitable[bool]] | None = None
        self._on_fire: Callable[[str, str], Awaitable[None]] | None = None
        self._dice = random.Random()  # a chance arming's draws: exploration is not replayed

    def set_consumer(self, consume: Callable[[str], Awaitable[bool]]) -> None:
        """``consume(name)`` atomically takes one firing of a counted shared failpoint."""
        self._consume = consume

    def set_on_fire(self, on_fire: Callable[[str, str], Awaitable[None]]) -> None:
        """``on_fire(name, action)`` is awaited when a failpoint fires, before it acts (so a
        crash is recorded before the process dies); its errors are ignored."""
        self._on_fire = on_fire

    def update_shared(self, armed: Mapping[str, int | Arm | None]) -> None:
        """Replace the shared set (from the ``failpoints`` table); an entry aimed at another
        instance is not armed here."""
        shared = {k: v if isinstance(v, Arm) else Arm(remaining=v)
                  for k, v in armed.items() if k in FAILPOINTS}
        self._shared = {k: v for k, v in shared.items()
                        if v.instance is None or v.instance == self._instance}

    def armed(self) -> dict[str, int | None]:
        """Every armed name with its remaining count (None = unlimited)."""
        out: dict[str, int | None] = dict.fromkeys(self._static)
        out.update({k: v.remaining for k, v in self._shared.items()})
        return out

    def _action(self, name: str) -> str:
        arm = self._shared.get(name) if name not in self._static else None
        return (arm.action if arm is not None else None) or default_action(name)

    async def should_fire(self, name: str) -> bool:
        """Whether ``name`` fires now (taking one count of a counted shared failpoint; a
        shared self-stop always asks the table, whose row a disarm deletes)."""
        if name in self._static:
            return True
        if name not in self._shared:
            return False
        chance = self._shared[name].chance
        if chance is not None and self._dice.random() >= chance:
            return False
        if self._shared[name].remaining is None and self._action(name) != "pause":
            return True
        if self._consume is None:
            return False
        try:
            return await self._consume(name)
        except Exception:  # a failpoint must never break the step it sits in
            log.exception("failpoint %s: could not consume a firing", name)
            return False

    async def hit(self, name: str, *, stall_s: float = 0.0) -> None:
        """Fire ``name`` if armed: its armed action, else its default (crash; a stall
        failpoint sleeps ``stall_s``; a self-stop failpoint stops this process)."""
        if name not in self._static and name not in self._shared:
            return
        arm = self._shared.get(name) if name not in self._static else None
        asked = time.monotonic()
        if not await self.should_fire(name):
            return
        action = self._action(name)
        if self._on_fire is not None:
            try:
                await asyncio.wait_for(self._on_fire(name, action), 1.0)
            except Exception:  # recording must never change what the failpoint does
                log.warning("failpoint %s: could not record the firing", name)
        if action in ("stall", "delay"):  # the request and its helpers stand still
            seconds = stall_s
            if action == "delay" and arm is not None and arm.seconds is not None:
                seconds = arm.seconds
            log.warning("failpoint %s: holding the request %.2fs", name, seconds)
            _hold(seconds)
            await asyncio.sleep(seconds)
        elif action == "pause":
            late = time.monotonic() - asked
            if arm is not None and late > SELF_STOP_WINDOW_S:
                log.warning("failpoint %s: firing answered %.3f s after it was asked:"
                            " dropped", name, late)
                return
            log.warning("failpoint %s: SIGSTOP until continued", name)
            os.kill(os.getpid(), signal.SIGSTOP)
        else:
            crash(name)
