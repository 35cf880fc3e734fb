"""The provider's ledger operations on the ``payments`` database; one statement per change.

Every state change is a conditional ``UPDATE`` (``WHERE status = ...``), so capture, void and
refund are naturally idempotent and can never move a payment backwards
(AUTHORIZED -> CAPTURED -> REFUNDED, AUTHORIZED -> VOIDED).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

APPROVED_TOKENS = frozenset({"tok_ok"})


def decide_token(token: str) -> str | None:
    """None when ``token`` authorizes, else a decline reason (shared with the 2PC participant)."""
    if token in APPROVED_TOKENS:
        return None
    if token == "tok_decline":  # noqa: S105 (a test card, not a secret)
        return "card_declined"
    return "unknown_token"


def new_payment_id() -> str:
    return "pay_" + secrets.token_hex(12)


_COLS = ("payment_id, order_id, amount_cents, currency, status, idempotency_key, source,"
         " decline_reason, created_at, updated_at, captured_at, voided_at, refunded_at")


def payment_json(row: Any) -> dict[str, Any]:
    """A ledger row as the provider's JSON payment object."""
    out: dict[str, Any] = {
        "payment_id": row["payment_id"], "order_id": str(row["order_id"]),
        "amount_cents": row["amount_cents"], "currency": row["currency"],
        "status": row["status"], "idempotency_key": row["idempotency_key"],
        "source": row["source"], "decline_reason": row["decline_reason"],
    }
    for k in ("created_at", "updated_at", "captured_at", "voided_at", "refunded_at"):
        out[k] = row[k].isoformat() if row[k] is not None else None
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """An operation's answer: HTTP status and the payment (or None)."""

    status: int
    payment: dict[str, Any] | None
    error: str | None = None


async def authorize(conn: Any, *, key: str, order_id: uuid.UUID, amount_cents: int,
                    currency: str, token: str, source: str = "api") -> Outcome:
    """Create the authorization for ``key`` once; a repeat returns the first result.

    201 AUTHORIZED, 402 DECLINED, 409 when ``key`` was voided first (tombstone) or belongs to a
    different order/amount.
    """
    reason = decide_token(token)
    status = "AUTHORIZED" if reason is None else "DECLINED"
    row = await conn.fetchrow(
        f"INSERT INTO payments (payment_id, order_id, amount_cents, currency, status,"
        f" payment_token, idempotency_key, source, decline_reason)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {_COLS}",
        new_payment_id(), order_id, amount_cents, currency, status, token, key, source, reason)
    created = row is not None
    if row is None:
        row = await conn.fetchrow(f"SELECT {_COLS} FROM payments WHERE idempotency_key = $1", key)
        if row is None:  # deleted concurrently (reset); treat as unavailable
            return Outcome(503, None, "RETRY")
        if row["order_id"] != order_id or (row["source"] != "tombstone"
                                           and row["amount_cents"] != amount_cents):
            return Outcome(409, payment_json(row), "KEY_REUSED")
    pay = payment_json(row)
    if row["source"] == "tombstone":
        return Outcome(409, pay, "VOIDED_BEFORE_AUTHORIZE")
    if row["status"] == "DECLINED":
        return Outcome(402, pay, "DECLINED")
    return Outcome(201 if created else 200, pay)


async def by_key(conn: Any, key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLS} FROM payments WHERE idempotency_key = $1", key)
    return payment_json(row) if row else None


async def by_id(conn: Any, payment_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLS} FROM payments WHERE payment_id = $1", payment_id)
    return payment_json(row) if row else None


_TRANSITIONS = {
    # op: (from, to, timestamp column, statuses that count as "already done")
    "capture": ("AUTHORIZED", "CAPTURED", "captured_at", ("CAPTURED",)),
    "void": ("AUTHORIZED", "VOIDED", "voided_at", ("VOIDED", "DECLINED")),
    "refund": ("CAPTURED", "REFUNDED", "refunded_at", ("REFUNDED",)),
}


async def transition(conn: Any, op: str, payment_id: str, key: str) -> Outcome:
    """Apply ``op`` (capture/void/refund) once; repeats answer 200 with the current state.

    404 unknown payment; 409 when the payment is in a state the op cannot leave
    (e.g. void of a CAPTURED payment).
    """
    src, dst, col, done = _TRANSITIONS[op]
    row = await conn.fetchrow(
        f"WITH upd AS (UPDATE payments SET status = $2, {col} = now(), updated_at = now()"
        f"  WHERE payment_id = $1 AND status = $3 RETURNING {_COLS}),"
        f" rec AS (INSERT INTO provider_idempotency (operation, idempotency_key, request_sha256,"
        f"  payment_id, response_status, response_body)"
        f"  SELECT $4, $5, '', payment_id, 200, jsonb_build_object('status', status) FROM upd"
        f"  ON CONFLICT DO NOTHING)"
        f" SELECT {_COLS} FROM upd",
        payment_id, dst, src, op, key)
    if row is not None:
        return Outcome(200, payment_json(row))
    row = await conn.fetchrow(f"SELECT {_COLS} FROM payments WHERE payment_id = $1", payment_id)
    if row is None:
        return Outcome(404, None, "NOT_FOUND")
    if row["status"] in done:
        return Outcome(200, payment_json(row))
    return Outcome(409, payment_json(row), f"CANNOT_{op.upper()}_{row['status']}")


async def void_by_key(conn: Any, key: str, order_id: uuid.UUID, op_key: str) -> Outcome:
    """Void whatever ``key`` authorized; if nothing yet, leave a VOIDED tombstone so a late
    authorize with ``key`` is refused. 409 if the payment was already captured."""
    row = await conn.fetchrow(
        f"INSERT INTO payments (payment_id, order_id, amount_cents, status, idempotency_key,"
        f" source, voided_at) VALUES ($1, $2, 0, 'VOIDED', $3, 'tombstone', now())"
        f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {_COLS}",
        new_payment_id(), order_id, key)
    if row is not None:
        return Outcome(200, payment_json(row))
    existing = await conn.fetchrow(
        f"SELECT {_COLS} FROM payments WHERE idempotency_key = $1", key)
    if existing is None:
        return Outcome(503, None, "RETRY")
    return await transition(conn, "void", existing["payment_id"], op_key)


async def ledger(conn: Any, order_id: uuid.UUID | None, limit: int) -> list[dict[str, Any]]:
    """The ledger (optionally one order's payments), newest first."""
    if order_id is None:
        rows = await conn.fetch(
            f"SELECT {_COLS} FROM payments ORDER BY created_at DESC LIMIT $1", limit)
    else:
        rows = await conn.fetch(
            f"SELECT {_COLS} FROM payments WHERE order_id = $1 ORDER BY created_at", order_id)
    return [payment_json(r) for r in rows]
