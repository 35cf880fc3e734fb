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
from harness.stack.listeners import listeners_of
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


#: While a component does not answer yet, how often to look for a foreign listener on its port
#: (reading the kernel's socket tables costs about 0.1 s on a busy machine).
FOREIGN_CHECK_EVERY = 1.0


async def _group_pids(supervisor: Supervisor) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = {group: [] for group in PORT_GROUPS.values()}
    for proc in await asyncio.to_thread(supervisor.processes):
        if proc.pid:
            pids.setdefault(proc.group, []).append(proc.pid)
    return pids


def _verdicts(ports: dict[str, int], pids: dict[str, list[int]]) -> dict[str, str | None]:
    """Port key -> None when one of its group's pids listens and nothing else does, ``""`` when
    nothing listens, else the foreign listeners described."""
    ours = [pid for group_pids in pids.values() for pid in group_pids]
    found = listeners_of(list(ports.values()), expected=ours)
    verdicts: dict[str, str | None] = {}
    for key, port in ports.items():
        allowed = pids[PORT_GROUPS[key]]
        foreign = [f for f in found[port] if f.pid not in allowed]
        verdicts[key] = (", ".join(f.describe() for f in foreign) if foreign
                         else None if found[port] else "")
    return verdicts


async def owners(supervisor: Supervisor, ports: dict[str, int]) -> dict[str, bool]:
    """Port key -> whether the process listening on it is one this stack started (False:
    nothing listens yet); ForeignListener naming the process (pid and name) and the port when
    another one listens."""
    verdicts = await asyncio.to_thread(_verdicts, ports, await _group_pids(supervisor))
    if any(verdicts.values()):
        # supervisord knows a pid from the fork, before the process can bind: asking again
        # after seeing the listener covers one (re)started since we asked
        verdicts = await asyncio.to_thread(_verdicts, ports, await _group_pids(supervisor))
    for key, foreign in verdicts.items():
        if foreign:
            raise ForeignListener(
                f"port 127.0.0.1:{ports[key]} (for {key}) is held by {foreign}, which this "
                "stack did not start: stop it, or pick another block with "
                "`harness up --base-port N`"
            )
    return {key: verdict is None for key, verdict in verdicts.items()}


def owned_probe(probe: Probe, supervisor: Supervisor, port: int, key: str) -> Probe:
    """``probe`` answering, with the listener on ``port`` a process of ``key``'s group; a
    foreign listener fails at once (checked on every answer, and every FOREIGN_CHECK_EVERY
    seconds while there is none)."""
    checked = -FOREIGN_CHECK_EVERY  # the first failure looks at once

    async def owned() -> object:
        nonlocal checked
        try:
            answer = await probe()
        except Exception:
            if time.monotonic() - checked >= FOREIGN_CHECK_EVERY:
                checked = time.monotonic()
                await owners(supervisor, {key: port})  # raises on a foreign listener
            raise
        if not (await owners(supervisor, {key: port}))[key]:
            raise RuntimeError(f"{PORT_GROUPS[key]} is not listening on {port} yet")
        return answer
    return owned


async def check_ports(
    supervisor: Supervisor, ports: dict[str, int], *, require: bool
) -> None:
    """ForeignListener when a process other than the owning group's listens on any of the
    stack's ports; with ``require``, StackError when one of them has no listener at all."""
    ours = await owners(supervisor, {key: ports[key] for key in PORT_GROUPS})
    missing = [key for key, listening in ours.items() if not listening]
    if require and missing:
        raise StackError(f"nothing of this stack listens on the ports for {', '.join(missing)}; "
                         f"ports {ports}")
