"""``acknowledged_writes_durable``: what a client was told is what the databases hold.

Jepsen's rules over the client history: an ``ok`` operation must be reflected in the databases,
a ``fail`` must have left no effect, an ``info`` may have gone either way. Per operation
(target_service/SCHEMA.md):

* create 201: the order exists with the amount, seats, event and strategy the client was told.
* confirm 202: the order was authorized (it has ``authorized_at`` and left ``PENDING``) and has
  a real (not declined) payment.
* finalize 200: the order is ``SOLD`` and its tickets are exactly the ones returned.
* create 4xx: no order carries that (customer, Idempotency-Key).
* confirm / finalize 4xx: the order gained nothing from it (no hold, sale, ticket, capture or
  open authorization), unless another confirm / finalize of the same order may have succeeded.

The databases are read set-wise, once per table, for all orders the history names.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from invariants import shared
from invariants.base import CheckContext, Findings, Invariant
from invariants.history_ops import Op, as_uuid, uuid_text
from invariants.session import Session

_ORDERS_SQL = """
SELECT o.order_id, o.customer_id, o.event_id, o.strategy, o.status, o.amount_cents,
       o.authorized_at,
       ARRAY(SELECT os.seat_id FROM order_seats os WHERE os.order_id = o.order_id) AS seats,
       ARRAY(SELECT t.ticket_id::text FROM tickets t WHERE t.order_id = o.order_id) AS tickets,
       ARRAY(SELECT s.seat_id FROM seats s WHERE s.holder_order_id = o.order_id) AS holding
FROM unnest($1::uuid[]) AS x(order_id) JOIN orders o USING (order_id)
"""

_PAYMENTS_SQL = """
SELECT order_id, array_agg(status ORDER BY payment_id) AS statuses,
       array_agg(source ORDER BY payment_id) AS sources
FROM payments WHERE order_id = ANY($1::uuid[]) GROUP BY order_id
"""

_KEYED_ORDERS_SQL = """
SELECT k.customer_id, k.idempotency_key, array_agg(o.order_id ORDER BY o.order_id) AS orders
FROM unnest($1::uuid[], $2::text[]) AS k(customer_id, idempotency_key)
JOIN orders o ON o.customer_id = k.customer_id AND o.idempotency_key = k.idempotency_key
GROUP BY k.customer_id, k.idempotency_key
"""

#: statuses an authorized order can reach (FAILED: its capture was refused later, e.g. after
#: its authorization was voided on expiry); ``authorized_at`` proves the authorization happened
AUTHORIZED_LATER = frozenset({"AUTHORIZED", "SOLD", "EXPIRED", "CANCELLED", "FAILED"})
UNCONFIRMED = frozenset({"PENDING", "FAILED", "CANCELLED"})


@dataclass(slots=True)
class _Facts:
    """What the databases hold about the history's orders."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (status, source)
    keyed: dict[tuple[str, str], list[str]] = field(default_factory=dict)


async def _facts(db: Session, ops: Sequence[Op]) -> _Facts:
    facts = _Facts()
    order_ids = sorted({u for op in ops if (u := as_uuid(op.order_id)) is not None},
                       key=lambda u: u.int)  # the UUIDs' own order, faster
    if order_ids:
        async with asyncio.TaskGroup() as group:  # one query per database, at once
            orders = group.create_task(db.seats.fetch(_ORDERS_SQL, order_ids))
            payments = group.create_task(db.payments.fetch(_PAYMENTS_SQL, order_ids))
        for r in orders.result():
            facts.orders[str(r["order_id"])] = dict(r)
        for r in payments.result():
            facts.payments[str(r["order_id"])] = list(zip(r["statuses"], r["sources"], strict=True))
    failed_creates = {
        (c, op.key) for op in ops
        if op.op == "create" and op.outcome == "fail" and (c := as_uuid(op.customer)) is not None
    }
    if failed_creates:
        customers, keys = zip(*sorted(failed_creates, key=lambda p: (p[0].int, p[1])),
                              strict=True)
        for r in await db.seats.fetch(_KEYED_ORDERS_SQL, list(customers), list(keys)):
            facts.keyed[(str(r["customer_id"]), r["idempotency_key"])] = [
                str(o) for o in r["orders"]
            ]
    return facts


def _returned_tickets(body: Any) -> set[str] | None:
    """Ticket ids in a finalize answer (tickets as ids or as objects with ``ticket_id``)."""
    if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
        return None
    ids = set()
    for ticket in body["tickets"]:
        if isinstance(ticket, str):
            ids.add(ticket)
        elif isinstance(ticket, dict) and isinstance(ticket.get("ticket_id"), str):
            ids.add(ticket["ticket_id"])
    return ids


def _check_ok(op: Op, facts: _Facts) -> Iterable[tuple[str, dict[str, Any]]]:
    order = facts.orders.get(uuid_text(op.order_id)) if op.order_id else None
    if order is None:
        yield f"acknowledged {op.op} of an order that does not exist", {}
        return
    status = order["status"]
    if op.op == "create":
        body = op.body if isinstance(op.body, dict) else {}
        told_seats = body.get("seats", list(op.seats))
        if sorted(order["seats"]) != sorted(told_seats):
            yield "created order lacks the acknowledged seats", {
                "db_seats": sorted(order["seats"]), "told_seats": sorted(told_seats)}
        if "amount_cents" in body and order["amount_cents"] != body["amount_cents"]:
            yield "created order has another amount", {
                "db_amount_cents": order["amount_cents"], "told_amount_cents": body["amount_cents"]}
        for column, told in (("strategy", body.get("strategy")),
                             ("event_id", body.get("event_id"))):
            if told is not None and order[column] != told:
                yield f"created order has another {column}", {
                    f"db_{column}": order[column], f"told_{column}": told}
    elif op.op == "confirm":
        payments = facts.payments.get(str(order["order_id"]), [])
        if status not in AUTHORIZED_LATER or order["authorized_at"] is None:
            yield "acknowledged confirm is not reflected (order never authorized)", {
                "db_status": status}
        elif not any(s != "DECLINED" and src != "tombstone" for s, src in payments):
            yield "acknowledged confirm has no payment", {"db_payments": payments}
    elif op.op == "finalize":
        if status != "SOLD":
            yield "acknowledged finalize is not reflected (order not SOLD)", {"db_status": status}
        told = _returned_tickets(op.body)
        if told is not None and told != set(order["tickets"]):
            yield "sold order's tickets differ from the acknowledged ones", {
                "db_tickets": sorted(order["tickets"]), "told_tickets": sorted(told)}


def _check_fail(op: Op, facts: _Facts, maybe_done: set[tuple[str, str | None]]
                ) -> Iterable[tuple[str, dict[str, Any]]]:
    if op.op == "create":
        if (op.customer, op.key) in maybe_done:
            return
        orders = facts.keyed.get((uuid_text(op.customer), op.key))
        if orders:
            yield "failed create left an order", {"db_orders": orders}
        return
    if (op.op, op.order_id) in maybe_done:
        return  # another confirm/finalize of this order may have done it
    order = facts.orders.get(uuid_text(op.order_id)) if op.order_id else None
    if order is None:
        return  # e.g. 404: nothing to have an effect on
    statuses = [s for s, _ in facts.payments.get(str(order["order_id"]), [])]
    effects = {
        "db_status": order["status"], "holding": sorted(order["holding"]),
        "tickets": len(order["tickets"]), "payments": statuses,
    }
    if op.op == "confirm":
        if (order["status"] not in UNCONFIRMED or order["holding"]
                or "CAPTURED" in statuses or "AUTHORIZED" in statuses):
            yield "failed confirm left an effect", effects
    elif op.op == "finalize" and (
        order["status"] == "SOLD" or order["tickets"] or "CAPTURED" in statuses
    ):
        yield "failed finalize left an effect", effects


def _verdict(ops: Sequence[Op], facts: _Facts, max_examples: int) -> Findings:
    """Every operation of ``ops`` held against ``facts`` (pure Python, run in a worker thread)."""
    maybe_done: set[tuple[str, str | None]] = set()
    for op in ops:
        if op.outcome != "fail":
            maybe_done.add((op.customer, op.key) if op.op == "create" else (op.op, op.order_id))
    violations = 0
    per_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for op in ops:
        if op.outcome == "ok":
            problems = list(_check_ok(op, facts))
        elif op.outcome == "fail":
            problems = list(_check_fail(op, facts, maybe_done))
        else:
            continue
        if problems:
            violations += 1
        for kind, detail in problems[:1]:
            per_kind[kind].append({"kind": kind, **op.brief(), **detail})
    examples: list[dict[str, Any]] = []
    while len(examples) < max_examples and any(per_kind.values()):
        for kind in sorted(per_kind):
            if per_kind[kind] and len(examples) < max_examples:
                examples.append(per_kind[kind].pop(0))
    return Findings(violations, examples)


async def check(ctx: CheckContext, db: Session) -> Findings:
    """Every success a client saw is durable, and every definite failure left no trace."""
    if ctx.history is None:
        return Findings(note="no client history given: nothing to compare")
    ops = await shared.history_ops(ctx, db)
    facts = await _facts(db, ops)
    # off the event loop, so the other lane's queries and copies keep flowing meanwhile
    return await asyncio.to_thread(_verdict, ops, facts, ctx.max_examples)


INVARIANT = Invariant("acknowledged_writes_durable", check)
