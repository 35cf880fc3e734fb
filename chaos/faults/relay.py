"""``lock-takeover-relay``: a white-box adversary aimed at lock take-overs. Not a generic fault.

It steers one interleaving of the lock strategy, the one in which a lost lock shows: a holder A
frozen at its critical step (after the payment, before the fenced seat write) until its leases
run out, its successor B frozen once it took a seat of A's over, A continued (fenced out, it
releases), a third buyer C of B's seat frozen, B continued until its order is sold, then C. A
seat sold twice at the end means the lock let two writers in (no fencing: A's stale write lands;
an unsafe release: A's release deleted B's lock and let C in). It knows the service's steps and
asks the service's introspection door (``target_service/introspection.py``) who holds which
seat lock, which confirms are past their check, which payments were declined: it reads no table
and no Redis key itself. It is its own schedule, never part of ``mixed``.

The pick of A: the ``at`` self-stop failpoint is armed for many firings; the first process to
stop itself there whose confirm at the step holds still-free seats rivals want (fewer rivals as
time goes by: :func:`~chaos.faults.relay_aim.pick_need`) is kept, every other is continued at
once. A round that can no longer show anything (no successor, no third buyer, B's order not
sold) is followed by another, until stop (:mod:`chaos.faults.relay_round`).

Stop always brings every process back: the rounds are cancelled, the failpoint disarmed, what
they froze continued in order, then every target process that is (or stops itself within the
service's ``self_stop_window_s``) stopped is continued until it runs, even when a door call
failed. Evidence: ``relay`` (the first round's steps and outcome, ``picks``, ``rounds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults.process import ProcessFault
from chaos.faults.relay_aim import at_step, pick_need, seat_demand, seats_of_instance
from chaos.faults.relay_round import RELAY_FIRINGS, Round
from chaos.params import FaultParams, param
from chaos.processes import (
    ProcessTargetError,
    continue_once,
    continue_self_stops,
    is_stopped,
    running_targets,
    self_stop_watch_s,
)
from harness.stack.control import ProcessInfo
from target_service import introspection

#: at most this many picks are kept in the evidence (``picks``)
MAX_PICKS_SEEN = 50
#: stop cancels the rounds again this often until they end (3.11's wait_for, which asyncpg's
#: timeouts use, can swallow a cancellation that lands as the awaited call completes)
STOP_RECANCEL_S = 0.5


@dataclass(frozen=True, slots=True)
class RelayParams(FaultParams):
    at: str = param("lock-pause-before-write", doc="the self-stop failpoint at the step")
    lock_wait_s: float = param(5.0, min=0.0, max=120.0,
                               doc="how long the first pick of a holder may take")


class LockTakeoverRelay(ProcessFault[RelayParams]):
    """Freeze and continue lock-strategy buyers in the order that shows a lost lock."""

    kind = "lock-takeover-relay"
    doc = "white-box: steer lock take-overs (holder, successor, third buyer) via the door"
    Params = RelayParams

    def __init__(
        self, target: str, params: Mapping[str, Any] | FaultParams | None = None
    ) -> None:
        super().__init__(target, params)
        self.rounds: list[Round] = []  # the current one last
        self.pick_demand: int | None = None
        self.pick_skipped = 0
        self.picks: list[dict[str, Any]] = []
        self.stop_cancels = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    def valid_targets(cls) -> tuple[str, ...]:
        return ("target",)

    @classmethod
    def accepts(cls, target: str) -> bool:
        return target == "target"

    async def _pick(self, ctx: ChaosContext) -> ProcessInfo | None:
        """Arm the step; keep the first process that stops itself there holding seats rivals
        want, continuing the others. None after ``lock_wait_s`` (then disarmed); a kept one
        leaves it armed for its round (a gap would let a rival pass the step unseen)."""
        began = time.monotonic()
        await failpoints.arm(ctx.state, self.params.at, remaining=RELAY_FIRINGS)
        start = time.monotonic()
        kept: ProcessInfo | None = None
        try:
            while kept is None and time.monotonic() - start < self.params.lock_wait_s:
                for proc in await running_targets(ctx):
                    if not is_stopped(proc.pid):
                        continue
                    keep, demand = False, 0
                    try:
                        seats = list(await seats_of_instance(
                            ctx, proc.name.removeprefix("target-")))
                        step = await at_step(ctx, seats) if seats else []
                        demand = await seat_demand(ctx, step) if step else 0
                        keep = bool(seats) and demand >= pick_need(time.monotonic() - start)
                    finally:  # also when cancelled: never leave an unwanted stop frozen
                        if keep:
                            kept, self.pick_demand = proc, demand
                        else:
                            self.pick_skipped += 1
                            await continue_once(ctx, proc)
                    if kept is not None:
                        break
                await asyncio.sleep(0.01)
            return kept
        finally:
            if len(self.picks) < MAX_PICKS_SEEN:
                self.picks.append({"arm_s": round(start - began, 3),
                                   "s": round(time.monotonic() - began, 3),
                                   "kept": kept.name if kept is not None else None})
            if kept is None:
                await failpoints.disarm(ctx.state, self.params.at)

    async def _new_round(self, ctx: ChaosContext, a: ProcessInfo) -> Round | None:
        """A round from the frozen holder ``a`` (None when it holds no seat lock)."""
        held = await seats_of_instance(ctx, a.name.removeprefix("target-"))
        if not held:
            return None
        tokens = await introspection.fence_counters(ctx.stores, sorted(held))
        one = Round(ctx, self.params.at, a, held, tokens)
        one.pick_demand = self.pick_demand
        self.rounds.append(one)
        return one

    async def _apply(self, ctx: ChaosContext) -> None:
        """Pick the first holder (bounded by ``lock_wait_s``) and start the rounds; with none
        picked yet, the rounds go on picking until stop."""
        first = await self._next_round(ctx, await self._pick(ctx))
        if first is not None:
            self.pid, self.process = first.a.pid, first.a.name
        self._task = asyncio.create_task(self._rounds(ctx, first))

    async def _next_round(self, ctx: ChaosContext, a: ProcessInfo | None) -> Round | None:
        """The round from a picked holder ``a``; None (``a`` continued, the step disarmed) when
        it holds no seat lock any more or looking at its locks failed."""
        if a is None:
            return None
        nxt = None
        try:
            nxt = await self._new_round(ctx, a)
        finally:  # the pick left the step armed (and ``a`` frozen) for a round
            if nxt is None:
                try:
                    await failpoints.disarm(ctx.state, self.params.at)
                finally:
                    await continue_once(ctx, a)
        return nxt

    async def _rounds(self, ctx: ChaosContext, current: Round | None) -> None:
        """Rounds until stop: a spent one is followed by another, from the next wanted holder
        (the A of the round before, still frozen, is continued first: it would block the pick)."""
        while not self._stopping:
            if current is None:
                current = await self._next_round(ctx, await self._pick(ctx))
                continue
            await current.run()
            if not current.spent:
                return
            if current.a_frozen:
                await continue_once(ctx, current.a)
                current.a_frozen = False
                current.note(f"A ({current.a.name}) continued for the next round")
            current = None

    async def _end_rounds(self) -> str | None:
        """Cancel the rounds until they end; their error, if one ended them."""
        task, self._task = self._task, None
        if task is None:
            return None
        self._stopping = True
        while not task.done():
            self.stop_cancels += 1
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_RECANCEL_S)
        with contextlib.suppress(asyncio.CancelledError):
            exc = task.exception()
            return None if exc is None else repr(exc)
        return None

    async def _remove(self, ctx: ChaosContext) -> None:
        stuck: list[str] = []
        try:
            error = await self._end_rounds()
            current = self.rounds[-1] if self.rounds else None
            if current is not None and current.outcome == "running":
                current.outcome = "stopped early (running)"
            if current is not None and error is not None:
                current.outcome = f"error: {error}"
            with contextlib.suppress(Exception):  # armed by a pick or a round; retried below
                await failpoints.disarm(ctx.state, self.params.at)
            if current is not None:
                try:
                    await current.release(watch_s=0.2)
                except Exception as exc:  # evidence; the continues below happen regardless
                    current.outcome += f"; release failed: {exc!r}"
        finally:
            try:  # a disarm that failed above is retried; a failure here still continues all
                await failpoints.disarm(ctx.state, self.params.at)
            finally:
                for r in self.rounds:
                    r.a_frozen, r.held = False, []
                stuck = await continue_self_stops(ctx, for_s=self_stop_watch_s(ctx))
                self.pid = None
        if stuck:
            raise ProcessTargetError(f"{', '.join(stuck)} did not continue")

    def observed(self) -> dict[str, Any]:
        seen: dict[str, Any] = {"process": self.process, "pick_skipped": self.pick_skipped,
                                "picks": self.picks, "stop_cancels": self.stop_cancels}
        if self.rounds:
            seen |= {**self.rounds[0].observed(),
                     "rounds": [r.observed() for r in self.rounds[1:]]}
        return seen
