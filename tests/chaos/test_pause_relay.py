"""The lock-takeover-relay adversary's aim (chaos/faults/relay*.py, asking the service's door):
which holder it freezes first (one whose confirm at the step holds free seats rivals want), how
long a frozen buyer may stay frozen (less than its leases that would run out into a fenced
take-over), and when the successor's buyer walked away (a round that can show nothing)."""

from __future__ import annotations

import asyncio
import secrets
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import pytest

from chaos.faults import relay as relay_mod
from chaos.faults.relay_aim import (
    LEASE_MARGIN_S,
    at_step,
    frozen_until,
    pick_need,
    seat_demand,
    undeclined,
)
from chaos.faults.relay_round import Round
from harness.stack.control import ProcessInfo
from target_service import introspection
from target_service.introspection import Seat
from target_service.seed import reset_data
from tests.chaos.links import Buyer, authorize, ctx_for
from tests.conftest import StackHandle


def test_the_pick_of_the_holder_wants_rivals_first_then_takes_anyone() -> None:
    needs = [pick_need(t) for t in (0.0, 1.0, 1.49, 1.5, 2.9, 3.0, 10.0)]
    assert needs == [2, 2, 2, 1, 1, 0, 0]


def test_a_frozen_buyer_is_continued_before_its_shortest_lease_runs_out() -> None:
    assert frozen_until(100.0, 3.0, []) == 103.0  # no lease that matters: the cap
    assert frozen_until(100.0, 3.0, [2000, 1200]) == pytest.approx(101.2 - LEASE_MARGIN_S)
    assert frozen_until(100.0, 1.0, [2000]) == 101.0  # the cap is shorter
    assert frozen_until(100.0, 3.0, [-2]) == 100.0  # a lease already gone: not at all
    assert frozen_until(100.0, 3.0, [100]) == 100.0  # never before now


@pytest.mark.asyncio(loop_scope="session")
async def test_seat_demand_counts_recent_rival_orders_on_free_seats_only(
    stack: StackHandle,
) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    key, other = Seat("evt_small", "A-03"), Seat("evt_small", "A-07")
    async with Buyer(stack.target_url) as buyer, ctx_for(stack.state) as ctx:
        assert await seat_demand(ctx, [key]) == 0
        await buyer.order(["A-03"], "lock")
        await buyer.order(["A-03", "A-04"], "lock")
        assert await seat_demand(ctx, [key]) == 2
        assert await seat_demand(ctx, [key, other]) == 2
        assert await seat_demand(ctx, [other]) == 0
        sold = await buyer.order(["A-03"], "lock")
        assert (await buyer.confirm(sold)).status_code == 202
        assert (await buyer.post(f"/api/orders/{sold}:finalize")).status_code == 200
        # the seat is sold: its rivals will not get it, however many there were
        assert await seat_demand(ctx, [key]) == 0


@pytest.mark.asyncio(loop_scope="session")
async def test_at_step_keeps_the_seats_of_confirms_past_their_check_and_authorized(
    stack: StackHandle,
) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    keys = [Seat("evt_small", s) for s in ("A-03", "A-04", "A-07")]
    async with Buyer(stack.target_url) as buyer, ctx_for(stack.state) as ctx:
        order = await buyer.order(["A-03", "A-04"], "lock")
        assert await at_step(ctx, keys) == []  # no confirm yet
        conn = await asyncpg.connect(stack.seats_dsn)
        try:  # a lock confirm past its seat check (as the service begins it)
            await conn.execute(
                "INSERT INTO sagas (order_id, strategy, phase, state, step, auth_key)"
                " VALUES ($1, 'lock', 'CONFIRM', 'RUNNING', 'LOCKED', $2)",
                order, secrets.token_hex(8))
            assert await at_step(ctx, keys) == []  # not authorized yet: not at the step
            r = await authorize(stack.provider_url, secrets.token_hex(8), order, timeout_s=5.0)
            assert r.status_code in (200, 201), r.text
            assert await at_step(ctx, keys) == keys[:2]
            await conn.execute("UPDATE sagas SET state = 'DONE' WHERE order_id = $1", order)
            assert await at_step(ctx, keys) == []  # written (or failed): past the step
        finally:
            await conn.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_rival_sale_counts_only_on_a_seat_with_a_write_of_a_to_come(
    stack: StackHandle,
) -> None:
    """A's process froze every request it served: a seat of a request past its check gets A's
    write when A continues; one of a request frozen before its check does not."""
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    keys = [Seat("evt_small", s) for s in ("A-03", "A-04", "A-07")]
    relay = Round.__new__(Round)  # _writes_to_come only asks the door
    relay.snapshot, relay.a_orders, relay.a_writers = dict.fromkeys(keys, "i1:x"), set(), {}
    async with Buyer(stack.target_url) as buyer, ctx_for(stack.state) as ctx:
        relay.ctx = ctx
        order = await buyer.order(["A-03", "A-04"], "lock")  # past its check; A-07's is not
        conn = await asyncpg.connect(stack.seats_dsn)
        try:
            await conn.execute(
                "INSERT INTO sagas (order_id, strategy, phase, state, step, auth_key)"
                " VALUES ($1, 'lock', 'CONFIRM', 'RUNNING', 'LOCKED', $2)",
                order, secrets.token_hex(8))
            await relay._writes_to_come()
            assert (relay.a_orders, relay.a_free) == ({order}, keys[:2])
            assert relay.a_writers == {keys[0]: {order}, keys[1]: {order}}
            await conn.execute("UPDATE seats SET state = 'SOLD', holder_order_id = $1"
                               " WHERE event_id = 'evt_small' AND seat_id = 'A-04'", order)
            await relay._writes_to_come()
            assert relay.a_free == keys[:1]  # already sold when A stopped: not a rival's sale
            # a rival sells A-03 with no claim (its fence token older than A's)
            relay.tokens = dict.fromkeys(keys, 10)
            rival = await buyer.order(["A-03"], "lock")
            await conn.execute("UPDATE seats SET state = 'SOLD', holder_order_id = $1,"
                               " fence_token = 0 WHERE event_id = 'evt_small'"
                               " AND seat_id = 'A-03'", rival)
            assert await relay._sold_by_rival(unclaimed=True)
            async with httpx.AsyncClient(timeout=5.0) as client:  # A's payment is declined
                r = await client.post(
                    stack.provider_url + "/v1/authorizations",
                    headers={"Idempotency-Key": secrets.token_hex(8)},
                    json={"order_id": order, "amount_cents": 1000,
                          "payment_token": "tok_decline"})
            assert r.status_code == 402, r.text
            # sold all the same, but A's confirm fails instead of writing over the sale
            assert (await relay._sold_by_rival(), await relay._sold_by_rival(unclaimed=True)) \
                == (True, False)
        finally:
            await conn.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_undeclined_drops_only_orders_whose_payment_was_declined(
    stack: StackHandle,
) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    async with Buyer(stack.target_url) as buyer, ctx_for(stack.state) as ctx:
        paid, declined, pending = [await buyer.order([s], "lock") for s in ("A-03", "A-04", "A-05")]
        assert (await authorize(stack.provider_url, secrets.token_hex(8), paid, 5.0)).is_success
        async with httpx.AsyncClient(timeout=5.0) as client:
            r = await client.post(
                stack.provider_url + "/v1/authorizations",
                headers={"Idempotency-Key": secrets.token_hex(8)},
                json={"order_id": declined, "amount_cents": 1000, "payment_token": "tok_decline"})
        assert r.status_code == 402, r.text
        assert await undeclined(ctx, {paid, declined, pending}) == {paid, pending}


def test_a_relay_round_is_spent_once_over_unless_a_write_that_shows_a_bug_is_on_its_way() -> None:
    relay = Round.__new__(Round)  # the verdict is plain state: no stack needed
    relay.outcome, relay.shown = "running", False
    assert not relay.spent
    relay.outcome = "no third buyer got the seat"
    assert relay.spent
    relay.outcome, relay.shown = "successor and third buyer frozen", True  # B's order SOLD
    assert not relay.spent


@pytest.mark.asyncio(loop_scope="session")
async def test_a_buyer_walked_away_once_answered_and_no_finalize_asked_for(
    stack: StackHandle,
) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    stores = stack.state.stores()

    async def progress(order: str, walk_away_s: float) -> tuple[int, int, int, int]:
        p = await introspection.order_progress(stores, [order], walk_away_s=walk_away_s)
        return p.sold, p.finished, p.walked_away, p.total

    async with Buyer(stack.target_url) as buyer:
        order = await buyer.order(["A-06"], "lock")
        assert (await buyer.confirm(order)).status_code == 202
        # answered, but not long ago enough: the buyer may still be on its way to finalize
        assert await progress(order, 3600) == (0, 0, 0, 1)
        assert await progress(order, 0) == (0, 0, 1, 1)
        conn = await asyncpg.connect(stack.seats_dsn)
        try:  # a finalize asked for (its key claimed) but not begun, e.g. waiting for a lock
            await conn.execute(
                "INSERT INTO idempotency_keys (customer_id, idempotency_key, request_method,"
                " request_path, request_fingerprint, expires_at) SELECT customer_id, 'k1',"
                " 'POST', '/api/orders/' || order_id || ':finalize', 'fp', now() + interval"
                " '1 hour' FROM orders WHERE order_id = $1", order)
            assert await progress(order, 0) == (0, 0, 0, 1)
            await conn.execute("DELETE FROM idempotency_keys WHERE idempotency_key = 'k1'")
        finally:
            await conn.close()
        assert (await buyer.post(f"/api/orders/{order}:finalize")).status_code == 200
        assert await progress(order, 0) == (1, 0, 0, 1)


@pytest.mark.asyncio
async def test_stop_ends_the_relay_rounds_even_when_a_cancellation_is_lost() -> None:
    fault = relay_mod.LockTakeoverRelay("target")
    cancels = 0

    async def rounds() -> None:  # loses the first cancellation, as 3.11's wait_for may
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                cancels += 1
                if cancels > 1:
                    raise

    fault._task = asyncio.create_task(rounds())
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(fault._end_rounds(), 10) is None
    assert (cancels, fault._stopping, fault.stop_cancels) == (2, True, 2)


@pytest.mark.asyncio
@pytest.mark.parametrize("fails", [False, True])
async def test_a_pick_whose_round_never_begins_disarms_the_step_and_continues_the_holder(
    monkeypatch: pytest.MonkeyPatch, fails: bool,
) -> None:
    """The pick of A leaves the step armed (and A frozen) for its round: when no round begins
    (A holds no seat lock, or looking at its locks fails), the step is disarmed and A
    continued at once."""
    calls: list[str] = []

    async def disarm(state: object, name: str) -> None:
        calls.append(f"disarm {name}")

    async def cont(ctx: object, proc: ProcessInfo) -> None:
        calls.append(f"continue {proc.name}")

    async def no_round(self: object, ctx: object, a: object) -> None:
        if fails:
            raise ConnectionError("redis went away")

    monkeypatch.setattr(relay_mod.failpoints, "disarm", disarm)
    monkeypatch.setattr(relay_mod, "continue_once", cont)
    monkeypatch.setattr(relay_mod.LockTakeoverRelay, "_new_round", no_round)
    fault = relay_mod.LockTakeoverRelay("target")
    a = ProcessInfo("target", "target-1", "RUNNING", 4242)
    ctx = cast(Any, SimpleNamespace(state=None))
    if fails:
        with pytest.raises(ConnectionError):
            await fault._next_round(ctx, a)
    else:
        assert await fault._next_round(ctx, a) is None
    assert calls == ["disarm lock-pause-before-write", "continue target-1"]
