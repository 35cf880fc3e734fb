"""Idempotency-Key handling (IETF httpapi draft rules, Stripe-style recovery points).

One row per (customer, key) in ``idempotency_keys``. :meth:`IdempotencyStore.begin` is one
statement: insert the row locked by this request, or take over an unfinished row whose lock is
older than ``IDEMPOTENCY_LOCK_TIMEOUT_S`` (its request died); otherwise the existing row answers:
different fingerprint -> 422, finished -> replay of the stored response, else in flight -> 409.
Finished responses (2xx and 4xx) are stored by :meth:`finish`, for ``POST /api/orders`` inside
the very transaction that creates the order (one atomic phase). 5xx answers are not stored: the
lock is released and a retry resumes the work from the strategy's own log. Neither are the
"retry" answers of ``problems.RETRY_CODES`` (409 ``ORDER_BUSY``: another request owns the order).

A request whose process dies while it holds a key is finished or rolled back in two halves:
its effects in the background, by the sweepers (saga recovery rolls a finalize forward and
compensates a confirm, 2PC recovery applies the logged decision, hold expiry voids: the
completer of the atomic phases, see :mod:`target_service.sweepers`); its answer by the retry,
which takes the key over once the lock is older than the timeout and answers from the order's
state (``recovery_point`` says how far the dead request got).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from target_service.problems import Problem

MAX_KEY_LEN = 255
#: printable ASCII, as published in the OpenAPI document; no space at either end (HTTP strips
#: it from a field value, so such a key could not arrive as it was sent)
KEY_PATTERN = "^[!-~]([ -~]*[!-~])?$"
_KEY = re.compile(KEY_PATTERN)


def validate_key(raw: str | None) -> str:
    """The header value if it is 1..255 printable ASCII characters; 400 otherwise."""
    if raw is None or raw == "":
        raise Problem("IDEMPOTENCY_KEY_MISSING", "this request needs an Idempotency-Key header")
    if len(raw) > MAX_KEY_LEN or _KEY.fullmatch(raw) is None:
        raise Problem("IDEMPOTENCY_KEY_INVALID",
                      "the Idempotency-Key must be 1 to 255 printable ASCII characters")
    return raw


def fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 of the method, path and canonical JSON body."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method}\n{path}\n{canon}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    """A stored response to send again."""

    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key (``lock_token``); ``resumed`` if it took over a dead one."""

    customer_id: uuid.UUID
    key: str
    lock_token: uuid.UUID
    resumed: bool
    order_id: uuid.UUID | None


class IdempotencyStore:
    """SQL of the idempotency records (all scoped to the customer)."""

    def __init__(self, pool: Any, *, ttl_s: float, lock_timeout_s: float) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._lock_timeout_s = lock_timeout_s

    async def begin(self, customer_id: uuid.UUID, key: str, method: str, path: str,
                    fp: str) -> Claim | Replay:
        """Claim ``key`` for this request, or the stored replay; raises 409/422."""
        token = uuid.uuid4()
        row = await self._pool.fetchrow(
            "INSERT INTO idempotency_keys (customer_id, idempotency_key, request_method,"
            " request_path, request_fingerprint, lock_token, locked_at, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, now(), now() + make_interval(secs => $7))"
            " ON CONFLICT (customer_id, idempotency_key) DO UPDATE"
            "  SET lock_token = EXCLUDED.lock_token, locked_at = now()"
            "  WHERE idempotency_keys.request_fingerprint = EXCLUDED.request_fingerprint"
            "   AND idempotency_keys.response_status IS NULL"
            "   AND (idempotency_keys.locked_at IS NULL"
            "        OR idempotency_keys.locked_at < now() - make_interval(secs => $8))"
            " RETURNING (xmax <> 0) AS resumed, order_id",
            customer_id, key, method, path, fp, token, self._ttl_s, self._lock_timeout_s)
        if row is not None:
            return Claim(customer_id, key, token, bool(row["resumed"]), row["order_id"])
        cur = await self._pool.fetchrow(
            "SELECT request_fingerprint, response_status, response_body FROM idempotency_keys"
            " WHERE customer_id = $1 AND idempotency_key = $2", customer_id, key)
        if cur is None:  # deleted between the two statements (retention); ask for a retry
            raise Problem("IDEMPOTENCY_KEY_IN_USE", "the key is being recycled; retry")
        if cur["request_fingerprint"] != fp:
            raise Problem("IDEMPOTENCY_KEY_MISMATCH",
                          "this Idempotency-Key was already used for a different request")
        if cur["response_status"] is not None:
            return Replay(cur["response_status"], json.loads(cur["response_body"]))
        raise Problem("IDEMPOTENCY_KEY_IN_USE",
                      "a request with this Idempotency-Key is still being processed")

    async def finish(self, claim: Claim, status: int, body: Any, *,
                     order_id: uuid.UUID | None = None, conn: Any = None) -> Replay | None:
        """Store the response (in ``conn``'s transaction if given). None when stored; the
        stored response if another request took the key over and finished first."""
        db = conn if conn is not None else self._pool
        res = await db.execute(
            "UPDATE idempotency_keys SET response_status = $4, response_body = $5::jsonb,"
            " recovery_point = 'finished', finished_at = now(), lock_token = NULL,"
            " locked_at = NULL, order_id = coalesce($6, order_id)"
            " WHERE customer_id = $1 AND idempotency_key = $2 AND lock_token = $3",
            claim.customer_id, claim.key, claim.lock_token, status,
            json.dumps(body, separators=(",", ":")), order_id)
        if res.endswith(" 1"):
            return None
        cur = await db.fetchrow(
            "SELECT response_status, response_body FROM idempotency_keys"
            " WHERE customer_id = $1 AND idempotency_key = $2", claim.customer_id, claim.key)
        if cur is not None and cur["response_status"] is not None:
            return Replay(cur["response_status"], json.loads(cur["response_body"]))
        return None

    async def set_order(self, claim: Claim, order_id: uuid.UUID) -> None:
        """Record the order a request acts on (a recovery point for a resumed retry)."""
        await self._pool.execute(
            "UPDATE idempotency_keys SET order_id = $4, recovery_point = 'order_known'"
            " WHERE customer_id = $1 AND idempotency_key = $2 AND lock_token = $3",
            claim.customer_id, claim.key, claim.lock_token, order_id)

    async def release(self, claim: Claim) -> None:
        """Unlock without storing (5xx: outcome unknown, a retry may resume)."""
        await self._pool.execute(
            "UPDATE idempotency_keys SET lock_token = NULL, locked_at = NULL"
            " WHERE customer_id = $1 AND idempotency_key = $2 AND lock_token = $3",
            claim.customer_id, claim.key, claim.lock_token)
