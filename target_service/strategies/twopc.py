"""Two-phase commit over the ``seats`` and ``payments`` databases.

Each phase (CONFIRM, FINALIZE, EXPIRE/CANCEL) runs one participant transaction per database,
seats first (one lock order: the order row before any payments row), each ending
``PREPARE TRANSACTION '<gid>'`` and inserting its ``twopc_applied`` marker; then the
coordinator logs ``COMMIT`` in ``twopc_decisions`` (first writer wins) and only then issues
``COMMIT PREPARED`` on both. Any failure before the decision rolls back (presumed abort);
recovery (:mod:`target_service.sweepers`) resolves whatever a dead coordinator left prepared.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from target_service import twopc_log
from target_service.context import Deps
from target_service.db import DB_ERRORS, LOCK_ERRORS
from target_service.orders import (
    Order,
    close_order,
    fetch_order,
    mark_authorized,
    mark_failed,
    reserve_seats,
    sell_seats_and_issue,
)
from target_service.problems import Problem
from target_service.provider.ledger import decide_token, new_payment_id
from target_service.strategies.base import (
    confirm_precheck,
    failure_problem,
    finalize_precheck,
    hold_deadline,
    unavailable,
)

log = logging.getLogger(__name__)

Work = Callable[[Any], Awaitable[str | None]]  # returns None to vote yes, or a veto code


class _Veto(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def _participant(pool: Any, name: str, gid: str, order_id: uuid.UUID, phase: str,
                       work: Work) -> bool:
    """Run ``work`` in a transaction, insert the commit marker and PREPARE it as
    ``<gid>:<name>``; raises :class:`_Veto` when ``work`` votes no."""
    pgid = twopc_log.participant_gid(gid, name)
    conn = await pool.acquire()
    try:
        await conn.execute("BEGIN")
        veto = await work(conn)
        if veto is not None:
            await conn.execute("ROLLBACK")
            raise _Veto(veto)
        await conn.execute(
            "INSERT INTO twopc_applied (gid, order_id, phase) VALUES ($1, $2, $3)",
            gid, order_id, phase)
        await conn.execute(f"PREPARE TRANSACTION {twopc_log.quote_gid(pgid)}")
    except BaseException:
        await _discard(pool, conn)
        raise
    await pool.release(conn)
    return True


async def _discard(pool: Any, conn: Any) -> None:
    """Roll back whatever is open on ``conn`` and return it to ``pool`` (terminate on error)."""
    try:
        if not conn.is_closed() and conn.is_in_transaction():
            await asyncio.wait_for(conn.execute("ROLLBACK"), 2)
    except Exception:
        conn.terminate()
    await pool.release(conn)


async def finish_prepared(pool: Any, pgid: str, decision: str) -> bool:
    """COMMIT/ROLLBACK PREPARED participant gid ``pgid`` if still prepared; False on DB error."""
    verb = "COMMIT" if decision == "COMMIT" else "ROLLBACK"
    try:
        await pool.execute(f"{verb} PREPARED {twopc_log.quote_gid(pgid)}")
    except asyncpg.exceptions.UndefinedObjectError:
        return True  # already finished (by us or by recovery)
    except DB_ERRORS:
        return False
    return True


class TwoPhaseCommit:
    """The 2PC strategy (``strategy: "2pc"``); also used to expire/cancel its orders."""

    name = "2pc"

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def run(self, order_id: uuid.UUID, phase: str, seats_work: Work,
                  payments_work: Work) -> str | None:
        """Run one distributed transaction. None = committed; else the veto code.

        Raises :class:`Problem` 503 when the outcome is not known to the caller (it is then
        decided by the log / recovery) and 409 ORDER_BUSY on a row-lock timeout of the order.
        """
        d = self.deps
        gid = twopc_log.new_gid(order_id, phase)
        # One lock order across the two databases: the seats participant (which takes the order
        # row first) prepares before the payments one begins. Started together, two requests on
        # one order could each hold what the other waits for in a different database (the order
        # row here, a payment key there), a deadlock neither Postgres sees, ended only by both
        # lock timeouts; in this order duplicates queue on the order row instead.
        prepared = [False, False]
        error: Exception | None = None  # the first participant's failure ends the phase
        for i, (pool, name, work) in enumerate(((d.seats, "seats", seats_work),
                                                (d.payments, "payments", payments_work))):
            try:
                prepared[i] = await _participant(pool, name, gid, order_id, phase, work)
            except Exception as exc:
                error = exc
                break
        if error is not None:
            await self._abort(gid, order_id, phase, prepared)
            d.metrics.twopc.labels(phase, "ABORT").inc()
            if isinstance(error, _Veto):
                return error.code
            if isinstance(error, LOCK_ERRORS):
                return "LOCKED"
            if not isinstance(error, (*DB_ERRORS, Problem)):
                raise error
            raise unavailable("a database")
        await d.failpoints.hit("2pc-after-prepare")
        try:
            decision = await twopc_log.decide(d.seats, gid, order_id, phase, "COMMIT",
                                              d.settings.instance)
        except DB_ERRORS as exc:
            # unknown whether the COMMIT record landed: recovery applies whatever the log says
            raise unavailable("the seats database") from exc
        if decision != "COMMIT":
            await self._abort(gid, order_id, phase, [True, True])
            d.metrics.twopc.labels(phase, "ABORT").inc()
            raise unavailable("the transaction (aborted by recovery)")
        await d.failpoints.hit("2pc-after-decision")
        ok = await finish_prepared(d.seats, twopc_log.participant_gid(gid, "seats"), "COMMIT")
        await d.failpoints.hit("2pc-after-first-commit")
        ok = await finish_prepared(d.payments, twopc_log.participant_gid(gid, "payments"),
                                   "COMMIT") and ok
        d.metrics.twopc.labels(phase, "COMMIT").inc()
        if not ok:
            raise unavailable("a database (the commit is decided and will be completed)")
        await d.failpoints.hit("2pc-after-commit")
        try:
            await twopc_log.mark_completed(d.seats, gid)
        except DB_ERRORS:
            log.warning("2pc %s committed; completion not recorded", gid)
        return None

    async def _abort(self, gid: str, order_id: uuid.UUID, phase: str,
                     prepared: list[bool]) -> None:
        d = self.deps
        if not any(prepared):
            return
        try:
            decision = await twopc_log.decide(d.seats, gid, order_id, phase, "ABORT",
                                              d.settings.instance)
        except DB_ERRORS:
            return  # recovery will presume abort
        for pool, name, was in zip((d.seats, d.payments), twopc_log.PARTICIPANTS, prepared,
                                   strict=True):
            if was:
                await finish_prepared(pool, twopc_log.participant_gid(gid, name), decision)

    async def confirm(self, order: Order, payment_token: str) -> None:
        if not confirm_precheck(order):
            return
        hold_until = hold_deadline(self.deps)
        payment_id = new_payment_id()

        async def seats_work(conn: Any) -> str | None:
            if not await mark_authorized(conn, order, payment_id, hold_until):
                return "NOT_PENDING"
            if not await reserve_seats(conn, order, hold_until):
                return "SEAT_UNAVAILABLE"
            return None

        async def payments_work(conn: Any) -> str | None:
            if decide_token(payment_token) is not None:
                return "PAYMENT_FAILED"
            row = await conn.fetchrow(
                "INSERT INTO payments (payment_id, order_id, amount_cents, status, payment_token,"
                " idempotency_key, source) VALUES ($1, $2, $3, 'AUTHORIZED', $4, $5, '2pc')"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING payment_id",
                payment_id, order.order_id, order.amount_cents, payment_token, order.auth_key)
            return None if row is not None else "KEY_EXISTS"

        veto = await self.run(order.order_id, "CONFIRM", seats_work, payments_work)
        if veto is None:
            return
        if veto in ("PAYMENT_FAILED", "SEAT_UNAVAILABLE"):
            detail = ("the payment was declined" if veto == "PAYMENT_FAILED"
                      else "a requested seat is held or sold")
            async with self.deps.seats.acquire() as conn:
                await mark_failed(conn, order.order_id, veto, detail)
            raise Problem(veto, detail)
        if veto == "LOCKED":
            raise Problem("SEAT_UNAVAILABLE", "a requested seat (or the order) is locked by"
                          " another transaction")
        await self._answer_from_state(order)

    async def _answer_from_state(self, order: Order) -> None:
        async with self.deps.seats.acquire() as conn:
            cur = await fetch_order(conn, order.order_id)
        if cur is None:
            raise unavailable("the order")
        if cur.status == "FAILED":
            raise failure_problem(cur)
        if cur.status == "PENDING":
            raise Problem("ORDER_BUSY", f"order {order.order_id} is being confirmed")

    async def finalize(self, order: Order) -> None:
        if not finalize_precheck(order):
            return
        d = self.deps
        if d.bug("capture-not-durable"):
            # BUG capture-not-durable: the capture is committed on its own, outside the
            # distributed transaction; dying before the seats commit leaves it unrepaired.
            res = await d.payments.execute(
                "UPDATE payments SET status = 'CAPTURED', captured_at = now(), updated_at = now()"
                " WHERE payment_id = $1 AND status = 'AUTHORIZED'", order.payment_id)
            if not res.endswith(" 1"):
                raise Problem("PAYMENT_FAILED", "the payment could not be captured")
            await d.failpoints.hit("finalize-after-capture")
            async with d.seats.acquire() as conn, conn.transaction():
                if not await sell_seats_and_issue(conn, order):
                    raise Problem("ORDER_STATE_CONFLICT", "the order no longer holds its seats")
            return

        async def seats_work(conn: Any) -> str | None:
            live = await conn.fetchval(
                "SELECT hold_expires_at > now() FROM orders WHERE order_id = $1"
                " AND status = 'AUTHORIZED' FOR UPDATE", order.order_id)
            if not live:
                return "NOT_AUTHORIZED"
            return None if await sell_seats_and_issue(conn, order) else "NOT_HELD"

        async def payments_work(conn: Any) -> str | None:
            res = await conn.execute(
                "UPDATE payments SET status = 'CAPTURED', captured_at = now(), updated_at = now()"
                " WHERE payment_id = $1 AND status = 'AUTHORIZED'", order.payment_id)
            return None if res.endswith(" 1") else "NOT_CAPTURABLE"

        veto = await self.run(order.order_id, "FINALIZE", seats_work, payments_work)
        if veto is None:
            return
        async with d.seats.acquire() as conn:
            cur = await fetch_order(conn, order.order_id)
        if cur is not None and cur.status == "SOLD":
            return
        if veto == "LOCKED":
            raise Problem("ORDER_BUSY", f"order {order.order_id} is locked; retry")
        raise Problem("ORDER_STATE_CONFLICT",
                      f"order {order.order_id} cannot be finalized ({veto})")

    async def close(self, order: Order, status: str) -> bool:
        """AUTHORIZED -> EXPIRED/CANCELLED: release seats and void, atomically. True if done."""

        async def seats_work(conn: Any) -> str | None:
            return None if await close_order(conn, order.order_id, status) else "NOT_OPEN"

        async def payments_work(conn: Any) -> str | None:
            await conn.execute(
                "UPDATE payments SET status = 'VOIDED', voided_at = now(), updated_at = now()"
                " WHERE order_id = $1 AND status = 'AUTHORIZED'", order.order_id)
            return None

        phase = "EXPIRE" if status == "EXPIRED" else "CANCEL"
        return await self.run(order.order_id, phase, seats_work, payments_work) is None
