"""``no_in_doubt_transactions``: after recovery every 2PC transaction is finished, the same way.

(a) ``pg_prepared_xacts`` is empty on both databases (a prepared transaction holds its row locks
forever). (b) The coordinator's decision log agrees with the participants' commit markers
(``twopc_applied`` in each database): a ``COMMIT`` is applied in both, and nothing is applied
without a ``COMMIT``. Gids name their order (``bk2pc:<order>:<phase>:<n>``, plus
``:<participant>`` on a prepared transaction), which is how a problem is attributed to a
strategy and how examples point at the guilty order.
"""

from __future__ import annotations

import re

from invariants import payments_slices
from invariants.base import CheckContext, Findings, Invariant
from invariants.rows import example, findings, merge
from invariants.session import Session

_PREPARED_SQL = """
SELECT gid, prepared, owner, database FROM pg_prepared_xacts
WHERE database = current_database() ORDER BY prepared, gid
"""

#: a coordinator gid, ``bk2pc:<order uuid>:<PHASE>:<8 hex>`` (``:<participant>`` when prepared)
_GID_ORDER = re.compile(r"^bk2pc:([0-9a-f-]{36}):")

_ORDER_OF_GID = (
    "CASE WHEN {gid} ~ '^bk2pc:[0-9a-f-]{{36}}:' THEN substring({gid} from 7 for 36)::uuid END"
)

_DECISIONS_SQL = """
WITH facts AS (
    SELECT coalesce(d.gid, sa.gid, pa.gid) AS gid,
           coalesce(d.order_id, sa.order_id, pa.order_id) AS order_id,
           coalesce(d.phase, sa.phase, pa.phase) AS phase, d.decision,
           sa.gid IS NOT NULL AS applied_in_seats, pa.gid IS NOT NULL AS applied_in_payments
    FROM twopc_decisions d
    FULL JOIN twopc_applied sa ON sa.gid = d.gid
    FULL JOIN {payments_applied} pa ON pa.gid = coalesce(d.gid, sa.gid)
)
SELECT f.gid, f.order_id, f.phase, f.decision, f.applied_in_seats, f.applied_in_payments,
       o.strategy,
       CASE
           WHEN f.decision = 'COMMIT' THEN 'COMMIT decided but not applied in both databases'
           WHEN f.decision = 'ABORT' THEN 'applied although the decision is ABORT'
           ELSE 'applied without any decision'
       END AS kind
FROM facts f LEFT JOIN orders o USING (order_id)
WHERE ((f.decision = 'COMMIT' AND NOT (f.applied_in_seats AND f.applied_in_payments))
       OR (f.decision IS DISTINCT FROM 'COMMIT' AND (f.applied_in_seats OR f.applied_in_payments)))
  AND ($1::text IS NULL OR o.strategy IS NULL OR o.strategy = $1)
"""


def _order_of(gid: str) -> str | None:
    """The order a coordinator gid names (``bk2pc:<order>:<phase>:<n>``), else None."""
    m = _GID_ORDER.match(gid)
    return m.group(1) if m else None


async def _prepared(db: Session, strategy: str | None) -> Findings:
    found = [
        {**example(r), "order_id": _order_of(r["gid"]),
         "kind": f"prepared transaction left in {name}"}
        for name, conn in (("seats", db.seats), ("payments", db.payments))
        for r in await conn.fetch(_PREPARED_SQL)
    ]
    if strategy is not None and found:
        # attribute each gid to its order's strategy; one naming no order counts for every one
        owners = {
            r["gid"]: r["strategy"]
            for r in await db.seats.fetch(
                "SELECT g.gid, o.strategy FROM unnest($1::text[]) AS g(gid)"
                f" LEFT JOIN orders o ON o.order_id = {_ORDER_OF_GID.format(gid='g.gid')}",
                [f["gid"] for f in found],
            )
        }
        found = [f for f in found if owners.get(f["gid"]) in (None, strategy)]
    return Findings(len(found), found)


async def check(ctx: CheckContext, db: Session) -> Findings:
    """No transaction stays in doubt after recovery; both stores apply each 2PC decision alike."""
    applied = await payments_slices.applied(db)
    parts = [
        await _prepared(db, ctx.strategy),
        await findings(
            db.seats,
            _DECISIONS_SQL.format(payments_applied=applied),
            ctx.strategy, order_by="v.gid", max_examples=ctx.max_examples,
        ),
    ]
    return merge(parts, ctx.max_examples)


INVARIANT = Invariant("no_in_doubt_transactions", check)
