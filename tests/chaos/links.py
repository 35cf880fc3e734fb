"""Real clients of the stack's links, as the faults' victims see them (helpers for the tests)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as aioredis

from chaos.context import ChaosContext
from harness.stack import StackState
from harness.stack.heal import verify_healed


@asynccontextmanager
async def redis_client(url: str, timeout_s: float = 1.0) -> AsyncIterator[aioredis.Redis]:
    """A Redis client whose connection is opened (handshake done) before the block runs.

    Faults are applied to an open connection on purpose: a new connection's handshake would
    hang in a half-open link before the command under test is even sent.
    """
    client = aioredis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
        single_connection_client=True, retry_on_timeout=False,
    )
    try:
        assert await client.ping()
        yield client
    finally:
        await client.aclose()


async def timed(coro: object) -> float:
    start = time.monotonic()
    await coro  # type: ignore[misc]
    return time.monotonic() - start


async def ping_through(state: StackState) -> bool:
    async with redis_client(state.redis_url(proxied=True)) as client:
        return bool(await client.ping())


async def authorize(url: str, key: str, order_id: str, timeout_s: float) -> httpx.Response:
    """One authorization at the provider (through ``url``), idempotent by ``key``."""
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        return await client.post(
            url + "/v1/authorizations", headers={"Idempotency-Key": key},
            json={"order_id": order_id, "amount_cents": 1000, "payment_token": "tok_ok"},
        )


async def assert_healed(state: StackState) -> None:
    """No disabled proxy, no toxic, no stopped stack process."""
    assert await verify_healed(state) == []


async def eventually(check: object, *, within: float = 10.0, step: float = 0.05) -> None:
    """Poll ``check()`` (sync or async; truthy = done); AssertionError after ``within``."""
    deadline = time.monotonic() + within
    while True:
        result = check()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {check}")
        await asyncio.sleep(step)


def ctx_for(state: StackState, seed: int = 1) -> ChaosContext:
    return ChaosContext(state, seed=seed)


class Buyer:
    """A minimal buyer through the target service API (fresh customer, one order at a time)."""

    def __init__(self, base_url: str, *, timeout_s: float = 15.0) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self.token = ""

    async def __aenter__(self) -> Buyer:
        """Sign up; on any failure the client is closed here (``__aexit__`` does not run when
        ``__aenter__`` raises, and its connection would be left to the garbage collector)."""
        try:
            r = await self.http.post("/api/customers")
            assert r.status_code == 201, r.text
            self.token = r.json()["token"]
        except BaseException:
            await self.http.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: dict[str, object] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": secrets.token_hex(8)}
        return await self.http.post(path, json=body, headers=headers)

    async def order(self, seats: list[str], strategy: str, event_id: str = "evt_small") -> str:
        r = await self.post("/api/orders", {"event_id": event_id, "seats": seats,
                                            "strategy": strategy})
        assert r.status_code == 201, r.text
        return str(r.json()["order_id"])

    async def confirm(self, order_id: str) -> httpx.Response:
        return await self.post(f"/api/orders/{order_id}:confirm", {"payment_token": "tok_ok"})
