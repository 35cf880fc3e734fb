"""Readiness waits: a port that accepts is not a database that answers, nor one that is ours.

Each wait polls the real protocol (SQL ``SELECT 1``, Redis ``PING``, HTTP ``/health``) until it
answers or the deadline passes, then raises StackError naming the component and its log. A
component is ready only when the process listening on its port is the one this stack started
(its pid as supervisord reports it): another stack's server answering on the port is a
collision, and fails the wait at once (ForeignListener, exit 3) naming that process and the port.
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
from harness.stack.listeners import listeners
from harness.topology import PROXIES

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
        except ForeignListener:
            raise  # waiting cannot help: our process can never bind that port
        except Exception as exc:  # any other failure means "not ready yet"
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


#: Port key -> the supervisord group whose processes alone may listen on it (Locust's ports are
#: the run's, not the stack's).
PORT_GROUPS: dict[str, str] = {
    "postgres": "postgres",
    "redis": "redis",
    "toxiproxy": "toxiproxy",
    "provider": "provider",
    "target": "target",
    **{spec.listen_key: "toxiproxy" for spec in PROXIES},
}


class ForeignListener(StackError):
    """A process this stack did not start listens on one of the stack's ports."""


def check_owner(port: int, key: str, ours: list[int]) -> bool:
    """True when one of ``ours`` listens on ``port`` and nothing else does; False when nothing
    listens yet; ForeignListener naming the process (pid and name) when another one does."""
    found = listeners(port, expected=ours)
    foreign = [f for f in found if f.pid not in ours]
    if foreign:
        raise ForeignListener(
            f"port 127.0.0.1:{port} (for {key}) is held by "
            f"{', '.join(f.describe() for f in foreign)}, which this stack did not start: "
            "stop it, or pick another block with `harness up --base-port N`"
        )
    return bool(found)


async def group_pids(supervisor: Supervisor, group: str) -> list[int]:
    return [p.pid for p in await asyncio.to_thread(supervisor.processes)
            if p.group == group and p.pid]


async def owner_is_ours(supervisor: Supervisor, port: int, key: str) -> bool:
    """:func:`check_owner` against the pids supervisord reports for ``key``'s group."""
    group = PORT_GROUPS[key]
    try:
        return await asyncio.to_thread(check_owner, port, key, await group_pids(supervisor, group))
    except ForeignListener:
        # supervisord knows a pid from the fork, before the process can bind: asking again
        # after seeing the listener covers one (re)started since we asked
        return await asyncio.to_thread(check_owner, port, key, await group_pids(supervisor, group))


def owned_probe(probe: Probe, supervisor: Supervisor, port: int, key: str) -> Probe:
    """``probe`` answering, with the listener on ``port`` a process of ``key``'s group."""
    async def owned() -> object:
        if not await owner_is_ours(supervisor, port, key):
            raise RuntimeError(f"{PORT_GROUPS[key]} is not listening on {port} yet")
        answer = await probe()
        await owner_is_ours(supervisor, port, key)  # the one that answered is ours
        return answer
    return owned


async def check_ports(
    supervisor: Supervisor, ports: dict[str, int], *, require: bool
) -> None:
    """ForeignListener when a process other than the owning group's listens on any of the
    stack's ports; with ``require``, StackError when one of them has no listener at all."""
    for key, group in PORT_GROUPS.items():
        if not await owner_is_ours(supervisor, ports[key], key) and require:
            raise StackError(f"nothing of {group} listens on port {ports[key]} (for {key})")
