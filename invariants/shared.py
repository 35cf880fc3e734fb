"""Work several checkers share, made at most once per :class:`~invariants.session.Session`.

Each function computes its value on first use in a session and hands the same value to every
later caller of that session (see :meth:`Session.scratch` and :meth:`Session.remember`), so a
checker run alone still gets it and checkers run together pay for it once.
"""

from __future__ import annotations

import asyncio

from invariants import payments_slices
from invariants.base import CheckContext
from invariants.history_ops import Op, operations
from invariants.session import Session


async def history_ops(ctx: CheckContext, db: Session) -> tuple[Op, ...]:
    """:func:`~invariants.history_ops.operations` of ``ctx.history`` for ``ctx.strategy``
    (``ctx.history`` must be given), rebuilt only for another history or strategy. The parse
    runs in a worker thread, so the event loop keeps serving both lanes' queries meanwhile."""
    history = ctx.history
    if history is None:
        raise ValueError("no client history given")

    async def parse() -> tuple[Op, ...]:
        return tuple(await asyncio.to_thread(operations, history, ctx.strategy))

    return await db.remember(("history_ops", ctx.strategy), history, parse)


_ORDER_MONEY_SQL = """
WITH f AS (
    -- each order's seats (of captured orders only) and tickets, matched seat by seat
    SELECT coalesce(os.order_id, t.order_id) AS order_id,
           count(os.seat_id) AS seats, count(t.ticket_id) AS tickets,
           coalesce(sum(t.price_cents), 0) AS ticket_cents,
           count(*) FILTER (WHERE os.seat_id IS NOT NULL AND t.ticket_id IS NOT NULL)
               AS tickets_for_ordered_seats
    FROM (SELECT order_id, seat_id FROM order_seats
          WHERE order_id IN (SELECT order_id FROM {captured})) os
    FULL JOIN {tickets} t
           ON t.order_id = os.order_id AND t.seat_id = os.seat_id
    GROUP BY 1
), c AS (
    SELECT order_id, count(*) AS captures, sum(amount_cents) AS captured_cents,
           array_agg(payment_id) AS payment_ids
    FROM {captured} GROUP BY order_id
)
SELECT order_id, o.order_id IS NULL AS missing, o.strategy, o.status AS order_status,
       o.amount_cents AS order_cents,
       coalesce(f.seats, 0) AS seats, coalesce(f.tickets, 0) AS tickets,
       coalesce(f.ticket_cents, 0) AS ticket_cents,
       coalesce(f.tickets_for_ordered_seats, 0) AS tickets_for_ordered_seats,
       c.captures, c.captured_cents, c.payment_ids
FROM f FULL JOIN c USING (order_id) LEFT JOIN orders o USING (order_id)
"""


async def order_money(db: Session) -> str:
    """Temp table, one row per order that has a ``CAPTURED`` payment or a ticket: its order's
    ``missing`` / ``strategy`` / ``order_status`` / ``order_cents``; its ``tickets`` and their
    ``ticket_cents``; for a captured order also its ordered ``seats`` and the
    ``tickets_for_ordered_seats`` (0 otherwise); its ``captures``, ``captured_cents`` and
    ``payment_ids`` (NULL when none). Counts are exact: a ticket or ordered seat counts once.
    The tickets are read before the captures (see below)."""
    # Tickets first, captures after: a saga or lock order is captured before its tickets are
    # issued, so every ticket of the snapshot has its capture in the later one, and a check
    # during the load (no_ticket_without_capture holds at any moment) sees no ticket issued
    # between the two reads without its capture (it did, reading captures first).
    tickets = await db.scratch(
        "tickets_now", "SELECT order_id, seat_id, ticket_id, price_cents FROM tickets",
        key="order_id")
    captured = await payments_slices.captured(db)
    return await db.scratch(
        "order_money", _ORDER_MONEY_SQL.format(captured=captured, tickets=tickets),
        key="order_id")
