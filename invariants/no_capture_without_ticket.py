"""``no_capture_without_ticket``: money taken means tickets issued, for exactly that money.

Every ``CAPTURED`` payment's order must exist, be ``SOLD``, have one ticket per ordered seat
(the very seats it ordered), and the captured amount, the order amount and the tickets' prices
must all agree.
"""

from __future__ import annotations

from invariants import payments_slices
from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import findings
from invariants.session import Session

_SQL = """
WITH per_order AS (
    -- each captured order's seats and tickets, matched seat by seat in one pass
    SELECT coalesce(os.order_id, t.order_id) AS order_id,
           count(os.seat_id) AS seats, count(t.ticket_id) AS tickets,
           coalesce(sum(t.price_cents), 0) AS ticket_cents,
           count(*) FILTER (WHERE os.seat_id IS NOT NULL AND t.ticket_id IS NOT NULL)
               AS tickets_for_ordered_seats
    FROM (SELECT * FROM order_seats WHERE order_id IN (SELECT order_id FROM {captured})) os
    FULL JOIN (SELECT * FROM tickets WHERE order_id IN (SELECT order_id FROM {captured})) t
           ON t.order_id = os.order_id AND t.seat_id = os.seat_id
    GROUP BY 1
), joined AS (
    SELECT p.payment_id, p.order_id, p.amount_cents AS captured_cents, o.strategy,
           o.status AS order_status, o.amount_cents AS order_cents,
           coalesce(f.seats, 0) AS seats, coalesce(f.tickets, 0) AS tickets,
           coalesce(f.ticket_cents, 0) AS ticket_cents,
           coalesce(f.tickets_for_ordered_seats, 0) AS tickets_for_ordered_seats,
           o.order_id IS NULL AS missing
    FROM {captured} p
    LEFT JOIN orders o USING (order_id)
    LEFT JOIN per_order f USING (order_id)
)
SELECT payment_id, order_id, captured_cents, strategy, order_status, order_cents, seats,
       tickets, ticket_cents,
       CASE
           WHEN missing THEN 'capture without an order'
           WHEN order_status <> 'SOLD' THEN 'capture on an order that is not SOLD'
           WHEN tickets = 0 THEN 'capture without tickets'
           WHEN tickets <> seats OR tickets_for_ordered_seats <> tickets
               THEN 'tickets do not match the ordered seats'
           WHEN captured_cents <> order_cents THEN 'captured amount differs from the order amount'
           ELSE 'ticket prices do not add up to the order amount'
       END AS kind
FROM joined
WHERE (missing OR order_status <> 'SOLD' OR tickets = 0 OR tickets <> seats
       OR tickets_for_ordered_seats <> tickets OR captured_cents <> order_cents
       OR ticket_cents <> order_cents)
  AND ($1::text IS NULL OR strategy IS NULL OR strategy = $1)
"""


async def check(ctx: CheckContext, db: Session) -> Findings:
    """No customer is charged without receiving the tickets, for the right amount."""
    table = await payments_slices.captured(db)
    return await findings(
        db.seats, _SQL.format(captured=table), ctx.strategy,
        order_by="v.payment_id", max_examples=ctx.max_examples,
    )


INVARIANT = Invariant("no_capture_without_ticket", check)
