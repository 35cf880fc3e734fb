"""The service's introspection door (target_service/introspection.py) against the real stack:
its clocks are the service's settings, it sees a held seat lock and the confirm past its check,
it arms and disarms failpoints as the service sees them, and the admin view answers the same."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from target_service import introspection
from target_service.config import Settings
from target_service.failpoints import SELECT_ARMS, Arm, arm_of
from target_service.introspection import Seat
from target_service.seed import reset_data
from tests.chaos.links import Buyer, eventually
from tests.conftest import StackHandle


def test_the_clocks_are_the_services_settings() -> None:
    d = Settings()
    c = introspection.clocks()
    assert (c.lock_lease_s, c.failpoint_poll_s, c.hold_ttl_s, c.saga_stale_s) == (
        d.lock_lease_ms / 1000, d.failpoint_poll_s, d.hold_ttl_s, d.saga_stale_s)
    tuned = introspection.clocks({"LOCK_LEASE_MS": "1500", "FAILPOINT_POLL_S": "0.1"})
    assert (tuned.lock_lease_s, tuned.failpoint_poll_s) == (1.5, 0.1)
    with pytest.raises(ValueError, match="LOCK_LEASE_MS"):
        introspection.clocks({"LOCK_LEASE_MS": "soon"})


@pytest.mark.own_services
@pytest.mark.asyncio(loop_scope="session")
async def test_the_door_sees_a_held_lock_its_confirm_and_the_failpoints(
    stack: StackHandle,
) -> None:
    """A slow provider keeps one lock confirm inside its locked section: the door names the
    seats, the process instance holding them, the confirm's order, and the pending saga."""
    await stack.restart_services(provider_latency_ms=2500)
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    stores = stack.state.stores()
    seats = [Seat("evt_small", "A-08"), Seat("evt_small", "A-09")]
    assert await introspection.lock_holds(stores) == []
    async with Buyer(stack.target_url) as buyer:
        order = await buyer.order([s.seat_id for s in seats], "lock")
        confirm = asyncio.create_task(buyer.confirm(order))

        async def held() -> bool:
            return [h.seat for h in await introspection.lock_holds(stores)] == seats

        await eventually(held, within=20)
        holds = await introspection.lock_holds(stores)
        assert {h.instance for h in holds} <= {"0", "1"} and len({h.owner for h in holds}) == 1
        assert set((await introspection.lock_owners(stores, seats)).values()) == {holds[0].owner}
        assert (await introspection.confirms_past_check(stores, seats)) == {
            s: {order} for s in seats}
        assert (await introspection.pending_work(stores)).sagas >= 1
        assert (await confirm).status_code == 202
    assert await introspection.lock_holds(stores) == []  # released
    rows = await introspection.seat_rows(stores, seats)
    assert {r.state for r in rows.values()} == {"HELD"} and {
        r.holder_order_id for r in rows.values()} == {order}

    await introspection.arm_failpoint(stores, "lock-after-authorize", 2)
    assert await introspection.armed_failpoints(stores) == {"lock-after-authorize": 2}
    async with httpx.AsyncClient(timeout=10) as client:
        headers = {"X-Admin-Token": stack.admin_token}
        view = (await client.get(stack.state.url("target") + "/admin/introspect",
                                 headers=headers)).json()
        assert view["failpoints"] == {"lock-after-authorize": 2}
        assert view["clocks"]["lock_lease_s"] == stack.state.clocks().lock_lease_s
        assert set(view["pending"]) >= {"sagas", "prepared", "live_holds"}
        refused = await client.get(stack.state.url("target") + "/admin/introspect")
        assert refused.status_code == 403
    # a chance travels through the door into the table the service processes read
    await introspection.arm_failpoint(stores, "lock-after-authorize", 9, action="delay",
                                      seconds=1.5, instance="1", chance=0.25)
    rows = await introspection._seats(stores, "fetch", SELECT_ARMS)
    assert [arm_of(r) for r in rows] == [Arm(9, "delay", 1.5, "1", 0.25)]
    with pytest.raises(ValueError, match="chance"):
        await introspection.arm_failpoint(stores, "lock-after-authorize", 1, chance=1.5)
    assert await introspection.disarm_all_failpoints(stores) == ["lock-after-authorize"]
    assert await introspection.armed_failpoints(stores) == {}
