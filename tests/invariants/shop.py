"""Builds database states row by row, as the service would leave them (healthy by default).

Each method writes one consistent fact (an order in some status with its seats, payment,
tickets and idempotency record; a 2PC transaction with its decision and markers). Tests then
break exactly one thing with plain SQL, the way a buggy strategy would, and assert what the
checker reports.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from harness.contract.history import HistoryEvent, body_digest
from invariants import CheckContext, InvariantResult, check_all

EVENT = "evt_default"


@dataclass
class Order:
    """What the shop built for one order."""

    order_id: uuid.UUID
    customer_id: uuid.UUID
    key: str
    strategy: str
    status: str
    seats: list[str]
    amount_cents: int
    payment_id: str | None = None
    ticket_ids: list[uuid.UUID] = field(default_factory=list)
    event_id: str = EVENT

    @property
    def id(self) -> str:
        return str(self.order_id)


class Shop:
    """Connections to both databases plus helpers that write consistent rows."""

    def __init__(self, seats_dsn: str, payments_dsn: str) -> None:
        self.seats_dsn = seats_dsn
        self.payments_dsn = payments_dsn
        self.seats: Any = None
        self.payments: Any = None

    async def __aenter__(self) -> Shop:
        self.seats = await asyncpg.connect(self.seats_dsn)
        self.payments = await asyncpg.connect(self.payments_dsn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.seats.close()
        await self.payments.close()

    async def check(self, history: list[HistoryEvent] | None = None,
                    strategy: str | None = None, grace_s: float = 5.0
                    ) -> dict[str, InvariantResult]:
        ctx = CheckContext(self.seats_dsn, self.payments_dsn, history=history,
                           strategy=strategy, grace_s=grace_s, max_examples=10)
        return {r.name: r for r in await check_all(ctx)}

    # --- rows ------------------------------------------------------------------------------
    async def customer(self) -> uuid.UUID:
        customer_id = uuid.uuid4()
        await self.seats.execute(
            "INSERT INTO customers (customer_id, token_sha256) VALUES ($1, $2)",
            customer_id, secrets.token_hex(32))
        return customer_id

    async def price(self, seat_ids: list[str], event_id: str = EVENT) -> dict[str, int]:
        rows = await self.seats.fetch(
            "SELECT seat_id, price_cents FROM seats WHERE event_id = $1 AND seat_id = ANY($2)",
            event_id, seat_ids)
        return {r["seat_id"]: r["price_cents"] for r in rows}

    async def order(self, status: str, seats: list[str], *, strategy: str = "saga",
                    customer_id: uuid.UUID | None = None, key: str | None = None,
                    hold_s: float = 120.0, event_id: str = EVENT) -> Order:
        """An order in ``status`` with everything the service writes for that status.

        PENDING: the order. AUTHORIZED: seats HELD for ``hold_s``, payment AUTHORIZED.
        SOLD: seats SOLD, payment CAPTURED, one ticket per seat. FAILED: nothing held.
        EXPIRED / CANCELLED: authorized once, payment VOIDED, seats released.
        """
        customer_id = customer_id or await self.customer()
        key = key or f"create-{uuid.uuid4().hex[:12]}"
        prices = await self.price(seats, event_id)
        amount = sum(prices.values())
        order = Order(uuid.uuid4(), customer_id, key, strategy, status, list(seats), amount,
                      event_id=event_id)
        authorized = status in ("AUTHORIZED", "SOLD", "EXPIRED", "CANCELLED")
        if authorized:
            order.payment_id = f"pay_{secrets.token_hex(8)}"
        await self.seats.execute(
            """INSERT INTO orders (order_id, customer_id, event_id, strategy, status,
                   amount_cents, idempotency_key, payment_id, hold_expires_at,
                   finalize_started_at, authorized_at, sold_at, closed_at, failure_code)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                   CASE WHEN $9 THEN now() + make_interval(secs => $10::float8) END,
                   CASE WHEN $5 = 'SOLD' THEN now() END,
                   CASE WHEN $9 THEN now() END,
                   CASE WHEN $5 = 'SOLD' THEN now() END,
                   CASE WHEN $5 IN ('FAILED', 'EXPIRED', 'CANCELLED') THEN now() END,
                   CASE WHEN $5 = 'FAILED' THEN 'SEAT_UNAVAILABLE' END)""",
            order.order_id, customer_id, event_id, strategy, status, amount, key,
            order.payment_id, authorized, hold_s)
        await self.seats.executemany(
            "INSERT INTO order_seats (order_id, event_id, seat_id, price_cents)"
            " VALUES ($1, $2, $3, $4)",
            [(order.order_id, event_id, s, prices[s]) for s in seats])
        if status in ("AUTHORIZED", "SOLD"):
            await self.seats.execute(
                """UPDATE seats SET state = $3, holder_order_id = $4, holder_strategy = $5,
                       hold_expires_at = CASE WHEN $3 = 'HELD'
                           THEN now() + make_interval(secs => $6::float8) END,
                       updated_at = now()
                   WHERE event_id = $1 AND seat_id = ANY($2)""",
                event_id, seats, "HELD" if status == "AUTHORIZED" else "SOLD",
                order.order_id, strategy, hold_s)
        if status == "SOLD":
            order.ticket_ids = [uuid.uuid4() for _ in seats]
            await self.seats.executemany(
                "INSERT INTO tickets (ticket_id, order_id, event_id, seat_id, price_cents)"
                " VALUES ($1, $2, $3, $4, $5)",
                [(t, order.order_id, event_id, s, prices[s])
                 for t, s in zip(order.ticket_ids, seats, strict=True)])
        if order.payment_id is not None:
            payment_status = {"AUTHORIZED": "AUTHORIZED", "SOLD": "CAPTURED"}.get(
                status, "VOIDED")
            await self.payment(order, payment_status, payment_id=order.payment_id)
        await self.idempotency_record(order, "/api/orders", 201, self.created_body(order))
        return order

    async def payment(self, order: Order, status: str, *, payment_id: str | None = None,
                      amount_cents: int | None = None, source: str = "api") -> str:
        payment_id = payment_id or f"pay_{secrets.token_hex(8)}"
        await self.payments.execute(
            """INSERT INTO payments (payment_id, order_id, amount_cents, status, payment_token,
                   idempotency_key, source)
               VALUES ($1, $2, $3, $4, 'tok_ok', $5, $6)""",
            payment_id, order.order_id,
            order.amount_cents if amount_cents is None else amount_cents, status,
            f"auth-{order.order_id}-{secrets.token_hex(3)}", source)
        return payment_id

    @staticmethod
    def created_body(order: Order) -> dict[str, Any]:
        return {"order_id": order.id, "status": "PENDING", "event_id": order.event_id,
                "seats": order.seats, "amount_cents": order.amount_cents,
                "strategy": order.strategy}

    async def idempotency_record(self, order: Order, path: str, status: int,
                                 body: Any, *, key: str | None = None) -> None:
        import json

        await self.seats.execute(
            """INSERT INTO idempotency_keys (customer_id, idempotency_key, request_method,
                   request_path, request_fingerprint, recovery_point, order_id,
                   response_status, response_body, finished_at, expires_at)
               VALUES ($1, $2, 'POST', $3, $4, 'finished', $5, $6, $7::jsonb, now(),
                   now() + interval '1 day')""",
            order.customer_id, key or order.key, path, secrets.token_hex(32), order.order_id,
            status, json.dumps(body))

    async def twopc(self, order: Order, phase: str, decision: str | None, *,
                    seats_applied: bool, payments_applied: bool) -> str:
        """A 2PC gid with its decision (None: none logged) and each participant's marker."""
        gid = f"bk2pc:{order.order_id}:{phase}:{secrets.token_hex(4)}"
        if decision is not None:
            await self.seats.execute(
                "INSERT INTO twopc_decisions (gid, order_id, phase, decision, decided_by,"
                " completed_at) VALUES ($1, $2, $3, $4, 'test', now())",
                gid, order.order_id, phase, decision)
        for conn, applied in ((self.seats, seats_applied), (self.payments, payments_applied)):
            if applied:
                await conn.execute(
                    "INSERT INTO twopc_applied (gid, order_id, phase) VALUES ($1, $2, $3)",
                    gid, order.order_id, phase)
        return gid

    async def prepare(self, dsn: str, order: Order, phase: str = "CONFIRM") -> str:
        """Leave a prepared (in-doubt) transaction with one of the coordinator's gids."""
        gid = f"bk2pc:{order.order_id}:{phase}:{secrets.token_hex(4)}"
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("BEGIN")
            await conn.execute(
                "INSERT INTO twopc_applied (gid, order_id, phase) VALUES ($1, $2, $3)",
                gid, order.order_id, phase)
            await conn.execute(f"PREPARE TRANSACTION '{gid}'")
        finally:
            await conn.close()
        return gid


class History:
    """Writes client history events the way the locustfiles do."""

    def __init__(self) -> None:
        self.events: list[HistoryEvent] = []
        self._t = 1_700_000_000.0

    def op(self, op: str, order: Order | None, outcome: str, status: int | None, body: Any,
           *, customer: uuid.UUID | None = None, key: str | None = None,
           attempts: list[tuple[int | None, bool, Any]] | None = None,
           strategy: str = "saga", seats: list[str] | None = None) -> str:
        """One operation: invoke + completion. ``attempts``: (status, replayed, body) each."""
        self._t += 1.0
        op_id = uuid.uuid4().hex
        customer = customer or (order.customer_id if order else uuid.uuid4())
        base: HistoryEvent = {
            "type": "invoke", "time": self._t, "process": "test/1", "op_id": op_id,
            "op": op,  # type: ignore[typeddict-item]
            "customer": str(customer), "key": key or f"{op}-{uuid.uuid4().hex[:8]}",
            "strategy": order.strategy if order else strategy,
            "event_id": order.event_id if order else EVENT,
            "seats": seats if seats is not None else (order.seats if order else []),
            "order_id": order.id if order and op != "create" else None,
        }
        self.events.append(base)
        tries = attempts if attempts is not None else [(status, False, body)]
        done: HistoryEvent = {
            **base, "type": outcome, "time": self._t + 0.5,  # type: ignore[typeddict-item]
            "status": status, "body": body,
            "body_digest": body_digest(body) if status is not None else None,
            "attempts": [
                {"status": s, "replayed": r, "body_digest": body_digest(b) if s else None}
                for s, r, b in tries
            ],
        }
        if op == "create" and outcome == "ok" and isinstance(body, dict):
            done["order_id"] = body.get("order_id")
        self.events.append(done)
        return op_id
