"""HTTP client of the payment provider, with three-way outcomes.

Every call ends :class:`PayResult` with ``kind``:

* ``ok`` — done; ``payment`` is the provider's payment object;
* ``declined`` (402) / ``conflict`` (404/409: e.g. void of a captured payment) — definite;
* ``unknown`` — timeout, connection error or 5xx: the provider may or may not have acted.
  Callers resolve it later with the same idempotency key (retry, or void-by-key).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class PayResult:
    """One provider call's outcome."""

    kind: str  # ok | declined | conflict | unknown
    status: int
    payment: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class ProviderClient:
    """Async client; one shared ``aiohttp.ClientSession`` per process."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 1.0))
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, *, key: str | None = None,
                    body: dict[str, Any] | None = None) -> PayResult:
        assert self._session is not None, "ProviderClient.start() not called"
        headers = {"Idempotency-Key": key} if key else {}
        try:
            async with self._session.request(method, self._base + path, json=body,
                                             headers=headers) as resp:
                data = await resp.json(content_type=None)
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            return PayResult("unknown", 0, error=type(exc).__name__)
        if not isinstance(data, dict):
            return PayResult("unknown", status, error="bad body")
        if status in (200, 201):
            return PayResult("ok", status, data)
        payment = data.get("payment") if isinstance(data.get("payment"), dict) else None
        error = str(data.get("error", ""))
        if status == 402:
            return PayResult("declined", status, payment, error)
        if status in (404, 409):
            return PayResult("conflict", status, payment, error)
        return PayResult("unknown", status, payment, error)

    async def authorize(self, *, key: str, order_id: uuid.UUID, amount_cents: int,
                        token: str) -> PayResult:
        return await self._call("POST", "/v1/authorizations", key=key, body={
            "order_id": str(order_id), "amount_cents": amount_cents, "payment_token": token})

    async def capture(self, payment_id: str, key: str) -> PayResult:
        return await self._call("POST", f"/v1/payments/{payment_id}/capture", key=key)

    async def void(self, payment_id: str, key: str) -> PayResult:
        return await self._call("POST", f"/v1/payments/{payment_id}/void", key=key)

    async def refund(self, payment_id: str, key: str) -> PayResult:
        return await self._call("POST", f"/v1/payments/{payment_id}/refund", key=key)

    async def void_by_key(self, auth_key: str, order_id: uuid.UUID) -> PayResult:
        """Void whatever ``auth_key`` authorized, or tombstone it if nothing did yet."""
        return await self._call("POST", "/v1/authorizations/void-by-key",
                                key=f"voidkey-{order_id}",
                                body={"idempotency_key": auth_key, "order_id": str(order_id)})

    async def by_key(self, auth_key: str) -> PayResult:
        return await self._call("GET", f"/v1/authorizations/by-key/{auth_key}")

    async def health(self) -> bool:
        res = await self._call("GET", "/health")
        return res.ok
