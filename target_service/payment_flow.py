"""Provider-side saga steps shared by the lock and saga strategies and the recovery sweeper.

Each function is idempotent and guarded by the saga row's CAS, so the request that started a
step and the sweeper that re-drives it after a crash can both call it safely.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from target_service import saga_store
from target_service.context import Deps
from target_service.orders import (
    Order,
    fetch_order,
    mark_failed,
    order_json,
    release_seats,
    sell_seats_and_issue,
    sell_with_saga,
)
from target_service.problems import Problem
from target_service.saga_store import Saga
from target_service.strategies.base import unavailable

log = logging.getLogger(__name__)


async def fail_confirm(deps: Deps, order: Order, saga: Saga, code: str, detail: str, *,
                       void: bool, release: bool = True) -> Saga | None:
    """Compensate a confirm: release seats, mark FAILED, then void by key (tombstone).

    Returns the saga after the attempt (state DONE, or COMPENSATING if the void is still owed),
    None if another actor owns the saga now.
    """
    await deps.failpoints.hit("confirm-before-compensate")
    async with deps.seats.acquire() as conn, conn.transaction():
        nxt = await saga_store.advance(conn, saga, state="COMPENSATING" if void else "DONE",
                                       step="SEATS_RELEASED" if release else "FAILED",
                                       error=detail[:500])
        if nxt is None:
            return None
        if release:
            await release_seats(conn, order.order_id)
        await mark_failed(conn, order.order_id, code, detail)
        await saga_store.log(conn, order.order_id, "CONFIRM", "COMPENSATE", code,
                             deps.settings.instance, {"void": void, "release": release})
    deps.metrics.saga_compensations.labels(code.lower()).inc()
    if not void:
        return nxt
    return await finish_void(deps, order, nxt)


async def finish_void(deps: Deps, order: Order, saga: Saga) -> Saga | None:
    """Void the order's authorization (by key for confirms, by id otherwise); DONE on success.

    A CAPTURED payment cannot be voided: it is refunded instead, unless bug
    ``capture-not-durable`` is on.
    """
    await deps.failpoints.hit("void-before-call")
    if saga.phase == "CONFIRM" or not (saga.payment_id or order.payment_id):
        res = await deps.provider.void_by_key(saga.auth_key, order.order_id)
    else:
        pid = saga.payment_id or order.payment_id or ""
        res = await deps.provider.void(pid, f"void-{order.order_id}")
    if res.kind == "unknown":
        return saga
    captured = (res.kind == "conflict" and res.payment is not None
                and res.payment.get("status") == "CAPTURED")
    # BUG capture-not-durable: a captured order whose SOLD write was lost is expired and
    # its money kept: nothing repairs it. The correct service refunds it.
    if captured:
        await deps.coverage.hit("void-found-capture")
    if captured and not deps.bug("capture-not-durable"):
        assert res.payment is not None
        ref = await deps.provider.refund(str(res.payment["payment_id"]),
                                         f"refund-{order.order_id}")
        if not ref.ok:
            return saga
    async with deps.seats.acquire() as conn, conn.transaction():
        done = await saga_store.advance(conn, saga, state="DONE", step="VOIDED")
        if done is not None:
            await saga_store.log(conn, order.order_id, saga.phase, "VOID", res.kind,
                                 deps.settings.instance)
    return done


async def begin_finalize(deps: Deps, order: Order, *, check_expiry: bool = True) -> Saga | None:
    """Durably mark the order as finalizing (from now on it is rolled forward, never expired)
    and start the FINALIZE saga phase. Raises 409 when the hold expired or another request
    owns the finalize."""
    async with deps.seats.acquire() as conn, conn.transaction():
        res = await conn.execute(
            "UPDATE orders SET finalize_started_at = coalesce(finalize_started_at, now()),"
            " updated_at = now() WHERE order_id = $1 AND status = 'AUTHORIZED'"
            " AND (finalize_started_at IS NOT NULL OR hold_expires_at > now())", order.order_id)
        if not res.endswith(" 1"):
            raise Problem("ORDER_STATE_CONFLICT",
                          f"order {order.order_id} is not AUTHORIZED or its hold expired")
        saga = await saga_store.begin(conn, order.order_id, order.strategy, "FINALIZE",
                                      "FINALIZE_STARTED", order.auth_key,
                                      stale_s=deps.settings.saga_stale_s)
        if saga is None:
            cur = await saga_store.get(conn, order.order_id)
            if cur is not None and cur.phase == "FINALIZE" and cur.state == "DONE":
                return None
            raise Problem("ORDER_BUSY", f"another request is finalizing order {order.order_id}")
        if saga.payment_id is None and order.payment_id:
            saga = await saga_store.advance(conn, saga, payment_id=order.payment_id) or saga
    return saga


async def capture_and_issue(deps: Deps, order: Order, saga: Saga | None
                            ) -> dict[str, Any] | None:
    """Capture the payment, then SOLD + tickets (one transaction). Raises 402/409/503.

    Returns the SOLD order's API body when this call wrote it (None: read it back)."""
    pid = order.payment_id or ""
    await deps.failpoints.hit("finalize-before-capture")
    res = await deps.provider.capture(pid, f"capture-{order.order_id}")
    if res.kind == "unknown":
        raise unavailable("the payment provider")
    if not res.ok:
        # the authorization is gone (voided): the order cannot be sold
        async with deps.seats.acquire() as conn, conn.transaction():
            if saga is not None and await saga_store.advance(
                    conn, saga, state="DONE", step="CAPTURE_REFUSED") is None:
                raise unavailable("the order")
            await release_seats(conn, order.order_id)
            await mark_failed(conn, order.order_id, "PAYMENT_FAILED",
                              f"capture refused: {res.error}", from_status="AUTHORIZED")
        raise Problem("PAYMENT_FAILED", f"the payment could not be captured ({res.error})")
    await deps.failpoints.hit("finalize-after-capture")
    if saga is not None:
        return await _sell(deps, order, saga)
    async with deps.seats.acquire() as conn, conn.transaction():  # no saga (bug only)
        if not await sell_seats_and_issue(conn, order):
            cur = await fetch_order(conn, order.order_id)
            if cur is not None and cur.status == "SOLD":
                return None
            log.error("order %s captured but its seats are not held by it", order.order_id)
            raise Problem("ORDER_STATE_CONFLICT",
                          f"order {order.order_id} no longer holds its seats")
        await saga_store.log(conn, order.order_id, "FINALIZE", "SOLD", "ok",
                             deps.settings.instance)
    return None


async def _sell(deps: Deps, order: Order, saga: Saga) -> dict[str, Any] | None:
    """Saga DONE/SOLD (CAS), seats SOLD, order SOLD, tickets and the log line: one statement
    in one transaction (see :func:`target_service.orders.sell_with_saga`). A lost CAS answers
    from the order's state (SOLD: done, else 503); a lost sale commits the CAS only if the order
    is SOLD by now, else rolls back and answers 409."""
    async with deps.seats.acquire() as conn, conn.transaction():
        advanced, sold, tickets = await sell_with_saga(conn, order, saga.version,
                                                       deps.settings.instance)
        if sold is not None:
            return order_json(sold, tickets)
        cur = await fetch_order(conn, order.order_id)
        if cur is not None and cur.status == "SOLD":
            return None
        if not advanced:
            raise unavailable("the order")
        log.error("order %s captured but its seats are not held by it", order.order_id)
        raise Problem("ORDER_STATE_CONFLICT", f"order {order.order_id} no longer holds its seats")


def expired(order: Order) -> bool:
    return order.hold_expires_at is not None and order.hold_expires_at <= datetime.now(UTC)
