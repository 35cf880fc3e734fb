"""``idempotent_effects``: one (customer, Idempotency-Key), one effect, one answer.

Database: (a) at most one order per (customer, key) of ``POST /api/orders``; (b) at most one
live payment (``AUTHORIZED``/``CAPTURED``/``REFUNDED``) per order, so a retried confirm never
authorizes or charges twice. History: per (customer, key), every answer marked
``Idempotent-Replayed`` equals the first response (the one the service stored, else the first
one a client saw), compared by status and body digest; and the key's request ran at most once
(never two original 2xx answers).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from harness.contract.history import body_digest
from invariants import shared
from invariants.base import CheckContext, Findings, Invariant
from invariants.history_ops import Op, as_uuid, uuid_text
from invariants.rows import example, findings, merge
from invariants.session import Session

# Duplicates are found with plain counts (hash aggregation over every row), then only the
# duplicated keys are looked up again for their details (ordered aggregates cannot hash).
_ORDERS_SQL = """
WITH dup AS (
    SELECT customer_id, idempotency_key FROM orders
    WHERE idempotency_key IS NOT NULL
    GROUP BY customer_id, idempotency_key HAVING count(*) > 1
)
SELECT d.customer_id, d.idempotency_key, count(*) AS orders_created,
       array_agg(o.order_id ORDER BY o.created_at, o.order_id) AS orders,
       'several orders for one Idempotency-Key' AS kind
FROM dup d JOIN orders o USING (customer_id, idempotency_key)
GROUP BY d.customer_id, d.idempotency_key
HAVING $1::text IS NULL OR bool_or(o.strategy = $1)
"""

_PAYMENTS_SQL = """
WITH dup AS (
    SELECT order_id FROM payments WHERE status IN ('AUTHORIZED', 'CAPTURED', 'REFUNDED')
    GROUP BY order_id HAVING count(*) > 1
)
SELECT d.order_id, array_agg(p.payment_id ORDER BY p.created_at, p.payment_id) AS payments,
       array_agg(p.status ORDER BY p.created_at, p.payment_id) AS statuses,
       'several live payments for one order' AS kind
FROM dup d JOIN payments p USING (order_id)
WHERE p.status IN ('AUTHORIZED', 'CAPTURED', 'REFUNDED')
GROUP BY d.order_id
ORDER BY d.order_id
"""

_STORED_SQL = """
SELECT k.customer_id, k.idempotency_key, k.request_path, k.response_status, k.response_body,
       k.order_id
FROM unnest($1::uuid[], $2::text[]) AS q(customer_id, idempotency_key)
JOIN idempotency_keys k USING (customer_id, idempotency_key)
WHERE k.response_status IS NOT NULL
"""

Response = tuple[int | None, str | None]  # (status, body digest)


async def _duplicate_payments(ctx: CheckContext, db: Session, rows: list[Any]) -> Findings:
    """``rows`` of :data:`_PAYMENTS_SQL`, limited to ``ctx.strategy``'s orders."""
    if ctx.strategy is not None and rows:
        owners = {
            str(r["order_id"]): r["strategy"]
            for r in await db.seats.fetch(
                "SELECT order_id, strategy FROM orders WHERE order_id = ANY($1::uuid[])",
                [r["order_id"] for r in rows],
            )
        }
        rows = [r for r in rows if owners.get(str(r["order_id"])) in (None, ctx.strategy)]
    return Findings(len(rows), [example(r) for r in rows[: ctx.max_examples]])


async def _stored(db: Session, ops: Sequence[Op]) -> dict[tuple[str, str], Response]:
    pairs = sorted({(c, op.key) for op in ops if (c := as_uuid(op.customer)) is not None},
                   key=lambda pair: (pair[0].int, pair[1]))  # the UUIDs' own order, faster
    if not pairs:
        return {}
    customers, keys = zip(*pairs, strict=True)
    stored: dict[tuple[str, str], Response] = {}
    for r in await db.seats.fetch(_STORED_SQL, list(customers), list(keys)):
        body = r["response_body"]
        parsed = json.loads(body) if isinstance(body, str) else body
        stored[(str(r["customer_id"]), r["idempotency_key"])] = (
            r["response_status"], body_digest(parsed))
    return stored


def _history_problems(ops: Sequence[Op], stored: dict[tuple[str, str], Response],
                      max_examples: int) -> Findings:
    groups: dict[tuple[str, str], list[Op]] = defaultdict(list)
    for op in ops:
        groups[(op.customer, op.key)].append(op)
    violations = 0
    examples: list[dict[str, Any]] = []
    for (customer, key), group in groups.items():
        answers = [(op, a) for op in group for a in op.attempts if a.get("status") is not None]
        originals = [(op, a) for op, a in answers
                     if not a["replayed"] and 200 <= (a["status"] or 0) < 300]
        replays = [(op, a) for op, a in answers if a["replayed"]]
        first = stored.get((uuid_text(customer), key))
        source = "stored"
        if first is None and (originals or replays):
            source, (_, a0) = (
                ("first seen", originals[0]) if originals else ("first replay", replays[0]))
            first = (a0["status"], a0["body_digest"])
        problem: dict[str, Any] | None = None
        if len(originals) > 1:
            problem = {"kind": "request executed more than once under one key",
                       "answers": [[a["status"], a["body_digest"]] for _, a in originals]}
        else:
            seen = ([(op, a, "replay") for op, a in replays]
                    + [(op, a, "original answer") for op, a in originals if source == "stored"])
            for op, a, what in seen:
                if (a["status"], a["body_digest"]) != first:
                    problem = {
                        "kind": f"{what} differs from the {source} response",
                        "op": op.op, "op_id": op.op_id, "order_id": op.order_id,
                        "first": list(first or ()), "seen": [a["status"], a["body_digest"]],
                    }
                    break
        if problem is not None:
            violations += 1
            if len(examples) < max_examples:
                examples.append({"customer": customer, "key": key, **problem})
    return Findings(violations, examples)


async def check(ctx: CheckContext, db: Session) -> Findings:
    """A retry with the same Idempotency-Key never repeats the effect nor changes the answer."""
    n = ctx.max_examples
    async with asyncio.TaskGroup() as group:  # the history is parsed while the databases count
        ops = group.create_task(shared.history_ops(ctx, db)) if ctx.history is not None else None
        payments = group.create_task(db.payments.fetch(_PAYMENTS_SQL))
        orders = await findings(db.seats, _ORDERS_SQL, ctx.strategy,
                                order_by="v.customer_id, v.idempotency_key", max_examples=n)
    parts = [orders, await _duplicate_payments(ctx, db, payments.result())]
    if ops is None:
        parts.append(Findings(note="no client history given: replays not compared"))
    else:
        stored = await _stored(db, ops.result())
        # off the event loop, so the other lane's queries and copies keep flowing meanwhile
        parts.append(await asyncio.to_thread(_history_problems, ops.result(), stored, n))
    return merge(parts, n)


INVARIANT = Invariant("idempotent_effects", check)
