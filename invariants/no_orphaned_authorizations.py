"""``no_orphaned_authorizations``: after recovery no authorization is left open for nothing.

An ``AUTHORIZED`` payment is fine only while its order is ``AUTHORIZED``, names that payment and
is live: its hold has not expired (beyond ``ctx.grace_s``, the sweeper's slack) or its finalize
has started (it will be captured). Anything else holds a customer's money for an order that
will never take it.
"""

from __future__ import annotations

from invariants import payments_slices
from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import findings
from invariants.session import Session

_SQL = """
SELECT p.payment_id, p.order_id, p.amount_cents, o.strategy, o.status AS order_status,
       o.payment_id AS order_payment_id, o.hold_expires_at, o.closed_at,
       p.created_at AS authorized_at, p.updated_at AS payment_updated_at,
       g.phase AS saga_phase, g.state AS saga_state, g.step AS saga_step,
       CASE
           WHEN o.order_id IS NULL THEN 'authorization without an order'
           WHEN o.status <> 'AUTHORIZED'
               THEN 'authorization left open on a ' || o.status || ' order'
           WHEN o.payment_id IS DISTINCT FROM p.payment_id
               THEN 'authorization that is not its order''s payment'
           ELSE 'authorization of an expired hold'
       END AS kind
FROM {authorized} p LEFT JOIN orders o USING (order_id) LEFT JOIN sagas g USING (order_id)
WHERE (o.order_id IS NULL OR o.status <> 'AUTHORIZED'
       OR o.payment_id IS DISTINCT FROM p.payment_id
       OR NOT (o.finalize_started_at IS NOT NULL
               OR o.hold_expires_at > now() - make_interval(secs => $2::float8)))
  AND ($1::text IS NULL OR o.strategy IS NULL OR o.strategy = $1)
"""


async def check(ctx: CheckContext, db: Session) -> Findings:
    """No payment stays authorized (money held) unless its order is live and unexpired."""
    table = await payments_slices.authorized(db)
    return await findings(
        db.seats, _SQL.format(authorized=table), ctx.strategy, ctx.grace_s,
        order_by="v.payment_id", max_examples=ctx.max_examples,
    )


INVARIANT = Invariant("no_orphaned_authorizations", check)
