"""The strategy interface and the order-state checks every strategy shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from target_service.context import Deps
from target_service.orders import Order, fetch_order
from target_service.problems import Problem


class Strategy(Protocol):
    """Confirm (hold seats + authorize) and finalize (capture + issue) one order.

    Both are idempotent by order state: on return the order is AUTHORIZED (confirm) or SOLD
    (finalize); otherwise they raise :class:`Problem` (402/409 definite, 503 unknown outcome).
    They may return the order's API body as the call itself wrote it (saves reading it back);
    None means "read the order".
    """

    name: str

    async def confirm(self, order: Order, payment_token: str) -> dict[str, Any] | None: ...

    async def finalize(self, order: Order) -> dict[str, Any] | None: ...


def hold_deadline(deps: Deps) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=deps.settings.hold_ttl_s)


def failure_problem(order: Order) -> Problem:
    """The definite error a FAILED order answers with."""
    code = order.failure_code or ""
    detail = order.failure_detail or f"order {order.order_id} failed"
    if code == "PAYMENT_FAILED":
        return Problem("PAYMENT_FAILED", detail)
    if code == "SEAT_UNAVAILABLE":
        return Problem("SEAT_UNAVAILABLE", detail)
    return Problem("ORDER_STATE_CONFLICT", f"order {order.order_id} is FAILED ({code})")


def confirm_precheck(order: Order) -> bool:
    """True when confirm must run; False when already AUTHORIZED; raises otherwise."""
    if order.status == "PENDING":
        return True
    if order.status == "AUTHORIZED":
        return False
    if order.status == "FAILED":
        raise failure_problem(order)
    raise Problem("ORDER_STATE_CONFLICT", f"order {order.order_id} is {order.status}")


class AlreadyConfirmed(Exception):
    """Raised inside a confirm's transaction (rolling its start back) when another request
    confirmed the order meanwhile: the caller answers from the order's state."""


async def lock_pending(conn: Any, order: Order) -> None:
    """Share-lock the order's row for the caller's transaction, which must still be PENDING:
    :class:`AlreadyConfirmed` when it is AUTHORIZED, :func:`confirm_precheck`'s problem for
    any other state.

    A confirm takes this lock right after its saga row (so always in the order saga row, then
    order row, as the statement that marks it AUTHORIZED does), and a cancel of a PENDING order
    updates the row before it looks for a saga; so the two serialize: a cancel never slips
    between a confirm's start and its check (which would leave the confirm's authorization on
    a CANCELLED order).
    """
    status = await conn.fetchval("SELECT status FROM orders WHERE order_id = $1 FOR SHARE",
                                 order.order_id)
    if status == "PENDING":
        return
    current = await fetch_order(conn, order.order_id)
    if current is None:
        raise Problem("ORDER_NOT_FOUND", f"order {order.order_id} is gone")
    if not confirm_precheck(current):
        raise AlreadyConfirmed(str(order.order_id))
    raise Problem("ORDER_STATE_CONFLICT", f"order {order.order_id} is {current.status}")


def finalize_precheck(order: Order) -> bool:
    """True when finalize must run; False when already SOLD; raises otherwise."""
    if order.status == "SOLD":
        return False
    if order.status != "AUTHORIZED":
        if order.status == "FAILED" and order.failure_code == "PAYMENT_FAILED":
            raise failure_problem(order)
        raise Problem("ORDER_STATE_CONFLICT",
                      f"order {order.order_id} is {order.status}, not AUTHORIZED")
    if order.finalize_started_at is None and order.hold_expires_at is not None \
            and order.hold_expires_at <= datetime.now(UTC):
        raise Problem("ORDER_STATE_CONFLICT", f"the hold of order {order.order_id} expired")
    return True


def unavailable(what: str) -> Problem:
    return Problem("DEPENDENCY_UNAVAILABLE", f"{what} did not answer; the outcome is unknown"
                   " until recovery; retry with the same Idempotency-Key or GET the order")
