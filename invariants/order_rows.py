"""The service's rows of the orders a violation names, for the report's order stories.

Only ``invariants/`` reads the service's tables (besides the service itself), so the run loop
asks here: :func:`orders_named` finds the orders an invariant's example names, and
:func:`order_rows` fetches, per order, its rows from both databases (parameterized SQL, values
made JSON-safe): ``orders``, ``order_seats``, ``seats`` (its seats' current rows), ``tickets``,
``idempotency_keys`` (the records that created or acted on it), ``sagas`` and ``saga_log``
(lock and saga), ``twopc_decisions`` (2pc), and the provider's ``payments``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from invariants.rows import example

#: An order id (a UUID) inside an example's value.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def orders_named(example_row: Mapping[str, Any]) -> list[str]:
    """The order ids an invariant's example names, in the order it names them.

    Every checker names orders in a field whose name contains ``order`` (``order_id``,
    ``orders``, ``holder_order_id``, ...), as one id or a list of ids.
    """
    found: list[str] = []
    for key, value in example_row.items():
        if "order" not in key:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _UUID.fullmatch(item) and item not in found:
                found.append(item)
    return found


#: table -> (database, SQL of its rows for the orders ``$1``, the column naming the order)
_QUERIES: dict[str, tuple[str, str, str]] = {
    "orders": ("seats", "SELECT * FROM orders WHERE order_id = ANY($1::uuid[])"
                        " ORDER BY created_at", "order_id"),
    "order_seats": ("seats", "SELECT * FROM order_seats WHERE order_id = ANY($1::uuid[])"
                             " ORDER BY event_id, seat_id", "order_id"),
    "seats": ("seats", """
        SELECT os.order_id AS _order, s.* FROM order_seats os
        JOIN seats s USING (event_id, seat_id)
        WHERE os.order_id = ANY($1::uuid[])
        UNION
        SELECT s.holder_order_id, s.* FROM seats s WHERE s.holder_order_id = ANY($1::uuid[])
        ORDER BY 2, 3""", "_order"),
    "tickets": ("seats", "SELECT * FROM tickets WHERE order_id = ANY($1::uuid[])"
                         " ORDER BY issued_at", "order_id"),
    "idempotency_keys": ("seats", """
        SELECT o.order_id AS _order, k.* FROM orders o
        JOIN idempotency_keys k
          ON k.order_id = o.order_id
          OR (k.customer_id = o.customer_id AND k.idempotency_key = o.idempotency_key)
        WHERE o.order_id = ANY($1::uuid[])
        ORDER BY k.created_at""", "_order"),
    "sagas": ("seats", "SELECT * FROM sagas WHERE order_id = ANY($1::uuid[])", "order_id"),
    "saga_log": ("seats", "SELECT * FROM saga_log WHERE order_id = ANY($1::uuid[])"
                          " ORDER BY at, log_id", "order_id"),
    "twopc_decisions": ("seats", "SELECT * FROM twopc_decisions WHERE order_id = ANY($1::uuid[])"
                                 " ORDER BY decided_at", "order_id"),
    "payments": ("payments", "SELECT * FROM payments WHERE order_id = ANY($1::uuid[])"
                             " ORDER BY created_at", "order_id"),
}
TABLES = tuple(_QUERIES)


def _uuids(order_ids: Iterable[str]) -> list[uuid.UUID]:
    out = []
    for order_id in order_ids:
        try:
            out.append(uuid.UUID(order_id))
        except ValueError:
            continue
    return out


async def order_rows(seats_dsn: str, payments_dsn: str, order_ids: Sequence[str],
                     *, timeout_s: float = 60.0) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """order id -> table -> its rows (JSON-safe), for every order of ``order_ids`` (a table
    with no row for an order is left out of that order's entry)."""
    ids = _uuids(order_ids)
    out: dict[str, dict[str, list[dict[str, Any]]]] = {str(i): {} for i in ids}
    if not ids:
        return out
    conns = {
        "seats": await asyncpg.connect(seats_dsn, timeout=timeout_s, command_timeout=timeout_s),
    }
    try:
        conns["payments"] = await asyncpg.connect(payments_dsn, timeout=timeout_s,
                                                  command_timeout=timeout_s)
        for table, (db, sql, key) in _QUERIES.items():
            for record in await conns[db].fetch(sql, ids):
                owner = str(record[key])
                if owner in out:
                    out[owner].setdefault(table, []).append(example(record))
    finally:
        await asyncio.gather(*(c.close() for c in conns.values()), return_exceptions=True)
    return out
