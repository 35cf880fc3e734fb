"""Order and seat SQL shared by the API and every strategy.

All seat writes that do not rely on the Redis lock are conditional on the seat's state and
holder, and lock the rows in ``seat_id`` order first (``ORDER BY seat_id FOR UPDATE``), so
concurrent multi-seat writers cannot deadlock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_ORDER_COLS = ("order_id, customer_id, event_id, strategy, status, amount_cents, currency,"
               " payment_id, hold_expires_at, finalize_started_at, failure_code,"
               " failure_detail, created_at, updated_at")


@dataclass(frozen=True, slots=True)
class Order:
    """A row of ``orders`` plus its seat ids (sorted)."""

    order_id: uuid.UUID
    customer_id: uuid.UUID
    event_id: str
    strategy: str
    status: str
    amount_cents: int
    currency: str
    payment_id: str | None
    hold_expires_at: datetime | None
    finalize_started_at: datetime | None
    failure_code: str | None
    failure_detail: str | None
    created_at: datetime
    updated_at: datetime
    seats: tuple[str, ...]

    @property
    def auth_key(self) -> str:
        """The provider idempotency key of this order's one authorization."""
        return f"auth-{self.order_id}"


async def fetch_order(conn: Any, order_id: uuid.UUID,
                      customer_id: uuid.UUID | None = None) -> Order | None:
    """The order (only if it belongs to ``customer_id`` when given)."""
    row = await conn.fetchrow(
        f"SELECT {_ORDER_COLS}, (SELECT array_agg(seat_id ORDER BY seat_id) FROM order_seats"
        f" os WHERE os.order_id = o.order_id) AS seats FROM orders o WHERE order_id = $1",
        order_id)
    if row is None or (customer_id is not None and row["customer_id"] != customer_id):
        return None
    data = dict(row)
    data["seats"] = tuple(data["seats"] or ())
    return Order(**data)


async def fetch_tickets(conn: Any, order_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT ticket_id, seat_id, price_cents, issued_at FROM tickets WHERE order_id = $1"
        " ORDER BY seat_id", order_id)
    return [{"ticket_id": str(r["ticket_id"]), "seat_id": r["seat_id"],
             "price_cents": r["price_cents"], "issued_at": r["issued_at"].isoformat()}
            for r in rows]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def order_json(order: Order, tickets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API representation of an order (``tickets`` only for SOLD orders)."""
    body: dict[str, Any] = {
        "order_id": str(order.order_id), "status": order.status, "event_id": order.event_id,
        "seats": list(order.seats), "amount_cents": order.amount_cents,
        "currency": order.currency, "strategy": order.strategy,
        "hold_expires_at": _iso(order.hold_expires_at), "payment_id": order.payment_id,
        "created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat(),
        "tickets": tickets or [],
    }
    if order.failure_code:
        body["failure"] = {"code": order.failure_code, "detail": order.failure_detail or ""}
    return body


async def insert_order(conn: Any, *, order_id: uuid.UUID, customer_id: uuid.UUID,
                       event_id: str, strategy: str, seats: list[tuple[str, int]],
                       idempotency_key: str | None) -> None:
    """Insert the order and its seats in one statement."""
    amount = sum(p for _, p in seats)
    await conn.execute(
        "WITH o AS (INSERT INTO orders (order_id, customer_id, event_id, strategy,"
        " amount_cents, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6) RETURNING order_id)"
        " INSERT INTO order_seats (order_id, event_id, seat_id, price_cents)"
        " SELECT o.order_id, $3, t.s, t.p FROM o, unnest($7::text[], $8::int[]) AS t(s, p)",
        order_id, customer_id, event_id, strategy, amount, idempotency_key,
        [s for s, _ in seats], [p for _, p in seats])


async def mark_failed(conn: Any, order_id: uuid.UUID, code: str, detail: str,
                      from_status: str = "PENDING") -> bool:
    """``from_status`` -> FAILED with a failure code; False if the order was not in it."""
    res = await conn.execute(
        "UPDATE orders SET status = 'FAILED', failure_code = $2, failure_detail = $3,"
        " updated_at = now(), closed_at = now() WHERE order_id = $1 AND status = $4",
        order_id, code, detail, from_status)
    return bool(res.endswith(" 1"))


async def reserve_seats(conn: Any, order: Order, hold_until: datetime) -> bool:
    """Hold every seat of ``order`` if all are AVAILABLE (all or nothing; caller's txn)."""
    rows = await conn.fetch(
        "WITH locked AS (SELECT seat_id, state FROM seats WHERE event_id = $1"
        "  AND seat_id = ANY($2::text[]) ORDER BY seat_id FOR UPDATE)"
        " UPDATE seats s SET state = 'HELD', holder_order_id = $3, holder_strategy = $4,"
        "  hold_expires_at = $5, updated_at = now()"
        " FROM locked l WHERE s.event_id = $1 AND s.seat_id = l.seat_id"
        "  AND l.state = 'AVAILABLE' RETURNING s.seat_id",
        order.event_id, list(order.seats), order.order_id, order.strategy, hold_until)
    return len(rows) == len(order.seats)


async def release_seats(conn: Any, order_id: uuid.UUID) -> int:
    """Release the seats HELD by ``order_id`` (idempotent)."""
    res = await conn.execute(
        "UPDATE seats SET state = 'AVAILABLE', holder_order_id = NULL, holder_strategy = NULL,"
        " hold_expires_at = NULL, updated_at = now()"
        " WHERE holder_order_id = $1 AND state = 'HELD'", order_id)
    return int(res.split()[-1])


async def mark_authorized(conn: Any, order: Order, payment_id: str,
                          hold_until: datetime) -> bool:
    """PENDING -> AUTHORIZED with the payment and hold expiry; False if not PENDING."""
    res = await conn.execute(
        "UPDATE orders SET status = 'AUTHORIZED', payment_id = $2, hold_expires_at = $3,"
        " authorized_at = now(), updated_at = now() WHERE order_id = $1 AND status = 'PENDING'",
        order.order_id, payment_id, hold_until)
    return bool(res.endswith(" 1"))


async def sell_seats_and_issue(conn: Any, order: Order, *, check_holder: bool = True) -> bool:
    """Seats HELD by the order -> SOLD, one ticket per seat, order SOLD (caller's txn).

    False (caller rolls back) unless every seat was converted and the order was AUTHORIZED.
    ``check_holder=False`` is only used by the lock strategy under bug ``lock-no-fencing``.
    """
    if check_holder:
        rows = await conn.fetch(
            "UPDATE seats SET state = 'SOLD', hold_expires_at = NULL, updated_at = now()"
            " WHERE event_id = $1 AND seat_id = ANY($2::text[]) AND holder_order_id = $3"
            " AND state = 'HELD' RETURNING seat_id",
            order.event_id, list(order.seats), order.order_id)
    else:
        rows = await conn.fetch(
            "UPDATE seats SET state = 'SOLD', holder_order_id = $3, holder_strategy = 'lock',"
            " hold_expires_at = NULL, updated_at = now()"
            " WHERE event_id = $1 AND seat_id = ANY($2::text[]) RETURNING seat_id",
            order.event_id, list(order.seats), order.order_id)
    if len(rows) != len(order.seats):
        return False
    res = await conn.execute(
        "UPDATE orders SET status = 'SOLD', sold_at = now(), updated_at = now()"
        " WHERE order_id = $1 AND status = 'AUTHORIZED'", order.order_id)
    if not res.endswith(" 1"):
        return False
    await conn.execute(
        "INSERT INTO tickets (ticket_id, order_id, event_id, seat_id, price_cents)"
        " SELECT gen_random_uuid(), order_id, event_id, seat_id, price_cents"
        " FROM order_seats WHERE order_id = $1", order.order_id)
    return True


async def close_order(conn: Any, order_id: uuid.UUID, status: str) -> bool:
    """AUTHORIZED -> EXPIRED/CANCELLED (not once finalize started) and release its seats."""
    res = await conn.execute(
        "UPDATE orders SET status = $2, updated_at = now(), closed_at = now()"
        " WHERE order_id = $1 AND status = 'AUTHORIZED' AND finalize_started_at IS NULL",
        order_id, status)
    if not res.endswith(" 1"):
        return False
    await release_seats(conn, order_id)
    return True
