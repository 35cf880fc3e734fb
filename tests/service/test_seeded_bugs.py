"""Each seeded bug (docs/contract.md section 6) breaks its invariant, checked with the SCHEMA.md
recipes; the same scenario without the bug keeps the invariant (so no test passes vacuously)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.service.client import Api
from tests.service.recovery_helpers import FAST, arm, crashing, eventually, recover, until_healthy

pytestmark = pytest.mark.asyncio(loop_scope="session")
#: a test that starts with `_restart` (the fixtures then skip restoring the defaults before it)
OWN = pytest.mark.own_services


async def _restart(stack: Any, api: Api, bug: str | None, **env: str) -> None:
    await stack.restart_services(bug=bug, extra_env={**FAST, **env})
    await until_healthy(api)


async def _double_sold(seats_db: Any) -> int:
    """no_double_sold_seats, recipes (a) and (b)."""
    live = await seats_db.fetchval(
        "SELECT count(*) FROM (SELECT os.seat_id FROM order_seats os JOIN orders o"
        " USING (order_id) WHERE o.status = 'SOLD' OR (o.status = 'AUTHORIZED'"
        " AND (o.hold_expires_at > now() OR o.finalize_started_at IS NOT NULL))"
        " GROUP BY os.event_id, os.seat_id HAVING count(*) > 1) x")
    tickets = await seats_db.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM tickets GROUP BY event_id, seat_id"
        " HAVING count(*) > 1) x")
    return int(live) + int(tickets)


@pytest.mark.parametrize("bug", [None, "lock-no-fencing"])
@OWN
async def test_lock_no_fencing_double_sells(stack: Any, api: Api, seats_db: Any,
                                            bug: str | None) -> None:
    await _restart(stack, api, bug, LOCK_LEASE_MS="600", SAGA_STALE_S="30")
    slow = (await api.order(["G-01"], "lock")).body["order_id"]
    other = await api.new_customer()
    fast_order = (await other.order(["G-01"], "lock")).body["order_id"]
    await arm(api, stack, "lock-stall-before-write", 1)
    stalled = asyncio.create_task(api.confirm(slow))
    await asyncio.sleep(0.9)  # the stalled holder's lease expired
    assert (await other.confirm(fast_order)).status == 202
    assert (await other.finalize(fast_order)).status == 200
    late = await stalled
    if bug is None:
        assert (late.status, late.code) == (409, "SEAT_UNAVAILABLE")
        assert await _double_sold(seats_db) == 0
    else:
        assert late.status == 202  # the stale holder overwrote a SOLD seat
        assert (await api.finalize(slow)).status == 200
        assert await _double_sold(seats_db) >= 1


@pytest.mark.parametrize("bug", [None, "lock-unsafe-release"])
@OWN
async def test_lock_unsafe_release_lets_a_third_buyer_in(stack: Any, api: Api, seats_db: Any,
                                                         bug: str | None) -> None:
    # stall = 3 leases = 1.8 s
    await _restart(stack, api, bug, LOCK_LEASE_MS="600", SAGA_STALE_S="30")
    buyers = [api, await api.new_customer(), await api.new_customer()]
    orders = [(await b.order(["G-02"], "lock")).body["order_id"] for b in buyers]
    await arm(api, stack, "lock-stall-before-write", 3)
    a = asyncio.create_task(buyers[0].confirm(orders[0]))  # stalls 0 .. 1.8
    await asyncio.sleep(0.9)
    b = asyncio.create_task(buyers[1].confirm(orders[1]))  # takes over, stalls 0.9 .. 2.7
    await asyncio.sleep(1.2)
    c = asyncio.create_task(buyers[2].confirm(orders[2]))  # at 2.1, after A released
    results = await asyncio.gather(a, b, c)
    wins = [r.status for r in results].count(202)
    assert results[0].status == 409
    if bug is None:
        assert wins == 1 and await _double_sold(seats_db) == 0
    else:
        assert wins == 2 and await _double_sold(seats_db) == 1


async def _held_by_dead_orders(seats_db: Any) -> int:
    """seat_conservation: a HELD seat whose holder is not an AUTHORIZED order."""
    return int(await seats_db.fetchval(
        "SELECT count(*) FROM seats s WHERE s.state = 'HELD' AND NOT EXISTS (SELECT 1 FROM"
        " orders o WHERE o.order_id = s.holder_order_id AND o.status = 'AUTHORIZED')"))


@pytest.mark.parametrize("bug", [None, pytest.param("saga-no-compensation", marks=OWN)])
async def test_saga_no_compensation_leaks_holds(stack: Any, api: Api, seats_db: Any,
                                                bug: str | None) -> None:
    if bug:
        await _restart(stack, api, bug)
    order_id = (await api.order(["G-03"], "saga")).body["order_id"]
    assert (await api.confirm(order_id, "tok_decline")).status == 402
    await recover(api, stack)
    assert await _held_by_dead_orders(seats_db) == (1 if bug else 0)


@pytest.mark.parametrize("bug", [None, pytest.param("idempotency-ignored", marks=OWN)])
async def test_idempotency_ignored_duplicates_effects(stack: Any, api: Api, seats_db: Any,
                                                      bug: str | None) -> None:
    if bug:
        await _restart(stack, api, bug)
    key = str(uuid.uuid4())
    first = await api.order(["G-04"], "saga", key=key)
    retry = await api.order(["G-04"], "saga", key=key)
    dupes = await seats_db.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM orders WHERE idempotency_key IS NOT NULL"
        " GROUP BY customer_id, idempotency_key HAVING count(*) > 1) x")
    assert dupes == (1 if bug else 0)
    assert retry.replayed == (bug is None)
    assert (retry.body == first.body) == (bug is None)


@pytest.mark.parametrize("bug", [None, "2pc-no-recovery"])
@OWN
async def test_2pc_no_recovery_leaves_in_doubt(stack: Any, api: Api, seats_db: Any,
                                               bug: str | None) -> None:
    await _restart(stack, api, bug)
    order_id = (await api.order(["G-05"], "2pc")).body["order_id"]
    await arm(api, stack, "2pc-after-prepare")
    assert await crashing(api.confirm(order_id)) is None
    await until_healthy(api)
    await asyncio.sleep(1.5)  # past TWOPC_GRACE_S
    await recover(api, stack)
    left = await seats_db.fetchval("SELECT count(*) FROM pg_prepared_xacts")
    assert left == (2 if bug else 0)


async def _captured_without_ticket(seats_db: Any, payments_db: Any) -> int:
    captured = await payments_db.fetch("SELECT order_id FROM payments WHERE status = 'CAPTURED'")
    ids = [r["order_id"] for r in captured]
    sold = await seats_db.fetchval(
        "SELECT count(*) FROM orders o WHERE o.order_id = ANY($1::uuid[]) AND o.status = 'SOLD'"
        " AND (SELECT count(*) FROM tickets t WHERE t.order_id = o.order_id)"
        " = (SELECT count(*) FROM order_seats s WHERE s.order_id = o.order_id)", ids)
    return len(ids) - int(sold)


@pytest.mark.parametrize("bug", [None, "capture-not-durable"])
@OWN
async def test_capture_not_durable_loses_the_sale(stack: Any, api: Api, seats_db: Any,
                                                  payments_db: Any, bug: str | None) -> None:
    await _restart(stack, api, bug, HOLD_TTL_S="3")
    order_id, confirmed = await api.buy(["G-06"], "saga")
    assert confirmed.status == 202
    await arm(api, stack, "finalize-after-capture")
    assert await crashing(api.finalize(order_id)) is None
    await until_healthy(api)

    async def settled() -> bool:
        await recover(api, stack)
        status = (await api.get(order_id)).body["status"]
        return status in ("SOLD", "EXPIRED")

    await eventually(settled)
    assert await _captured_without_ticket(seats_db, payments_db) == (1 if bug else 0)
