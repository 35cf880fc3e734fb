"""Saga orchestration: each step commits locally; failures run idempotent compensations.

Confirm: (1) one transaction holds the seats and writes the saga row (CONFIRM/RUNNING);
(2) authorize over HTTP with the order's own idempotency key; (3) one statement marks the
saga DONE (CAS) and, only then, the order AUTHORIZED. Decline -> release seats, FAILED, 402.
Timeout or provider error -> release seats, FAILED, void-by-key (tombstone), 503; a void that
cannot be delivered stays COMPENSATING for the sweeper. A crash anywhere leaves a RUNNING saga
that the sweeper compensates once stale. Finalize: see :mod:`target_service.payment_flow`.
"""

from __future__ import annotations

from typing import Any

from target_service import saga_store
from target_service.context import Deps
from target_service.orders import (
    Order,
    authorize_with_saga,
    fetch_order,
    mark_failed,
    order_json,
    release_seats,
    reserve_seats,
)
from target_service.payment_flow import begin_finalize, capture_and_issue, fail_confirm
from target_service.problems import Problem
from target_service.strategies.base import (
    AlreadyConfirmed,
    confirm_precheck,
    failure_problem,
    finalize_precheck,
    hold_deadline,
    lock_pending,
    unavailable,
)


class SagaStrategy:
    """The saga strategy (``strategy: "saga"``)."""

    name = "saga"

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def confirm(self, order: Order, payment_token: str) -> dict[str, Any] | None:
        if not confirm_precheck(order):
            return None
        d = self.deps
        hold_until = hold_deadline(d)
        try:
            async with d.seats.acquire() as conn, conn.transaction():
                saga = await saga_store.begin(conn, order.order_id, self.name, "CONFIRM",
                                              "SEATS_RESERVED", order.auth_key,
                                              stale_s=d.settings.saga_stale_s)
                if saga is None:
                    raise Problem("ORDER_BUSY", f"order {order.order_id} is being confirmed")
                await lock_pending(conn, order)
                if not await reserve_seats(conn, order, hold_until):
                    await release_seats(conn, order.order_id)
                    await saga_store.advance(conn, saga, state="DONE", step="SEAT_CONFLICT")
                    await mark_failed(conn, order.order_id, "SEAT_UNAVAILABLE",
                                      "a requested seat is held or sold")
                    conflict = True
                else:
                    conflict = False
        except AlreadyConfirmed:
            return None
        if conflict:
            raise Problem("SEAT_UNAVAILABLE", "a requested seat is held or sold")
        await d.failpoints.hit("saga-after-reserve")
        res = await d.provider.authorize(key=order.auth_key, order_id=order.order_id,
                                         amount_cents=order.amount_cents, token=payment_token)
        await d.failpoints.hit("saga-after-authorize")
        if res.ok and res.payment is not None:
            pid = str(res.payment["payment_id"])
            async with d.seats.acquire() as conn:  # one statement: saga CAS, then order
                _, written = await authorize_with_saga(conn, order, saga.version, pid,
                                                       hold_until)
            if written is not None:
                return order_json(written)
            await self._answer_from_state(order)
            return None
        if d.bug("saga-no-compensation"):
            # BUG saga-no-compensation: the failed/timed-out payment step is not compensated:
            # the order is marked FAILED but its seats stay HELD and a (possible) authorization
            # is never voided; the saga is closed so the sweeper never repairs it either.
            async with d.seats.acquire() as conn, conn.transaction():
                await saga_store.advance(conn, saga, state="DONE", step="FAILED_UNCOMPENSATED")
                await mark_failed(conn, order.order_id,
                                  "PAYMENT_FAILED" if res.kind == "declined"
                                  else "DEPENDENCY_UNAVAILABLE", f"authorize: {res.kind}")
        elif res.kind == "declined":
            await fail_confirm(d, order, saga, "PAYMENT_FAILED", "the payment was declined",
                               void=False)
        else:
            await fail_confirm(d, order, saga, "DEPENDENCY_UNAVAILABLE",
                               f"authorize failed ({res.kind}: {res.error})", void=True)
        if res.kind == "declined":
            raise Problem("PAYMENT_FAILED", "the payment was declined")
        if res.kind == "conflict":
            raise Problem("ORDER_STATE_CONFLICT", "the order's authorization was voided")
        raise unavailable("the payment provider")

    async def _answer_from_state(self, order: Order) -> None:
        """Someone else (the sweeper) moved the saga; answer from the order's state."""
        async with self.deps.seats.acquire() as conn:
            cur = await fetch_order(conn, order.order_id)
        if cur is None or cur.status == "PENDING":
            raise unavailable("the order")
        if cur.status == "FAILED":
            raise failure_problem(cur)
        if cur.status != "AUTHORIZED":
            raise Problem("ORDER_STATE_CONFLICT", f"order {order.order_id} is {cur.status}")

    async def finalize(self, order: Order) -> dict[str, Any] | None:
        if not finalize_precheck(order):
            return None
        d = self.deps
        if d.bug("capture-not-durable"):
            # BUG capture-not-durable: nothing durable is written before the capture, so a
            # crash (or a lost write) between capture and SOLD leaves a captured payment that
            # no sweeper rolls forward; the hold later expires and the money is kept.
            return await capture_and_issue(d, order, None)
        saga = await begin_finalize(d, order)
        if saga is None:
            return None
        return await capture_and_issue(d, order, saga)
