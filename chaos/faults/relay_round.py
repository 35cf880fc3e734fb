"""One round of the ``lock-takeover-relay`` adversary (see :mod:`chaos.faults.relay`).

From a holder A frozen at the step: freeze A's successor B (it took a seat of A's over with a
claim), continue A, freeze a third buyer C of one of B's seats, continue B, wait until B's
order is sold, then continue C. Everything it knows it asks the service's introspection door.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults.relay_aim import frozen_until
from chaos.faults.relay_looks import BuyerLooks
from chaos.processes import continue_once, is_stopped, running_targets
from harness.stack.control import ProcessInfo
from target_service import introspection
from target_service.introspection import Seat

#: How many self-stops a round arms at once (each unwanted one is continued at once).
RELAY_FIRINGS = 10_000
#: the round waits this many leases (from A's stop) for a successor B
SUCCESSOR_WAIT_LEASES = 2.0
#: how often the round looks whether its wait is pointless
GIVE_UP_POLL_S = 0.05
#: B's order AUTHORIZED, its confirm answered this long ago and no finalize asked for: its
#: buyer walked away (the workload finalizes at once)
WALK_AWAY_S = 1.0


def _name(seat: Seat) -> str:
    return f"{seat.event_id}:{seat.seat_id}"


class Round(BuyerLooks):
    """The sequence after a holder A stopped itself at ``failpoint`` (module doc). ``held``
    lists the processes the round froze, in the order :meth:`release` continues them."""

    def __init__(self, ctx: ChaosContext, failpoint: str, a: ProcessInfo,
                 snapshot: Mapping[Seat, str], tokens: Mapping[Seat, int]) -> None:
        self.ctx = ctx
        self.failpoint = failpoint
        self.a = a
        self.snapshot = dict(snapshot)  # A's seat locks: seat -> A's owner value
        self.tokens = dict(tokens)  # seat -> A's fencing token
        self.lease_s = ctx.lock_lease_s
        self.t0 = time.monotonic()
        self.held: list[ProcessInfo] = []
        self.a_frozen = True
        self.seat: Seat | None = None  # the seat of A's that B took over
        self.owners: set[str] = set(self.snapshot.values())
        self.steps: list[tuple[float, str]] = []
        self.skipped = 0
        self.skips: Counter[str] = Counter()  # why self-stops were continued, not kept
        self._why = ""
        self.outcome = "running"
        self.armed = False
        self.successor: str | None = None
        self.third: str | None = None
        self.procs: list[ProcessInfo] = []
        self.b_orders: set[str] = set()  # confirms in flight on B's seat when B stopped
        self.a_orders: set[str] = set()  # confirms in flight on A's seats when A stopped
        self.b_new: set[str] = set()  # B's own order(s)
        self.b_seats: list[Seat] = []
        self.c_seats: list[Seat] = []
        self.a_free: list[Seat] = []  # A's seats free when A stopped, a write of A's to come
        self.a_writers: dict[Seat, set[str]] = {}  # A's seat -> A's confirms past their check
        self.b_owner: str | None = None
        self.b_own: list[Seat] = []  # B's seats that are not A's
        self.shown = False  # a write that shows a lost lock is on its way
        self.pick_demand: int | None = None

    def note(self, what: str) -> None:
        self.steps.append((round(time.monotonic() - self.t0, 3), what))

    @property
    def spent(self) -> bool:
        """Over with no write on its way that could show a lost lock: no successor, no third
        buyer, or B's order not sold (declined, fenced out, its buyer walked away)."""
        return self.outcome != "running" and not self.shown

    def observed(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "pick_demand": self.pick_demand,
                "orders_of_b": sorted(self.b_new),
                "seats_of_a": sorted(s.seat_id for s in self.snapshot),
                "seat": _name(self.seat) if self.seat else None, "successor": self.successor,
                "third": self.third, "skipped": self.skipped, "skips": dict(self.skips),
                "steps": [f"{t:.3f}s {what}" for t, what in self.steps]}

    async def arm(self) -> None:
        self.armed = True  # first: a cancelled arm is still disarmed
        await failpoints.arm(self.ctx.state, self.failpoint, remaining=RELAY_FIRINGS)

    async def disarm(self) -> None:
        if self.armed:
            await failpoints.disarm(self.ctx.state, self.failpoint)
            self.armed = False

    # --- the sequence ------------------------------------------------------------------------
    def _kept(self) -> set[int]:
        return {p.pid for p in self.held} | ({self.a.pid} if self.a_frozen else set())

    async def _wait_for(self, within_s: float, wanted: Callable[[ProcessInfo], Awaitable[bool]],
                        give_up: Callable[[], Awaitable[bool]]) -> ProcessInfo | None:
        """The first process that stops itself and is ``wanted``; the others are continued at
        once. None after ``within_s``, or once ``give_up()`` (polled) is true."""
        deadline = time.monotonic() + within_s
        polled = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() - polled >= GIVE_UP_POLL_S:
                polled = time.monotonic()
                if await give_up():
                    return None
            proc = next((p for p in self.procs
                         if p.pid not in self._kept() and is_stopped(p.pid)), None)
            if proc is None:
                await asyncio.sleep(0.01)
                continue
            keep = False
            self._why = "error"
            try:
                keep = await wanted(proc)
            finally:  # also when cancelled: never leave an unwanted stop frozen
                if not keep:
                    self.skipped += 1
                    self.skips[self._why] += 1
                    await continue_once(self.ctx, proc)
            if keep:
                return proc
        return None

    async def run(self) -> None:
        lease_s = self.lease_s
        self.procs = await running_targets(self.ctx)
        await self._writes_to_come()
        await self.arm()  # at once: buyers take A's seats the moment its leases run out
        found: list[Seat] = []

        async def successor(proc: ProcessInfo) -> bool:
            seat = await self._successor_seat(proc)
            found.extend([seat] if seat is not None else [])
            return seat is not None

        b = await self._wait_for(SUCCESSOR_WAIT_LEASES * lease_s, successor, self._sold_by_rival)
        if b is None:
            self.outcome = "no successor took a seat over"
            if await self._sold_by_rival(unclaimed=True):  # A's unfenced write lands on it
                await self.disarm()
                await continue_once(self.ctx, self.a)
                self.a_frozen = False
                self.outcome += "; a rival sold a seat of A's unclaimed: A continued"
                self.shown = True
                self.note(f"A ({self.a.name}) continued, a seat of its sold to a rival")
            elif await self._sold_by_rival():
                self.outcome += "; a rival sold a seat of A's with a claim"
            await self.release(watch_s=0.0 if self.spent else lease_s)
            return
        self.seat = found[0]
        self.b_orders = await self._confirms(self.seat)
        self.b_new = self.b_orders - self.a_orders
        self.held.append(b)
        self.successor = b.name
        self.b_owner = (await introspection.lock_owners(self.ctx.stores, [self.seat]))[self.seat]
        self.b_seats = (sorted(h.seat for h in await introspection.lock_holds(self.ctx.stores)
                               if h.owner == self.b_owner) if self.b_owner else [self.seat])
        own = self.b_own = [s for s in self.b_seats if s not in self.snapshot]
        self.note(f"B ({b.name}) stopped holding {_name(self.seat)}, its take-over claimed"
                  f" (seats {len(self.b_seats)}, {len(own)} not A's)")
        held_until = frozen_until(time.monotonic(), 1.5 * lease_s,
                                  await introspection.lease_left_ms(self.ctx.stores, own))
        await continue_once(self.ctx, self.a)
        self.a_frozen = False
        self.note(f"A ({self.a.name}) continued")
        owner: list[str] = []

        async def third(proc: ProcessInfo) -> bool:
            found_owner = await self._third_buyer(
                proc, self.b_seats, unclaimed=time.monotonic() >= held_until)
            owner.extend([found_owner] if found_owner is not None else [])
            return found_owner is not None

        c = await self._wait_for(1.5 * lease_s, third, self._b_fenced)
        await self.disarm()
        if c is None:
            self.outcome = "no third buyer got the seat"
        else:
            self.held.append(c)
            self.third = c.name
            self.c_seats = sorted(h.seat for h in await introspection.lock_holds(self.ctx.stores)
                                  if h.owner == owner[0])
            self.note(f"C ({c.name}) stopped holding {len(self.c_seats)} seats, one of B's,"
                      " after checking it free")
            self.outcome = "successor and third buyer frozen"
        await self.release(watch_s=lease_s, spent_watch_s=0.0)

    async def _sweep(self) -> None:
        """Continue every process that stopped itself but is nobody's to keep (a firing taken
        just before the disarm stops its process a moment later)."""
        for proc in self.procs:
            if proc.pid not in self._kept() and is_stopped(proc.pid):
                self.skipped += 1
                self.skips["late"] += 1
                await continue_once(self.ctx, proc)

    async def _until_sold(self) -> None:
        """Wait (bounded: two leases, and C's leases on seats not B's) until B's order is SOLD
        or finished otherwise: C's write then lands on a seat B already sold."""
        own = [s for s in self.c_seats if s not in self.b_seats]
        deadline = frozen_until(time.monotonic(), 2 * self.lease_s,
                                await introspection.lease_left_ms(self.ctx.stores, own))
        progress = None
        while self.b_new and time.monotonic() < deadline:
            await self._sweep()
            progress = await introspection.order_progress(self.ctx.stores, self.b_new,
                                                          walk_away_s=WALK_AWAY_S)
            if progress.sold or progress.finished == progress.total \
                    or progress.walked_away == progress.total:
                break
            await asyncio.sleep(0.01)
        self.shown = bool(progress and progress.sold)
        state = ("not finished" if progress is None else "SOLD" if progress.sold
                 else "finished" if progress.finished
                 else "its buyer walked away" if progress.walked_away == progress.total
                 else "not finished")
        self.note(f"B's order: {state}")

    async def release(self, *, watch_s: float, spent_watch_s: float | None = None) -> None:
        """Disarm, continue what the round froze in order (after B, wait until B's order is
        sold: :meth:`_until_sold`), then for ``watch_s`` (``spent_watch_s`` if :attr:`spent`)
        continue late self-stops. The continues happen even when a door call fails."""
        try:
            await self.disarm()
            await self._sweep()
        finally:
            first = True
            while self.held:
                proc = self.held.pop(0)
                await continue_once(self.ctx, proc)
                self.note(f"{proc.name} continued")
                if first and self.held and self.seat is not None:
                    with contextlib.suppress(Exception):  # evidence only; never blocks a SIGCONT
                        await self._until_sold()
                first = False
        if spent_watch_s is not None and self.spent:
            watch_s = spent_watch_s
        deadline = time.monotonic() + watch_s
        while True:
            await self._sweep()
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.01)
