"""Turning violation rows into :class:`Findings`: the total count plus examples of every kind.

Every violation query returns one row per violation with a ``kind`` column (a short phrase such
as ``"seat in several live orders"``). :func:`findings` counts all rows in Postgres and fetches
only the first few of each kind, so a million-row violation never crosses the wire; examples are
taken round-robin over the kinds (as Jepsen's bank checker reports each error type).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from invariants.base import Findings

#: SQL predicate of a live order (target_service/SCHEMA.md), for an ``orders`` row aliased ``o``.
LIVE_ORDER = (
    "(o.status = 'SOLD' OR (o.status = 'AUTHORIZED'"
    " AND (o.hold_expires_at > now() OR o.finalize_started_at IS NOT NULL)))"
)


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of a database value (UUIDs and times as strings, numerics as numbers)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def example(row: Mapping[str, Any], drop: Iterable[str] = ()) -> dict[str, Any]:
    """One example dict from a record, without helper columns (``_``-prefixed) or ``drop``."""
    dropped = set(drop)
    return {
        k: jsonable(v) for k, v in row.items() if not k.startswith("_") and k not in dropped
    }


async def findings(conn: Any, sql: str, *args: Any, order_by: str, max_examples: int) -> Findings:
    """Count the rows of violation query ``sql`` and keep ``max_examples`` of them, all kinds first.

    ``order_by`` orders examples within a kind (columns of ``sql``'s output, alias ``v``).
    """
    wrapped = f"""
        SELECT * FROM (
            SELECT v.*, count(*) OVER () AS _total,
                   row_number() OVER (PARTITION BY v.kind ORDER BY {order_by}) AS _rn
            FROM ({sql}) AS v
        ) AS w
        WHERE w._rn <= {int(max_examples)}
        ORDER BY w._rn, w.kind
        LIMIT {int(max_examples)}
    """
    rows = await conn.fetch(wrapped, *args)
    if not rows:
        return Findings()
    return Findings(violations=int(rows[0]["_total"]), examples=[example(r) for r in rows])


def merge(parts: Iterable[Findings], max_examples: int) -> Findings:
    """Sum several parts' counts; interleave their examples so every part is represented."""
    parts = list(parts)
    total = sum(p.violations for p in parts)
    queues = [list(p.examples) for p in parts]
    examples: list[dict[str, Any]] = []
    while len(examples) < max_examples and any(queues):
        for queue in queues:
            if queue and len(examples) < max_examples:
                examples.append(queue.pop(0))
    notes = [p.note for p in parts if p.note]
    return Findings(total, examples, "; ".join(notes) if notes else None)
