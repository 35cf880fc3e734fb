"""Readiness waits: a port that accepts is not a database that answers.

Each wait polls the real protocol (SQL ``SELECT 1``, Redis ``PING``, HTTP ``/health``) until it
answers or the deadline passes, then raises StackError naming the component and its log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from harness.errors import StackError
from harness.stack.control import Supervisor

Probe = Callable[[], Awaitable[object]]


async def wait_until(
    what: str, probe: Probe, *, within: float, log: Path | None,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Call ``probe`` until it returns without raising; StackError after ``within`` seconds."""
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            await probe()
            return
        except Exception as exc:  # any failure means "not ready yet"
            last = exc
        if alive is not None and not alive():
            where = f"; see {log}" if log else ""
            raise StackError(f"{what} keeps exiting at start-up ({last!r}){where}")
        await asyncio.sleep(0.1)
    where = f"; see {log}" if log else ""
    raise StackError(f"{what} did not become ready within {within:.0f}s ({last!r}){where}")


def postgres_probe(dsn: str) -> Probe:
    async def probe() -> object:
        conn = await asyncpg.connect(dsn, timeout=2)
        try:
            return await conn.fetchval("SELECT 1")
        finally:
            await conn.close()
    return probe


def redis_probe(url: str) -> Probe:
    async def probe() -> object:
        client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            if not await client.ping():
                raise RuntimeError("PING did not answer PONG")
            return True
        finally:
            await client.aclose()
    return probe


def http_probe(url: str) -> Probe:
    async def probe() -> object:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(url)
            response.raise_for_status()
            return response.status_code
    return probe


def group_running_probe(supervisor: Supervisor, group: str) -> Probe:
    """Ready when every process of a supervisord group is RUNNING."""
    async def probe() -> object:
        procs = [p for p in await asyncio.to_thread(supervisor.processes) if p.group == group]
        not_running = [p.fullname for p in procs if p.state != "RUNNING"]
        if not procs or not_running:
            raise RuntimeError(f"not running yet: {not_running or group}")
        return True
    return probe
