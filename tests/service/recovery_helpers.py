"""Helpers for crash/recovery tests: arm failpoints, survive the crash, wait for recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.service.client import Api, Resp

#: fast recovery settings for the restarted service processes
FAST = {"SAGA_STALE_S": "1", "IDEMPOTENCY_LOCK_TIMEOUT_S": "1", "TWOPC_GRACE_S": "1",
        "SWEEP_INTERVAL_S": "0.3"}


async def arm(api: Api, stack: Any, name: str, count: int | None = 1) -> None:
    """Arm ``name`` in every process and wait until all of them polled it."""
    r = await api.call("POST", "/admin/failpoints", json={"arm": {name: count}},
                       headers={"X-Admin-Token": stack.admin_token})
    assert r.status == 200, r.body
    await asyncio.sleep(0.8)


async def crashing(call: Awaitable[Resp]) -> Resp | None:
    """Await a request whose server process dies: None when the connection broke."""
    try:
        return await call
    except httpx.TransportError:
        return None


async def recover(api: Api, stack: Any) -> dict[str, Any]:
    r = await api.call("POST", "/admin/recover?force=1",
                       headers={"X-Admin-Token": stack.admin_token})
    assert r.status == 200, r.body
    body: dict[str, Any] = r.body
    return body


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Poll ``check`` until it is true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if await check():
                return
        except (httpx.TransportError, OSError):
            pass  # a process is restarting
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s}s: {check}")
        await asyncio.sleep(0.3)


async def until_healthy(api: Api) -> None:
    async def ok() -> bool:
        return (await api.call("GET", "/health")).status == 200
    await eventually(ok)
