"""``no_ticket_without_capture``: every issued ticket is paid for, exactly once.

Each order that has tickets must have exactly one ``CAPTURED`` payment, and it must equal the
sum of the tickets' prices: no free tickets, no double charge.
"""

from __future__ import annotations

from invariants import shared
from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import findings
from invariants.session import Session

# per order: its tickets and captures, shared with no_capture_without_ticket
_SQL = """
SELECT m.order_id, m.strategy, m.order_status, m.tickets, m.ticket_cents,
       coalesce(m.captures, 0) AS captures, m.captured_cents,
       ARRAY(SELECT unnest(m.payment_ids) ORDER BY 1) AS payment_ids,
       CASE
           WHEN m.captures IS NULL THEN 'tickets without a captured payment'
           WHEN m.captures > 1 THEN 'tickets paid by several captures'
           ELSE 'captured amount differs from the ticket prices'
       END AS kind
FROM {order_money} m
WHERE m.tickets > 0
  AND (m.captures IS NULL OR m.captures <> 1 OR m.captured_cents <> m.ticket_cents)
  AND ($1::text IS NULL OR m.strategy IS NULL OR m.strategy = $1)
"""


async def check(ctx: CheckContext, db: Session) -> Findings:
    """No ticket is issued without exactly one capture of its price (no free seats)."""
    return await findings(
        db.seats, _SQL.format(order_money=await shared.order_money(db)), ctx.strategy,
        order_by="v.order_id", max_examples=ctx.max_examples,
    )


INVARIANT = Invariant("no_ticket_without_capture", check)
