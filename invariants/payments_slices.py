"""The slices of the ``payments`` database that cross-database checkers join with ``seats``.

Each is mirrored at most once per :class:`~invariants.session.Session` (see its docstring), so
the checkers that share a slice share its copy.
"""

from __future__ import annotations

from invariants.session import Session


async def authorized(db: Session) -> str:
    """Temp table of every ``AUTHORIZED`` payment: (payment_id, order_id, amount_cents,
    created_at, updated_at); the times let an example say when the money was taken."""
    return await db.mirror(
        "authorized",
        "SELECT payment_id, order_id, amount_cents, created_at, updated_at FROM payments"
        " WHERE status = 'AUTHORIZED'",
        "payment_id text, order_id uuid, amount_cents integer, created_at timestamptz,"
        " updated_at timestamptz",
    )


async def captured(db: Session) -> str:
    """Temp table of every ``CAPTURED`` payment: (payment_id, order_id, amount_cents)."""
    return await db.mirror(
        "captured",
        "SELECT payment_id, order_id, amount_cents FROM payments WHERE status = 'CAPTURED'",
        "payment_id text, order_id uuid, amount_cents integer",
    )


async def applied(db: Session) -> str:
    """Temp table of the payments participant's 2PC commit markers: (gid, order_id, phase)."""
    return await db.mirror(
        "payments_applied",
        "SELECT gid, order_id, phase FROM twopc_applied",
        "gid text, order_id uuid, phase text",
    )
