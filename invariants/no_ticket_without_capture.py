"""``no_ticket_without_capture``: every issued ticket is paid for, exactly once.

Each order that has tickets must have exactly one ``CAPTURED`` payment, and it must equal the
sum of the tickets' prices: no free tickets, no double charge.
"""

from __future__ import annotations

from invariants import payments_slices
from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import findings
from invariants.session import Session

_SQL = """
WITH t AS (
    SELECT order_id, count(*) AS tickets, sum(price_cents) AS ticket_cents
    FROM tickets GROUP BY order_id
), c AS (
    SELECT order_id, count(*) AS captures, sum(amount_cents) AS captured_cents,
           array_agg(payment_id) AS payment_ids
    FROM {captured} GROUP BY order_id
)
SELECT t.order_id, o.strategy, o.status AS order_status, t.tickets, t.ticket_cents,
       coalesce(c.captures, 0) AS captures, c.captured_cents,
       ARRAY(SELECT unnest(c.payment_ids) ORDER BY 1) AS payment_ids,
       CASE
           WHEN c.captures IS NULL THEN 'tickets without a captured payment'
           WHEN c.captures > 1 THEN 'tickets paid by several captures'
           ELSE 'captured amount differs from the ticket prices'
       END AS kind
FROM t
LEFT JOIN c USING (order_id)
LEFT JOIN orders o USING (order_id)
WHERE (c.captures IS NULL OR c.captures <> 1 OR c.captured_cents <> t.ticket_cents)
  AND ($1::text IS NULL OR o.strategy IS NULL OR o.strategy = $1)
"""


async def check(ctx: CheckContext, db: Session) -> Findings:
    """No ticket is issued without exactly one capture of its price (no free seats)."""
    table = await payments_slices.captured(db)
    return await findings(
        db.seats, _SQL.format(captured=table), ctx.strategy,
        order_by="v.order_id", max_examples=ctx.max_examples,
    )


INVARIANT = Invariant("no_ticket_without_capture", check)
