"""Exploration and the dense ``mixed`` against the real stack: an armed pause stops a service
process at its step and the fault continues it, and a short dense mixed run heals completely."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos import failpoints
from chaos.faults import make
from chaos.processes import processes
from chaos.runner import run_schedule
from chaos.schedules import build
from target_service.introspection import coverage_counts
from target_service.seed import reset_data
from tests.chaos.links import Buyer, assert_healed, ctx_for, eventually
from tests.conftest import StackHandle

pytestmark = pytest.mark.asyncio(loop_scope="session")


@contextlib.asynccontextmanager
async def explored_confirm(stack: StackHandle, seat: str, params: dict[str, object]
                           ) -> AsyncIterator[tuple[Buyer, Any, asyncio.Task[httpx.Response]]]:
    """On fresh data, ``explore`` armed at the lock's ``lock-after-authorize`` with
    ``params``, and a lock confirm of ``seat`` under way: (its buyer, the fault, the confirm).
    The fault is stopped on the way out."""
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    async with Buyer(stack.target_url, timeout_s=30) as buyer, ctx_for(stack.state) as ctx:
        order = await buyer.order([seat], "lock")
        fault = make("explore", "lock-after-authorize", params)
        await fault.start(ctx)
        try:
            yield buyer, fault, asyncio.create_task(buyer.confirm(order))
        finally:
            await fault.stop(ctx)


async def test_an_explored_pause_is_continued_by_the_fault_and_counts_the_lapsed_lease(
    stack: StackHandle,
) -> None:
    params: dict[str, object] = {"action": "pause", "seconds": 3.0, "count": 1}
    async with explored_confirm(stack, "A-03", params) as (_, fault, confirm):
        await eventually(lambda: fault.observed()["paused"], within=20)
        assert not confirm.done()
        response = await asyncio.wait_for(confirm, 20)  # continued by the fault itself
        assert response.status_code == 202
    await assert_healed(stack.state)
    assert await failpoints.armed(stack.state) == {}
    counts = await coverage_counts(stack.seats_dsn)
    assert counts.get("lease-expired-in-critical-section", 0) >= 1


async def test_an_explored_delay_holds_the_request_and_its_lease_not_the_process(
    stack: StackHandle,
) -> None:
    """A delay at a step inside the lock's critical section stops that request's lease
    renewal (its lease runs out, counted), while the process keeps serving others."""
    params: dict[str, object] = {"action": "delay", "seconds": 3.5, "count": 1}
    async with explored_confirm(stack, "A-05", params) as (buyer, _, confirm):
        await asyncio.sleep(1.0)
        other = await buyer.order(["A-06"], "lock")  # answered while the first is held
        assert other and not confirm.done()
        response = await asyncio.wait_for(confirm, 20)
        assert response.status_code == 202
    await assert_healed(stack.state)
    counts = await coverage_counts(stack.seats_dsn)
    assert counts.get("lease-expired-in-critical-section", 0) >= 1


async def _buy_until(stop: asyncio.Event, url: str, strategy: str) -> int:
    """Buyers one after another until ``stop``; how many purchases were answered 202."""
    done = 0
    seat = 0
    while not stop.is_set():
        seat += 1
        with contextlib.suppress(httpx.HTTPError, AssertionError):
            async with Buyer(url, timeout_s=5) as buyer:
                order = await buyer.order([f"A-{seat % 20 + 1:02d}"], strategy)
                done += (await buyer.confirm(order)).status_code == 202
        await asyncio.sleep(0.05)
    return done


async def test_a_short_dense_mixed_run_heals(stack: StackHandle, tmp_path: Path) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    schedule = build("mixed", seed=3, duration_s=20, strategy="saga")
    assert len(schedule) >= 3
    log = tmp_path / "faults.jsonl"
    stop = asyncio.Event()
    load = asyncio.create_task(_buy_until(stop, stack.target_url, "saga"))
    try:
        async with ctx_for(stack.state) as ctx:
            windows = await run_schedule(schedule, ctx, faults_log=log, t0=time.monotonic(),
                                         stop=asyncio.Event(), log_extra={"strategy": "saga"})
    finally:
        stop.set()
        await load
    assert len(windows) == len(schedule)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(e["event"] == "start" for e in lines) == len(schedule)
    assert sum(e["event"] == "stop" for e in lines) == len(schedule)
    await assert_healed(stack.state)
    assert await failpoints.armed(stack.state) == {}
    async with ctx_for(stack.state) as ctx:
        targets = [p for p in await processes(ctx) if p.group == "target"]
    assert targets and all(p.state == "RUNNING" for p in targets)
