"""Coverage counters on directed scenarios against the real stack: each dangerous situation
is counted by the service when it happens, and a correct run without faults reaches none."""

from __future__ import annotations

import asyncio
from typing import Any

import psutil
import pytest

from chaos.processes import processes
from harness.run.coverage import coverage_of
from target_service.introspection import coverage_counts
from tests.chaos.links import ctx_for
from tests.service.client import Api
from tests.service.recovery_helpers import FAST, crashing, eventually, until_healthy

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = "/admin/failpoints"


async def arm(api: Api, stack: Any, name: str, arming: Any) -> None:
    r = await api.call("POST", ADMIN, json={"arm": {name: arming}},
                       headers={"X-Admin-Token": stack.admin_token})
    assert r.status == 200, r.body
    await asyncio.sleep(0.8)  # every process polled the shared table


async def test_correct_purchases_without_faults_reach_nothing_and_are_vacuous(
        stack: Any, api: Api) -> None:
    seats = {"lock": ["C-11", "C-12"], "saga": ["C-21", "C-22"], "2pc": ["C-31", "C-32"]}
    for strategy, mine in seats.items():
        for seat in mine:
            order_id, confirmed = await api.buy([seat], strategy)
            assert confirmed.status == 202, confirmed.body
            assert (await api.finalize(order_id)).status == 200
    counts = await coverage_counts(stack.seats_dsn)
    assert counts == {}
    for strategy in seats:
        cov = coverage_of(strategy, counts, True)
        assert cov.vacuous is True and cov.reached == {}
        assert "hold-expired-while-authorized" in cov.missing


async def test_a_lock_holder_paused_past_its_lease_counts_lease_expired_inside(
        stack: Any, api: Api) -> None:
    order = await api.order(["D-07"], "lock")
    assert order.status == 201
    await arm(api, stack, "lock-after-authorize", {"remaining": 1, "action": "pause"})
    confirm = asyncio.create_task(api.confirm(order.body["order_id"]))
    stopped: list[psutil.Process] = []

    async def one_stopped() -> bool:
        async with ctx_for(stack.state) as ctx:
            infos = [p for p in await processes(ctx) if p.group == "target"]
        stopped[:] = [psutil.Process(p.pid) for p in infos
                      if psutil.Process(p.pid).status() == psutil.STATUS_STOPPED]
        return bool(stopped)

    await eventually(one_stopped, timeout_s=20)
    await asyncio.sleep(1.5 * 2.0 + 0.5)  # past the default 2 s lease
    assert not confirm.done()
    for proc in stopped:
        proc.resume()
    response = await asyncio.wait_for(confirm, 30)
    assert response.status == 202  # nobody took the seat meanwhile: the write goes in
    counts = await coverage_counts(stack.seats_dsn)
    assert counts.get("lease-expired-in-critical-section", 0) >= 1
    assert "crash:lock-after-authorize" not in counts  # paused, not crashed
    cov = coverage_of("lock", counts, True)
    assert not cov.vacuous
    assert "lease-expired-in-critical-section" in cov.reached


@pytest.mark.own_services
async def test_a_2pc_crash_after_prepare_counts_the_crash_and_the_recovery(
        stack: Any, api: Api, seats_db: Any) -> None:
    await stack.restart_services(extra_env=FAST)
    order_id = (await api.order(["E-09"], "2pc")).body["order_id"]
    await arm(api, stack, "2pc-after-prepare", 1)
    assert await crashing(api.confirm(order_id)) is None
    await until_healthy(api)

    async def resolved() -> bool:
        return await seats_db.fetchval("SELECT count(*) FROM pg_prepared_xacts") == 0

    await eventually(resolved)  # the periodic recovery (presumed abort)
    counts = await coverage_counts(stack.seats_dsn)
    assert counts.get("crash:2pc-after-prepare") == 1
    assert counts.get("in-doubt-aborted-by-recovery", 0) >= 1
    assert "in-doubt-committed-by-recovery" not in counts
    cov = coverage_of("2pc", counts, True)
    assert not cov.vacuous and "in-doubt-committed-by-recovery" in cov.missing
