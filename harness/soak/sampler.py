"""Resource samples of every stack component during the load (a run-loop monitor).

Every ``every_s`` seconds it records, per supervised process (pids from the stack's supervisord;
PostgreSQL with its backends), the resident memory (MiB) and open file descriptors; the connections
per database (``pg_stat_activity``); Redis ``connected_clients``; and the backlog the service must
work off (unfinished sagas, prepared transactions, orders rolling forward), as the service's
introspection door reports it. A sample that cannot be taken (a process restarting, a database cut
off by a fault) is skipped for that metric, never an error: the trend tolerates gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import psutil

from harness.run.loop import MonitorContext
from harness.stack import Stack, StackState
from target_service import introspection

_PG_CONNS = ("SELECT datname, count(*) FROM pg_stat_activity WHERE datname IS NOT NULL"
             " GROUP BY datname")
QUERY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One value: ``metric`` of ``component`` at ``t`` seconds of ``strategy``'s load."""

    strategy: str
    t: float
    metric: str
    component: str
    value: float

    def row(self) -> list[str]:
        return [self.strategy, f"{self.t:.3f}", self.metric, self.component, f"{self.value:g}"]


CSV_HEADER = ["strategy", "t", "metric", "component", "value"]


def process_usage(pid: int) -> tuple[float, int] | None:
    """(RSS MiB, open fds) of ``pid`` and its children, or None when it is gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    rss, fds = 0, 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            rss += proc.memory_info().rss
            fds += proc.num_fds()
    return rss / (1024 * 1024), fds


def process_samples(stack: Stack, strategy: str, t: float) -> list[Sample]:
    """RSS and fds of every supervised process (blocking; run it in a thread)."""
    out: list[Sample] = []
    try:
        procs = stack.supervisor().processes()
    except Exception:
        return out
    for proc in procs:
        if not proc.pid:
            continue
        usage = process_usage(proc.pid)
        if usage is None:
            continue
        out.append(Sample(strategy, t, "rss_mb", proc.name, round(usage[0], 3)))
        out.append(Sample(strategy, t, "fds", proc.name, float(usage[1])))
    return out


async def database_samples(state: StackState, strategy: str, t: float) -> list[Sample]:
    """Connections per database, Redis clients and the service's backlog (direct links)."""
    out: list[Sample] = []
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(state.dsn("seats"), timeout=QUERY_TIMEOUT_S)
        try:
            for row in await conn.fetch(_PG_CONNS, timeout=QUERY_TIMEOUT_S):
                out.append(Sample(strategy, t, "pg_conns", str(row[0]), float(row[1])))
        finally:
            await conn.close()
    with contextlib.suppress(Exception):
        work = await introspection.pending_work(state.stores())
        backlog = {"sagas": work.sagas, "prepared": work.prepared + work.prepared_payments,
                   "finalizing": work.finalizing}
        out.extend(Sample(strategy, t, "backlog", k, float(v)) for k, v in backlog.items())
    with contextlib.suppress(Exception):
        import redis.asyncio as aioredis

        client = aioredis.from_url(state.redis_url(), socket_timeout=QUERY_TIMEOUT_S,
                                   socket_connect_timeout=QUERY_TIMEOUT_S)
        try:
            info: dict[str, Any] = await client.info("clients")
            # our own connection is one of them
            out.append(Sample(strategy, t, "redis_clients", "redis",
                              float(info["connected_clients"]) - 1))
        finally:
            await client.aclose()
    return out


class ResourceSampler:
    """A run-loop monitor that appends a :class:`Sample` set every ``every_s`` seconds."""

    def __init__(self, every_s: float) -> None:
        self.every_s = max(0.5, every_s)
        self.samples: list[Sample] = []

    async def __call__(self, ctx: MonitorContext) -> None:
        for _ in range(10_000_000):  # bounded; ends with the load
            t = time.monotonic() - ctx.t0
            taken = await asyncio.to_thread(process_samples, ctx.stack, ctx.strategy, t)
            taken += await database_samples(ctx.state, ctx.strategy, t)
            self.samples.extend(taken)
            try:
                await asyncio.wait_for(ctx.stop.wait(), self.every_s)
                return
            except TimeoutError:
                continue

    def series(self, strategy: str) -> dict[tuple[str, str], list[tuple[float, float]]]:
        """(metric, component) -> [(t, value)] of one strategy's load."""
        out: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for s in self.samples:
            if s.strategy == strategy:
                out.setdefault((s.metric, s.component), []).append((s.t, s.value))
        return out
