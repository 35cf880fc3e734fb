"""Customer cancellation: PENDING -> CANCELLED; AUTHORIZED -> CANCELLED with seats released and
the authorization voided (like a hold expiry, but on request)."""

from __future__ import annotations

from typing import Any

from target_service import saga_store
from target_service.context import Deps
from target_service.orders import Order, close_order
from target_service.payment_flow import finish_void
from target_service.problems import Problem


async def cancel(deps: Deps, order: Order, twopc: Any) -> None:
    """Cancel ``order``; idempotent (CANCELLED answers again); 409 from other states."""
    if order.status == "CANCELLED":
        return
    if order.status == "PENDING":
        async with deps.seats.acquire() as conn, conn.transaction():
            # The row first, the saga after: a confirm share-locks the row before it starts
            # its saga (strategies.base.lock_pending), so a saga seen here is all there is.
            res = await conn.execute(
                "UPDATE orders SET status = 'CANCELLED', updated_at = now(), closed_at = now()"
                " WHERE order_id = $1 AND status = 'PENDING'", order.order_id)
            if res.endswith(" 1"):
                saga = await saga_store.get(conn, order.order_id)
                if saga is not None and saga.state != "DONE":  # rolls the cancel back
                    raise Problem("ORDER_BUSY", "the order is being confirmed; retry")
                return
        raise Problem("ORDER_STATE_CONFLICT", "the order changed; retry")
    if order.status != "AUTHORIZED" or order.finalize_started_at is not None:
        raise Problem("ORDER_STATE_CONFLICT", f"order {order.order_id} is {order.status}")
    if order.strategy == "2pc":
        if not await twopc.close(order, "CANCELLED"):
            raise Problem("ORDER_STATE_CONFLICT", "the order can no longer be cancelled")
        return
    async with deps.seats.acquire() as conn, conn.transaction():
        saga = await saga_store.get(conn, order.order_id)
        if saga is None or not await close_order(conn, order.order_id, "CANCELLED"):
            raise Problem("ORDER_STATE_CONFLICT", "the order can no longer be cancelled")
        saga = await saga_store.advance(conn, saga, phase="CANCEL", state="COMPENSATING",
                                        step="SEATS_RELEASED", payment_id=order.payment_id)
        if saga is None:
            raise Problem("ORDER_BUSY", "the order is busy; retry")
    await finish_void(deps, order, saga)  # a void left owed is finished by the sweeper
