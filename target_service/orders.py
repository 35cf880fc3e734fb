"""Order and seat SQL shared by the API and every strategy.

All seat writes that do not rely on the Redis lock are conditional on the seat's state and
holder, and lock the rows in ``seat_id`` order first (``ORDER BY seat_id FOR NO KEY
UPDATE``), so concurrent multi-seat writers cannot deadlock. The lock is the one an update of
non-key columns takes, which a foreign-key check (``FOR KEY SHARE``: a new order's
``order_seats`` row) does not wait for: a seat held by an open or in-doubt transaction still
takes new orders (with ``FOR UPDATE``, creates for it waited out the lock timeout and failed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: the CTE that locks the seats ``$2`` of event ``$1`` in ``seat_id`` order (with each seat's
#: state as locked); every multi-seat write joins it, so it waits for every seat in that
#: order before it changes any (a write that locked in scan order deadlocked with a rival's
#: reserve). ``NO KEY UPDATE``: still exclusive among seat writers, but a new order's foreign
#: key check on a held seat does not wait for it
_LOCKED = ("locked AS (SELECT seat_id, state FROM seats WHERE event_id = $1"
           " AND seat_id = ANY($2::text[]) ORDER BY seat_id FOR NO KEY UPDATE)")

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
    return [_ticket_json(r) for r in rows]


def _ticket_json(r: Any) -> dict[str, Any]:
    return {"ticket_id": str(r["ticket_id"]), "seat_id": r["seat_id"],
            "price_cents": r["price_cents"], "issued_at": r["issued_at"].isoformat()}


def _tickets(records: Any) -> list[dict[str, Any]]:
    """Ticket JSON from an ``array_agg((ticket_id, seat_id, price_cents, issued_at))``."""
    return [{"ticket_id": str(t[0]), "seat_id": t[1], "price_cents": t[2],
             "issued_at": t[3].isoformat()} for t in records or ()]


async def fetch_order_and_tickets(conn: Any, order_id: uuid.UUID
                                  ) -> tuple[Order | None, list[dict[str, Any]]]:
    """The order and, when it is SOLD, its tickets (sorted by seat): one statement, so both
    come from one snapshot (what :func:`fetch_order` then :func:`fetch_tickets` return when
    nothing changes in between)."""
    row = await conn.fetchrow(
        f"SELECT {_ORDER_COLS}, (SELECT array_agg(seat_id ORDER BY seat_id) FROM order_seats"
        f" os WHERE os.order_id = o.order_id) AS seats,"
        f" (SELECT array_agg((t.ticket_id, t.seat_id, t.price_cents, t.issued_at)"
        f"  ORDER BY t.seat_id) FROM tickets t WHERE t.order_id = o.order_id"
        f"  AND o.status = 'SOLD') AS tickets"
        f" FROM orders o WHERE order_id = $1", order_id)
    if row is None:
        return None, []
    data = dict(row)
    tickets = _tickets(data.pop("tickets"))
    data["seats"] = tuple(data["seats"] or ())
    return Order(**data), tickets


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
                       idempotency_key: str | None) -> Order:
    """Insert the order and its seats in one statement; the order as written (what
    :func:`fetch_order` would read back in the same transaction, without the extra read)."""
    amount = sum(p for _, p in seats)
    row = await conn.fetchrow(
        f"WITH o AS (INSERT INTO orders (order_id, customer_id, event_id, strategy,"
        f" amount_cents, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6)"
        f" RETURNING {_ORDER_COLS}),"
        f" os AS (INSERT INTO order_seats (order_id, event_id, seat_id, price_cents)"
        f" SELECT o.order_id, $3, t.s, t.p FROM o, unnest($7::text[], $8::int[]) AS t(s, p))"
        f" SELECT {_ORDER_COLS}, (SELECT array_agg(t.s ORDER BY t.s)"
        f" FROM unnest($7::text[]) AS t(s)) AS seats FROM o",
        order_id, customer_id, event_id, strategy, amount, idempotency_key,
        [s for s, _ in seats], [p for _, p in seats])
    data = dict(row)
    data["seats"] = tuple(data["seats"] or ())
    return Order(**data)


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
        f"WITH {_LOCKED} UPDATE seats s SET state = 'HELD', holder_order_id = $3,"
        "  holder_strategy = $4, hold_expires_at = $5, updated_at = now()"
        " FROM locked l WHERE s.event_id = $1 AND s.seat_id = l.seat_id"
        "  AND l.state = 'AVAILABLE' RETURNING s.seat_id",
        order.event_id, list(order.seats), order.order_id, order.strategy, hold_until)
    return len(rows) == len(order.seats)


async def release_seats(conn: Any, order_id: uuid.UUID) -> int:
    """Release the seats HELD by ``order_id`` (idempotent)."""
    res = await conn.execute(
        "WITH locked AS (SELECT event_id, seat_id FROM seats"
        "  WHERE holder_order_id = $1 AND state = 'HELD' ORDER BY seat_id"
        "  FOR NO KEY UPDATE)"
        " UPDATE seats s SET state = 'AVAILABLE', holder_order_id = NULL,"
        "  holder_strategy = NULL, hold_expires_at = NULL, updated_at = now()"
        " FROM locked l WHERE s.event_id = l.event_id AND s.seat_id = l.seat_id"
        "  AND s.holder_order_id = $1 AND s.state = 'HELD'", order_id)
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
            f"WITH {_LOCKED} UPDATE seats s SET state = 'SOLD', hold_expires_at = NULL,"
            " updated_at = now() FROM locked l WHERE s.event_id = $1"
            " AND s.seat_id = l.seat_id AND s.holder_order_id = $3 AND s.state = 'HELD'"
            " RETURNING s.seat_id",
            order.event_id, list(order.seats), order.order_id)
    else:
        rows = await conn.fetch(
            f"WITH {_LOCKED} UPDATE seats s SET state = 'SOLD', holder_order_id = $3,"
            " holder_strategy = 'lock', hold_expires_at = NULL, updated_at = now()"
            " FROM locked l WHERE s.event_id = $1 AND s.seat_id = l.seat_id"
            " RETURNING s.seat_id",
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


def _written(row: Any, seats: tuple[str, ...]) -> Order:
    return Order(**{k: row[k] for k in _ORDER_FIELDS}, seats=seats)


_ORDER_FIELDS = tuple(c.strip() for c in _ORDER_COLS.split(","))


async def authorize_with_saga(conn: Any, order: Order, saga_version: int, payment_id: str,
                              hold_until: datetime) -> tuple[bool, Order | None]:
    """One statement doing what the saga CAS to DONE/AUTHORIZED (with ``payment_id``) and
    then :func:`mark_authorized` do in one transaction: the order moves only if the CAS won.
    Returns (saga advanced, the AUTHORIZED order as written, or None if it was not PENDING)."""
    row = await conn.fetchrow(
        f"WITH s AS (UPDATE sagas SET state = 'DONE', step = 'AUTHORIZED',"
        f"  payment_id = coalesce($3, payment_id), version = version + 1, updated_at = now()"
        f"  WHERE order_id = $1 AND version = $2 RETURNING order_id),"
        f" o AS (UPDATE orders SET status = 'AUTHORIZED', payment_id = $3,"
        f"  hold_expires_at = $4, authorized_at = now(), updated_at = now()"
        f"  WHERE order_id = $1 AND status = 'PENDING' AND EXISTS (SELECT 1 FROM s)"
        f"  RETURNING {_ORDER_COLS})"
        f" SELECT EXISTS (SELECT 1 FROM s) AS advanced, o.* FROM (SELECT 1) AS one"
        f" LEFT JOIN o ON true",
        order.order_id, saga_version, payment_id, hold_until)
    if row["order_id"] is None:
        return bool(row["advanced"]), None
    return True, _written(row, order.seats)


async def sell_with_saga(conn: Any, order: Order, saga_version: int, instance: str
                         ) -> tuple[bool, Order | None, list[dict[str, Any]]]:
    """One statement doing what, in the caller's transaction, the saga CAS to DONE/SOLD, then
    :func:`sell_seats_and_issue` and the ``saga_log`` line do: each step runs only if the one
    before succeeded (CAS won; every seat converted; order AUTHORIZED -> SOLD). Returns
    (saga advanced, the SOLD order as written or None, its tickets sorted by seat); on
    (True, None) the caller decides whether to commit the partial work, exactly as after a
    failed :func:`sell_seats_and_issue`."""
    row = await conn.fetchrow(
        f"WITH s AS (UPDATE sagas SET state = 'DONE', step = 'SOLD', version = version + 1,"
        f"  updated_at = now() WHERE order_id = $3 AND version = $4 RETURNING order_id),"
        f" {_LOCKED},"
        f" st AS (UPDATE seats x SET state = 'SOLD', hold_expires_at = NULL,"
        f"  updated_at = now() FROM locked l WHERE x.event_id = $1 AND x.seat_id = l.seat_id"
        f"  AND x.holder_order_id = $3 AND x.state = 'HELD' AND EXISTS (SELECT 1 FROM s)"
        f"  RETURNING x.seat_id),"
        f" o AS (UPDATE orders SET status = 'SOLD', sold_at = now(), updated_at = now()"
        f"  WHERE order_id = $3 AND status = 'AUTHORIZED'"
        f"  AND (SELECT count(*) FROM st) = $5 RETURNING {_ORDER_COLS}),"
        f" t AS (INSERT INTO tickets (ticket_id, order_id, event_id, seat_id, price_cents)"
        f"  SELECT gen_random_uuid(), order_id, event_id, seat_id, price_cents"
        f"  FROM order_seats WHERE order_id = $3 AND EXISTS (SELECT 1 FROM o)"
        f"  RETURNING ticket_id, seat_id, price_cents, issued_at),"
        f" l AS (INSERT INTO saga_log (order_id, phase, step, outcome, instance)"
        f"  SELECT $3, 'FINALIZE', 'SOLD', 'ok', $6 WHERE EXISTS (SELECT 1 FROM o))"
        f" SELECT EXISTS (SELECT 1 FROM s) AS advanced, o.*,"
        f" (SELECT array_agg((t.ticket_id, t.seat_id, t.price_cents, t.issued_at)"
        f"  ORDER BY t.seat_id) FROM t) AS tickets FROM (SELECT 1) AS one LEFT JOIN o ON true",
        order.event_id, list(order.seats), order.order_id, saga_version, len(order.seats),
        instance)
    if row["order_id"] is None:
        return bool(row["advanced"]), None, []
    return True, _written(row, order.seats), _tickets(row["tickets"])


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
