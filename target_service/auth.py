"""Bearer tokens: ``POST /api/customers`` mints one; requests present ``Authorization: Bearer``.

Only the SHA-256 of a token is stored. Lookups are cached per process for a few seconds (tokens
never change; the short TTL forgets customers wiped by ``reset_data``). A token is an RFC 6750
``b64token`` (ASCII letters, digits, ``-._~+/``, then ``=`` padding): anything else, a non-ASCII
byte included, is a 401 with ``WWW-Authenticate`` (RFC 9110 section 11.6.1), never a 500.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from typing import Any

from target_service.problems import Problem

_CACHE_TTL_S = 5.0
_CACHE_MAX = 50_000
MAX_TOKEN_LEN = 200
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _unauthenticated(detail: str, *, token_given: bool) -> Problem:
    challenge = 'Bearer error="invalid_token"' if token_given else "Bearer"
    return Problem("UNAUTHENTICATED", detail, headers={"WWW-Authenticate": challenge})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Creates customers and resolves bearer tokens to customer ids."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._cache: dict[str, tuple[uuid.UUID, float]] = {}

    async def create_customer(self) -> tuple[uuid.UUID, str]:
        customer_id = uuid.uuid4()
        token = "cus_" + secrets.token_urlsafe(32)
        await self._pool.execute(
            "INSERT INTO customers (customer_id, token_sha256) VALUES ($1, $2)",
            customer_id, token_hash(token))
        return customer_id, token

    async def authenticate(self, header: str | None) -> uuid.UUID:
        """The customer of ``Authorization: Bearer <token>``; 401 otherwise."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer":  # auth-scheme is case-insensitive (RFC 9110 11.1)
            raise _unauthenticated("send Authorization: Bearer <token>", token_given=False)
        token = token.strip(" ")
        if len(token) > MAX_TOKEN_LEN or _B64TOKEN.fullmatch(token) is None:
            raise _unauthenticated("the bearer token is malformed", token_given=True)
        h = token_hash(token)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and hit[1] > now:
            return hit[0]
        customer_id = await self._pool.fetchval(
            "SELECT customer_id FROM customers WHERE token_sha256 = $1", h)
        if customer_id is None:
            raise _unauthenticated("unknown bearer token", token_given=True)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[h] = (customer_id, now + _CACHE_TTL_S)
        return uuid.UUID(str(customer_id))
