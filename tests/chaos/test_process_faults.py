"""Pause, kill and crash hit only the intended process, the others keep serving, and the stack
recovers (supervisord restarts what died)."""

from __future__ import annotations

import asyncio

import httpx
import psutil
import pytest

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults import AnyFault, make
from chaos.processes import is_dead, processes
from target_service import introspection
from target_service.seed import reset_data
from tests.chaos.links import Buyer, assert_healed, ctx_for
from tests.conftest import StackHandle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def pids(stack: StackHandle) -> dict[str, int]:
    async with ctx_for(stack.state) as ctx:
        return {p.name: p.pid for p in await processes(ctx)}


async def health_answers(url: str, *, attempts: int) -> int:
    """How many of ``attempts`` fresh connections get a /health answer within 2 s."""
    async def one() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                return (await client.get(url + "/health")).status_code == 200
        except httpx.HTTPError:
            return False

    return sum(await asyncio.gather(*(one() for _ in range(attempts))))


async def test_pause_freezes_only_its_process_and_the_others_keep_serving(
    stack: StackHandle,
) -> None:
    before = await pids(stack)
    async with ctx_for(stack.state) as ctx:
        fault = make("pause", "target-0", {"holding_locks": False})
        await fault.start(ctx)
        await fault.start(ctx)
        try:
            status = {n: psutil.Process(p).status() for n, p in before.items()}
            assert status.pop("target-0") == psutil.STATUS_STOPPED
            assert psutil.STATUS_STOPPED not in status.values(), status
            # SO_REUSEPORT spreads fresh connections over both processes: target-1 answers
            assert await health_answers(stack.target_url, attempts=20) >= 1
            assert await health_answers(stack.provider_url, attempts=3) == 3
        finally:
            await fault.stop(ctx)
            await fault.stop(ctx)
    assert psutil.Process(before["target-0"]).status() != psutil.STATUS_STOPPED
    assert await pids(stack) == before  # paused, not restarted
    assert await health_answers(stack.target_url, attempts=10) == 10
    await assert_healed(stack.state)


async def test_kill_hits_only_its_process_and_supervisord_restarts_it(
    stack: StackHandle,
) -> None:
    before = await pids(stack)
    async with ctx_for(stack.state) as ctx:
        fault = make("kill", "target-1")
        await fault.start(ctx)
        await fault.start(ctx)  # killed once
        assert is_dead(before["target-1"])
        await fault.stop(ctx)  # waits for the restart
        await fault.stop(ctx)
        assert fault.observed()["process"] == "target-1"
    after = await pids(stack)
    assert after["target-1"] not in (0, before["target-1"])
    assert {n: p for n, p in after.items() if n != "target-1"} == {
        n: p for n, p in before.items() if n != "target-1"}
    assert await health_answers(stack.target_url, attempts=10) == 10


@pytest.mark.own_services
async def test_pause_longer_than_the_lease_makes_a_lock_holder_lose_its_locks(
    stack: StackHandle,
) -> None:
    """service-pause's purpose: the paused process holds seat locks and their lease runs out.

    One service process (so the lock holder is the paused one), a 1 s lease and a slow provider
    keep a confirm inside its locked section while the pause starts."""
    await stack.restart_services(target_processes=1, provider_latency_ms=2500,
                                 extra_env={"LOCK_LEASE_MS": "1000"})
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    async with Buyer(stack.state.url("target")) as buyer, ctx_for(stack.state) as ctx:
        assert ctx.lock_lease_s == 1.0
        order = await buyer.order(["A-01", "A-02"], "lock")
        confirm = asyncio.create_task(buyer.confirm(order))
        fault = make("pause", "target-0", {"holding_locks": True, "lock_wait_s": 10})
        await fault.start(ctx)
        try:
            assert fault.observed()["locks_at_pause"] == 2
            await asyncio.sleep(3 * ctx.lock_lease_s + 1)
        finally:
            await fault.stop(ctx)
        assert fault.observed()["expired_unreleased"] == 2  # both leases ran out while frozen
        await asyncio.wait_for(confirm, 30)  # the process serves again (whatever the answer)
    await assert_healed(stack.state)


@pytest.mark.own_services
async def test_pause_of_target_freezes_the_process_that_holds_the_locks(
    stack: StackHandle,
) -> None:
    """Two service processes; a slow provider keeps one confirm inside its locked section. The
    lock owner values name the holder's instance, so ``target`` pauses exactly that process."""
    await stack.restart_services(provider_latency_ms=2500)
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    async with Buyer(stack.target_url) as buyer, ctx_for(stack.state) as ctx:
        order = await buyer.order(["A-03", "A-04"], "lock")
        confirm = asyncio.create_task(buyer.confirm(order))
        # the confirm takes its two locks one after the other: pause only once it holds both
        # (the slow provider keeps them 2.5 s), or the pause may freeze it holding the first
        for _ in range(200):  # bounded: 10 s
            if len(await introspection.lock_holds(stack.state.stores())) == 2:
                break
            await asyncio.sleep(0.05)
        fault = make("pause", "target", {"holding_locks": True, "lock_wait_s": 10})
        await fault.start(ctx)
        try:
            seen = fault.observed()
            assert seen["picked"] == "lock-holder"
            assert seen["locks_at_pause"] == seen["held_by_paused"] == 2
            paused = (await pids(stack))[str(seen["process"])]
            assert psutil.Process(paused).status() == psutil.STATUS_STOPPED
        finally:
            await fault.stop(ctx)
        await asyncio.wait_for(confirm, 30)
    await assert_healed(stack.state)


async def start_at_step(stack: StackHandle, fault: AnyFault,
                        ctx: ChaosContext) -> asyncio.Task[None]:
    """Start a pause ``at`` the step; return once every service process has seen it armed."""
    starting = asyncio.create_task(fault.start(ctx))
    for _ in range(200):  # bounded: until the failpoint is armed for every process
        if "lock-pause-before-write" in await failpoints.armed(stack.state):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)  # two failpoint poll periods of the service processes
    return starting


async def test_pause_at_the_critical_step_freezes_the_process_that_reached_it(
    stack: StackHandle,
) -> None:
    """With ``at``, the process serving a lock confirm stops itself after the payment and before
    the fenced seat write; the fault reports it, and stop continues it to finish the confirm."""
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    async with Buyer(stack.target_url) as buyer, ctx_for(stack.state) as ctx:
        order = await buyer.order(["A-05"], "lock")
        fault = make("pause", "target", {"at": "lock-pause-before-write", "lock_wait_s": 20})
        starting = await start_at_step(stack, fault, ctx)
        confirm = asyncio.create_task(buyer.confirm(order))
        await asyncio.wait_for(starting, 30)
        try:
            seen = fault.observed()
            assert seen["picked"] == "failpoint"
            paused = (await pids(stack))[str(seen["process"])]
            assert psutil.Process(paused).status() == psutil.STATUS_STOPPED
            assert not confirm.done()  # frozen before the write: no answer yet
            assert "lock-pause-before-write" not in await failpoints.armed(stack.state)
        finally:
            await fault.stop(ctx)
        response = await asyncio.wait_for(confirm, 30)
        assert response.status_code == 202  # nobody took the seat meanwhile: the write goes in
    await assert_healed(stack.state)


async def test_the_relay_keeps_the_step_armed_from_its_pick_into_its_round(
    stack: StackHandle,
) -> None:
    """The lock-takeover relay keeps the holder A (two rival orders want its seat) and the
    failpoint stays armed while A is handed to the relay round: a moment disarmed would let a
    rival pass the step unseen. Stop disarms it and continues A."""
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    async with Buyer(stack.target_url) as buyer, Buyer(stack.target_url) as rival_1, \
            Buyer(stack.target_url) as rival_2, ctx_for(stack.state) as ctx:
        order = await buyer.order(["A-06"], "lock")
        fault = make("lock-takeover-relay", "target", {"lock_wait_s": 20})
        starting = await start_at_step(stack, fault, ctx)
        for rival in (rival_1, rival_2):  # the demand that makes A wanted at once
            await rival.order(["A-06"], "lock")
        confirm = asyncio.create_task(buyer.confirm(order))
        await asyncio.wait_for(starting, 30)
        try:
            seen = fault.observed()
            assert seen["pick_demand"] == 2
            [pick] = seen["picks"]  # armed in the table: no admin call to wait on
            assert pick["kept"] == seen["process"] and 0 <= pick["arm_s"] <= pick["s"]
            assert "lock-pause-before-write" in await failpoints.armed(stack.state)
            assert not confirm.done()
        finally:
            await fault.stop(ctx)
        assert await failpoints.armed(stack.state) == {}
        response = await asyncio.wait_for(confirm, 30)
        assert response.status_code in (202, 409)  # continued: written, or fenced out
    await assert_healed(stack.state)


async def test_crash_at_a_failpoint_kills_one_process_between_prepare_and_commit(
    stack: StackHandle,
) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    before = await pids(stack)
    async with Buyer(stack.state.url("target")) as buyer, ctx_for(stack.state) as ctx:
        order = await buyer.order(["A-05"], "2pc")
        fault = make("crash", "2pc-after-prepare", {"count": 1})
        await fault.start(ctx)
        try:
            assert (await failpoints.armed(stack.state)) == {"2pc-after-prepare": 1}
            with pytest.raises(httpx.TransportError):  # the process died mid-request
                await buyer.confirm(order)
        finally:
            await fault.stop(ctx)
        assert fault.observed() == {"fired": 1, "taken": 1}
    after = await pids(stack)
    assert sum(after[n] != before[n] for n in ("target-0", "target-1")) == 1
    assert after["provider"] == before["provider"]
    assert await failpoints.armed(stack.state) == {}
    assert await health_answers(stack.target_url, attempts=10) == 10


async def test_a_crash_that_no_request_reached_took_nothing_though_a_kill_restarted_one(
    stack: StackHandle,
) -> None:
    """``taken`` is the failpoint's own firings; ``fired`` counts any restart in the window
    (here another fault's kill), so only ``taken`` says whether the crash happened."""
    async with ctx_for(stack.state) as ctx:
        crash = make("crash", "2pc-after-prepare", {"count": 1})
        kill = make("kill", "target-1")
        await crash.start(ctx)
        try:
            await kill.start(ctx)
            await kill.stop(ctx)  # restarted; no request reached the armed step
        finally:
            await crash.stop(ctx)
        assert crash.observed() == {"fired": 1, "taken": 0}
    assert await failpoints.armed(stack.state) == {}
    assert await health_answers(stack.target_url, attempts=10) == 10
