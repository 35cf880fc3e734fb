"""``seat_conservation``: seats are neither created, lost nor stuck.

(a) Per event, the seat rows partition the capacity: available + held + sold = capacity.
(b) After settling (``ctx.grace_s`` past its expiry) no hold is left, unless its order's
finalize has started (it is rolled forward). (c) Every held seat is held by an ``AUTHORIZED``
order, every sold seat is sold to a ``SOLD`` order, and that order asked for the seat.
(d) Every seat of a live ``AUTHORIZED`` order is still held by it (or sold to it).
"""

from __future__ import annotations

from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import findings, merge
from invariants.session import Session

_CAPACITY_SQL = """
SELECT e.event_id, e.capacity, coalesce(s.available, 0) AS available,
       coalesce(s.held, 0) AS held, coalesce(s.sold, 0) AS sold,
       'available + held + sold <> capacity' AS kind
FROM events e
LEFT JOIN (
    -- counted per event before the join: a small aggregate instead of joining every seat
    SELECT event_id, count(*) FILTER (WHERE state = 'AVAILABLE') AS available,
           count(*) FILTER (WHERE state = 'HELD') AS held,
           count(*) FILTER (WHERE state = 'SOLD') AS sold
    FROM seats GROUP BY event_id
) s USING (event_id)
WHERE coalesce(s.available, 0) + coalesce(s.held, 0) + coalesce(s.sold, 0) <> e.capacity
"""

_SEATS_SQL = """
SELECT s.event_id, s.seat_id, s.state AS seat_state, s.holder_order_id,
       s.hold_expires_at, o.status AS order_status, o.strategy,
       CASE
           WHEN o.order_id IS NULL THEN 'seat ' || s.state || ' by a missing order'
           WHEN s.state = 'HELD' AND o.status <> 'AUTHORIZED'
               THEN 'seat still HELD by a ' || o.status || ' order'
           WHEN s.state = 'SOLD' AND o.status <> 'SOLD'
               THEN 'seat SOLD to a ' || o.status || ' order'
           WHEN os.order_id IS NULL
               THEN 'seat ' || s.state || ' by an order that did not ask for it'
           ELSE 'hold outlived its expiry'
       END AS kind
FROM seats s
LEFT JOIN orders o ON o.order_id = s.holder_order_id
LEFT JOIN order_seats os
       ON os.order_id = s.holder_order_id AND os.seat_id = s.seat_id AND os.event_id = s.event_id
WHERE s.state IN ('HELD', 'SOLD')
  AND (o.order_id IS NULL
       OR (s.state = 'HELD' AND o.status <> 'AUTHORIZED')
       OR (s.state = 'SOLD' AND o.status <> 'SOLD')
       OR os.order_id IS NULL
       OR (s.state = 'HELD' AND o.finalize_started_at IS NULL
           AND s.hold_expires_at < now() - make_interval(secs => $2::float8)))
  AND ($1::text IS NULL OR o.strategy IS NULL OR o.strategy = $1)
"""

_LOST_HOLDS_SQL = """
SELECT os.event_id, os.seat_id, o.order_id, o.strategy, o.hold_expires_at,
       s.state AS seat_state, s.holder_order_id,
       'seat of a live AUTHORIZED order is not held by it' AS kind
FROM orders o
JOIN order_seats os USING (order_id)
LEFT JOIN seats s ON s.event_id = os.event_id AND s.seat_id = os.seat_id
WHERE o.status = 'AUTHORIZED'
  AND (o.hold_expires_at > now() OR o.finalize_started_at IS NOT NULL)
  AND (s.seat_id IS NULL OR s.state = 'AVAILABLE' OR s.holder_order_id <> o.order_id)
  AND ($1::text IS NULL OR o.strategy = $1)
"""


async def check(ctx: CheckContext, db: Session) -> Findings:
    """Seats add up to each event's capacity, and no seat stays held or sold for nothing."""
    n = ctx.max_examples
    return merge(
        [
            await findings(db.seats, _CAPACITY_SQL, order_by="v.event_id", max_examples=n),
            await findings(db.seats, _SEATS_SQL, ctx.strategy, ctx.grace_s,
                           order_by="v.event_id, v.seat_id", max_examples=n),
            await findings(db.seats, _LOST_HOLDS_SQL, ctx.strategy,
                           order_by="v.order_id, v.seat_id", max_examples=n),
        ],
        n,
    )


INVARIANT = Invariant("seat_conservation", check)
