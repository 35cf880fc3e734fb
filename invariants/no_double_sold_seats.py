"""``no_double_sold_seats``: a seat belongs to at most one live order and one ticket.

A seat row records only its last writer, so double sales are found in ``order_seats`` and
``tickets`` (target_service/SCHEMA.md): (a) a seat in several live orders, (b) a seat with several
tickets, (c) a ticket whose seat row is not ``SOLD`` to the ticket's order (someone overwrote
it). One violation per seat, listing every problem and every order involved.
"""

from __future__ import annotations

from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import LIVE_ORDER, findings
from invariants.session import Session

_SQL = f"""
WITH dup_any AS (
    -- a seat in several live orders is in several orders: only those are joined with orders
    SELECT event_id, seat_id FROM order_seats GROUP BY event_id, seat_id HAVING count(*) > 1
), dup_live AS (
    SELECT os.event_id, os.seat_id
    FROM dup_any d
    JOIN order_seats os USING (event_id, seat_id)
    JOIN orders o USING (order_id)
    WHERE {LIVE_ORDER}
    GROUP BY os.event_id, os.seat_id HAVING count(*) > 1
), dup_tickets AS (
    SELECT event_id, seat_id FROM tickets GROUP BY event_id, seat_id HAVING count(*) > 1
), involved AS (
    SELECT d.event_id, d.seat_id, os.order_id, 'seat in several live orders' AS problem
    FROM dup_live d
    JOIN order_seats os USING (event_id, seat_id)
    JOIN orders o ON o.order_id = os.order_id AND {LIVE_ORDER}
    UNION ALL
    SELECT d.event_id, d.seat_id, t.order_id, 'seat with several tickets'
    FROM dup_tickets d JOIN tickets t USING (event_id, seat_id)
    UNION ALL
    SELECT t.event_id, t.seat_id, o2.order_id, 'ticket whose seat is not sold to its order'
    FROM tickets t
    LEFT JOIN seats s USING (event_id, seat_id)
    CROSS JOIN LATERAL (VALUES (t.order_id), (s.holder_order_id)) AS o2(order_id)
    -- no seat, not SOLD, or sold to another order (anti-join: only SOLD seats are hashed)
    WHERE NOT EXISTS (SELECT FROM seats s2
                      WHERE s2.event_id = t.event_id AND s2.seat_id = t.seat_id
                        AND s2.state = 'SOLD' AND s2.holder_order_id = t.order_id)
      AND o2.order_id IS NOT NULL
)
SELECT i.event_id, i.seat_id,
       array_to_string(array_agg(DISTINCT i.problem ORDER BY i.problem), ' + ') AS kind,
       array_agg(DISTINCT i.order_id ORDER BY i.order_id) AS orders,
       array_agg(DISTINCT o.strategy ORDER BY o.strategy)
           FILTER (WHERE o.strategy IS NOT NULL) AS strategies,
       (SELECT s.state FROM seats s WHERE s.event_id = i.event_id AND s.seat_id = i.seat_id)
           AS seat_state,
       (SELECT s.holder_order_id FROM seats s
        WHERE s.event_id = i.event_id AND s.seat_id = i.seat_id) AS seat_holder
FROM involved i LEFT JOIN orders o USING (order_id)
GROUP BY i.event_id, i.seat_id
HAVING $1::text IS NULL OR bool_or(o.strategy = $1) OR bool_and(o.strategy IS NULL)
"""


async def check(ctx: CheckContext, db: Session) -> Findings:
    """No seat is sold, or held by a live order, more than once (no double booking)."""
    return await findings(
        db.seats, _SQL, ctx.strategy, order_by="v.event_id, v.seat_id",
        max_examples=ctx.max_examples,
    )


INVARIANT = Invariant("no_double_sold_seats", check)
