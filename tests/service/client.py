"""A small API client for tests: every response is checked against the OpenAPI document."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.service.openapi_check import check


@dataclass
class Resp:
    """A checked response."""

    status: int
    body: Any
    headers: httpx.Headers

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed") == "true"


class Api:
    """Async client of the target service for one customer (``token``)."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    async def call(self, method: str, path: str, *, json: Any = None, key: str | None = None,
                   token: str | None = None, headers: dict[str, str | bytes] | None = None,
                   content: bytes | None = None, validate: bool = True) -> Resp:
        h: dict[str, str | bytes] = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        if key is not None:
            h["Idempotency-Key"] = key
        r = await self.http.request(method, path, json=json, headers=h, content=content)
        body = r.json() if r.content and "json" in r.headers.get("content-type", "") else r.text
        if validate:
            check(method, path, r.status_code, r.headers.get("content-type", ""), body,
                  r.headers)
        return Resp(r.status_code, body, r.headers)

    async def new_customer(self) -> Api:
        r = await self.call("POST", "/api/customers")
        assert r.status == 201, r.body
        return Api(self.http, r.body["token"])

    async def order(self, seats: list[str], strategy: str, *, event_id: str = "evt_default",
                    key: str | None = None) -> Resp:
        return await self.call("POST", "/api/orders", key=key or str(uuid.uuid4()),
                               json={"event_id": event_id, "seats": seats, "strategy": strategy})

    async def confirm(self, order_id: str, token: str = "tok_ok", *,
                      key: str | None = None) -> Resp:
        return await self.call("POST", f"/api/orders/{order_id}:confirm",
                               key=key or str(uuid.uuid4()), json={"payment_token": token})

    async def finalize(self, order_id: str, *, key: str | None = None) -> Resp:
        return await self.call("POST", f"/api/orders/{order_id}:finalize",
                               key=key or str(uuid.uuid4()))

    async def cancel(self, order_id: str, *, key: str | None = None) -> Resp:
        return await self.call("POST", f"/api/orders/{order_id}:cancel",
                               key=key or str(uuid.uuid4()))

    async def get(self, order_id: str) -> Resp:
        return await self.call("GET", f"/api/orders/{order_id}")

    async def buy(self, seats: list[str], strategy: str, **kw: Any) -> tuple[str, Resp]:
        """Create + confirm; returns (order_id, confirm response)."""
        r = await self.order(seats, strategy, **kw)
        assert r.status == 201, r.body
        return r.body["order_id"], await self.confirm(r.body["order_id"])
