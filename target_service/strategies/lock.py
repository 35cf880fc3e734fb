"""Redis lease lock with fencing tokens checked by Postgres.

Confirm: lock every seat (sorted; contention -> 409), then in one transaction *claim* the seats
whose lease was taken over (``fence_token < tok``), check they are AVAILABLE and start the
saga row; authorize over HTTP while the leases are renewed; then one transaction writes the
hold ``WHERE fence_token <= tok`` (a holder whose lease expired and was taken over can never
write) and marks the order AUTHORIZED. Locks are released only by their owner (Lua).
Failures compensate like the saga strategy (void by key, FAILED); the sweeper covers crashes.
Finalize holds the locks too, claims taken-over seats, and sells only seats the order holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from target_service import saga_store
from target_service.context import Deps
from target_service.orders import Order, fetch_order, mark_authorized, mark_failed
from target_service.payment_flow import begin_finalize, capture_and_issue, fail_confirm
from target_service.problems import Problem
from target_service.redis_lock import LockUnavailable, SeatLocks
from target_service.strategies.base import (
    AlreadyConfirmed,
    confirm_precheck,
    failure_problem,
    finalize_precheck,
    hold_deadline,
    lock_pending,
    unavailable,
)

log = logging.getLogger(__name__)


class LockStrategy:
    """The Redis-lock strategy (``strategy: "lock"``)."""

    name = "lock"

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @property
    def _fencing(self) -> bool:
        # BUG lock-no-fencing: no claim and no fencing check; the seat write trusts the lease.
        return not self.deps.bug("lock-no-fencing")

    async def _lock(self, order: Order, *, wait_s: float) -> SeatLocks:
        d = self.deps
        start = time.monotonic()
        while True:
            try:
                locks = await d.locks.acquire(order.event_id, order.seats)
            except LockUnavailable as exc:
                log.warning("seat locks unavailable: %s", exc)
                d.metrics.lock_acquire.labels("unavailable").inc()
                raise unavailable("Redis") from exc
            if locks is not None:
                d.metrics.lock_acquire.labels("acquired").inc()
                d.metrics.lock_wait.observe(time.monotonic() - start)
                if locks.takeovers - locks.recovered:  # a recovered one may be none
                    await d.coverage.hit("lease-taken-over")
                return locks
            if time.monotonic() - start >= wait_s:
                d.metrics.lock_acquire.labels("contended").inc()
                raise Problem("SEAT_UNAVAILABLE", "a requested seat is locked by another buyer")
            await asyncio.sleep(0.02)

    async def _claim(self, conn: object, locks: SeatLocks) -> bool:
        """Fence off expired holders of taken-over seats; False if a newer token exists."""
        if not self._fencing or not locks.takeovers:
            return True
        seats = sorted(locks.takeovers)
        rows = await conn.fetch(  # type: ignore[attr-defined]
            "UPDATE seats s SET fence_token = t.tok FROM unnest($2::text[], $3::bigint[])"
            " AS t(seat, tok) WHERE s.event_id = $1 AND s.seat_id = t.seat"
            " AND s.fence_token < t.tok RETURNING s.seat_id",
            locks.event_id, seats, [locks.tokens[s] for s in seats])
        return len(rows) == len(seats)

    async def _write_hold(self, conn: object, order: Order, locks: SeatLocks,
                          hold_until: datetime) -> bool:
        seats = list(order.seats)
        if self._fencing:
            sql = ("UPDATE seats s SET state = 'HELD', holder_order_id = $2,"
                   " holder_strategy = 'lock', hold_expires_at = $3, fence_token = t.tok,"
                   " updated_at = now() FROM unnest($4::text[], $5::bigint[]) AS t(seat, tok)"
                   " WHERE s.event_id = $1 AND s.seat_id = t.seat AND s.fence_token <= t.tok"
                   " AND (s.state = 'AVAILABLE' OR s.holder_strategy = 'lock')"
                   " RETURNING s.seat_id")
        else:
            sql = ("UPDATE seats s SET state = 'HELD', holder_order_id = $2,"
                   " holder_strategy = 'lock', hold_expires_at = $3, updated_at = now()"
                   " FROM unnest($4::text[], $5::bigint[]) AS t(seat, tok)"
                   " WHERE s.event_id = $1 AND s.seat_id = t.seat RETURNING s.seat_id")
        rows = await conn.fetch(  # type: ignore[attr-defined]
            sql, order.event_id, order.order_id, hold_until, seats,
            [locks.tokens[s] for s in seats])
        return len(rows) == len(seats)

    async def confirm(self, order: Order, payment_token: str) -> None:
        if not confirm_precheck(order):
            return
        d = self.deps
        locks = await self._lock(order, wait_s=0.0)
        try:
            async with d.locks.renewing(locks):
                await d.failpoints.hit("lock-after-acquire")
                await self._confirm_locked(order, payment_token, locks)
                await d.failpoints.hit("lock-before-release")
        except AlreadyConfirmed:
            return
        finally:
            await self._leave(locks)

    async def _leave(self, locks: SeatLocks) -> None:
        """End a critical section: count a lease that ran out inside it, release the locks."""
        if self.deps.locks.lapsed(locks):
            await self.deps.coverage.hit("lease-expired-in-critical-section")
        await self.deps.locks.release(locks)

    async def _confirm_locked(self, order: Order, payment_token: str,
                              locks: SeatLocks) -> None:
        d = self.deps
        async with d.seats.acquire() as conn, conn.transaction():
            saga = await saga_store.begin(conn, order.order_id, self.name, "CONFIRM", "LOCKED",
                                          order.auth_key, stale_s=d.settings.saga_stale_s)
            if saga is None:
                raise Problem("ORDER_BUSY", f"order {order.order_id} is being confirmed")
            await lock_pending(conn, order)  # AlreadyConfirmed rolls the start back
            claimed = await self._claim(conn, locks)
            states = await conn.fetch(
                "SELECT seat_id, state FROM seats WHERE event_id = $1"
                " AND seat_id = ANY($2::text[])", order.event_id, list(order.seats))
            free = claimed and all(r["state"] == "AVAILABLE" for r in states)
            if not free:
                await saga_store.advance(conn, saga, state="DONE", step="SEAT_CONFLICT")
                await mark_failed(conn, order.order_id, "SEAT_UNAVAILABLE",
                                  "a requested seat is held or sold")
        if claimed:  # committed: taken-over seats carry our fence (unless lock-no-fencing)
            locks.fenced.update(locks.takeovers)
        if not free:
            if not claimed:
                d.metrics.fence_rejections.inc()
                await d.coverage.hit("takeover-fenced-live-holder")
            raise Problem("SEAT_UNAVAILABLE", "a requested seat is held or sold")
        hold_until = hold_deadline(d)
        res = await d.provider.authorize(key=order.auth_key, order_id=order.order_id,
                                         amount_cents=order.amount_cents, token=payment_token)
        await d.failpoints.hit("lock-after-authorize")
        # held here, the request renews no lease (failpoints.stall_scope)
        await d.failpoints.hit("lock-stall-before-write",
                               stall_s=3 * d.settings.lock_lease_ms / 1000)
        await d.failpoints.hit("lock-pause-before-write")  # frozen here until SIGCONT
        if not res.ok or res.payment is None:
            if res.kind == "declined":
                await fail_confirm(d, order, saga, "PAYMENT_FAILED", "the payment was declined",
                                   void=False, release=False)
                raise Problem("PAYMENT_FAILED", "the payment was declined")
            await fail_confirm(d, order, saga, "DEPENDENCY_UNAVAILABLE",
                               f"authorize failed ({res.kind}: {res.error})", void=True,
                               release=False)
            if res.kind == "conflict":
                raise Problem("ORDER_STATE_CONFLICT", "the order's authorization was voided")
            raise unavailable("the payment provider")
        pid = str(res.payment["payment_id"])
        try:
            async with d.seats.acquire() as conn, conn.transaction():
                if not await self._write_hold(conn, order, locks, hold_until):
                    raise _FencedOut()  # all seats or none: roll back a partial write
                done = await saga_store.advance(conn, saga, state="DONE", step="AUTHORIZED",
                                                payment_id=pid)
                if done is not None and await mark_authorized(conn, order, pid, hold_until):
                    return
                raise _Rollback()
        except _Rollback:
            await self._answer_from_state(order)  # the sweeper took the saga over
            raise unavailable("the order") from None
        except _FencedOut:
            pass
        # fenced out: a newer lock holder owns a seat; undo the authorization
        d.metrics.fence_rejections.inc()
        await d.coverage.hit("takeover-fenced-live-holder")
        await fail_confirm(d, order, saga, "SEAT_UNAVAILABLE",
                           "the seat lock expired and another buyer took the seat", void=True,
                           release=False)
        raise Problem("SEAT_UNAVAILABLE", "the seat lock expired and another buyer took it")

    async def finalize(self, order: Order) -> None:
        if not finalize_precheck(order):
            return
        d = self.deps
        locks = await self._lock(order, wait_s=d.settings.lock_lease_ms / 1000)
        try:
            async with d.locks.renewing(locks):
                async with d.seats.acquire() as conn, conn.transaction():
                    if not await self._claim(conn, locks):
                        d.metrics.fence_rejections.inc()
                        await d.coverage.hit("takeover-fenced-live-holder")
                        raise Problem("ORDER_BUSY", "a newer lock holder owns a seat; retry")
                locks.fenced.update(locks.takeovers)
                if d.bug("capture-not-durable"):
                    # BUG capture-not-durable: see SagaStrategy.finalize.
                    await capture_and_issue(d, order, None)
                    return
                saga = await begin_finalize(d, order)
                if saga is not None:
                    await capture_and_issue(d, order, saga)
        finally:
            await self._leave(locks)

    async def _answer_from_state(self, order: Order) -> None:
        async with self.deps.seats.acquire() as conn:
            cur = await fetch_order(conn, order.order_id)
        if cur is not None and cur.status == "FAILED":
            raise failure_problem(cur)


class _Rollback(Exception):
    """Internal: roll back the hold write (the saga moved on under us)."""


class _FencedOut(Exception):
    """Internal: roll back the hold write (a newer lock holder fenced off one of the seats)."""
