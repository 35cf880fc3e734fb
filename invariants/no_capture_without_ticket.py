"""``no_capture_without_ticket``: money taken means tickets issued, for exactly that money.

Every ``CAPTURED`` payment's order must exist, be ``SOLD``, have one ticket per ordered seat
(the very seats it ordered), and the captured amount, the order amount and the tickets' prices
must all agree.
"""

from __future__ import annotations

from invariants import payments_slices, shared
from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import findings
from invariants.session import Session

# per order: its seats, tickets and money, shared with no_ticket_without_capture
_SQL = """
SELECT p.payment_id, p.order_id, p.amount_cents AS captured_cents, m.strategy, m.order_status,
       m.order_cents, m.seats, m.tickets, m.ticket_cents,
       CASE
           WHEN m.missing THEN 'capture without an order'
           WHEN m.order_status <> 'SOLD' THEN 'capture on an order that is not SOLD'
           WHEN m.tickets = 0 THEN 'capture without tickets'
           WHEN m.tickets <> m.seats OR m.tickets_for_ordered_seats <> m.tickets
               THEN 'tickets do not match the ordered seats'
           WHEN p.amount_cents <> m.order_cents
               THEN 'captured amount differs from the order amount'
           ELSE 'ticket prices do not add up to the order amount'
       END AS kind
FROM {captured} p JOIN {order_money} m USING (order_id)
WHERE (m.missing OR m.order_status <> 'SOLD' OR m.tickets = 0 OR m.tickets <> m.seats
       OR m.tickets_for_ordered_seats <> m.tickets OR p.amount_cents <> m.order_cents
       OR m.ticket_cents <> m.order_cents)
  AND ($1::text IS NULL OR m.strategy IS NULL OR m.strategy = $1)
"""


async def check(ctx: CheckContext, db: Session) -> Findings:
    """No customer is charged without receiving the tickets, for the right amount."""
    order_money = await shared.order_money(db)  # first: it reads tickets before captures
    sql = _SQL.format(captured=await payments_slices.captured(db), order_money=order_money)
    return await findings(
        db.seats, sql, ctx.strategy,
        order_by="v.payment_id", max_examples=ctx.max_examples,
    )


INVARIANT = Invariant("no_capture_without_ticket", check)
