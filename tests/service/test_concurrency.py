"""Many buyers confirm orders for the same seats at once: exactly one wins, per strategy."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from target_service.strategies import STRATEGIES
from tests.service.client import Api

pytestmark = pytest.mark.asyncio(loop_scope="session")

BUYERS = 24


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_exactly_one_buyer_wins_each_seat(api: Api, strategy: str, seats_db: Any,
                                                payments_db: Any) -> None:
    customers = await asyncio.gather(*(api.new_customer() for _ in range(BUYERS)))
    # overlapping seat sets: everyone wants A-10; half also want A-11
    wanted = [["A-10", "A-11"] if i % 2 else ["A-10"] for i in range(BUYERS)]
    orders = await asyncio.gather(*(c.order(s, strategy) for c, s in zip(customers, wanted,
                                                                         strict=True)))
    ids = [o.body["order_id"] for o in orders]
    results = await asyncio.gather(*(c.confirm(i) for c, i in zip(customers, ids, strict=True)))
    statuses = sorted(r.status for r in results)
    winners = [i for i, r in zip(ids, results, strict=True) if r.status == 202]
    assert len(winners) == 1, statuses
    assert all(r.status == 409 and r.code in ("SEAT_UNAVAILABLE", "ORDER_BUSY")
               for r in results if r.status != 202), statuses
    winner = winners[0]
    held = await seats_db.fetch(
        "SELECT seat_id, holder_order_id::text AS h FROM seats WHERE state = 'HELD'")
    expected = {"A-10", "A-11"} if len(wanted[ids.index(winner)]) == 2 else {"A-10"}
    assert {r["seat_id"] for r in held} == expected
    assert {r["h"] for r in held} == {winner}
    live = await payments_db.fetch(
        "SELECT order_id::text AS o FROM payments WHERE status = 'AUTHORIZED'")
    assert [r["o"] for r in live] == [winner]
    # the losers' orders are FAILED and hold nothing; the winner can finalize
    owner = customers[ids.index(winner)]
    assert (await owner.finalize(winner)).status == 200


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_duplicate_confirms_of_one_order_have_one_effect(api: Api, strategy: str,
                                                               payments_db: Any) -> None:
    order_id = (await api.order(["D-01"], strategy)).body["order_id"]
    results = await asyncio.gather(*(api.confirm(order_id) for _ in range(8)))
    assert any(r.status == 202 for r in results), [(r.status, r.body) for r in results]
    assert all(r.status in (202, 409) for r in results), [r.body for r in results]
    count = await payments_db.fetchval(
        "SELECT count(*) FROM payments WHERE order_id = $1::uuid AND status = 'AUTHORIZED'",
        order_id)
    assert count == 1


async def _lock_waiters(conn: Any, within_s: float = 20.0, *, at_least: int) -> None:
    """Wait until ``at_least`` backends wait for a lock on a statement about ``orders``."""
    for _ in range(int(within_s / 0.05)):
        if await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query ILIKE '%orders%'") >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} statements blocked within {within_s}s")


async def test_a_2pc_confirm_touches_payments_only_after_it_holds_the_order_row(
    api: Api, stack: Any, seats_db: Any, payments_db: Any
) -> None:
    """One lock order across the two databases: while the order row is held elsewhere, a 2PC
    confirm has not begun its payments transaction. (Both branches started at once let one
    duplicate confirm hold the order row and another the payment key, each waiting for the
    other in a different database until both lock timeouts: every duplicate lost.)"""
    order_id = (await api.order(["D-03"], "2pc")).body["order_id"]
    rival = await asyncpg.connect(stack.seats_dsn)
    try:
        tx = rival.transaction()
        await tx.start()
        await rival.execute("SELECT 1 FROM orders WHERE order_id = $1::uuid FOR NO KEY UPDATE",
                            order_id)
        confirm = asyncio.create_task(api.confirm(order_id))
        await _lock_waiters(seats_db, at_least=1)
        # both databases live in one cluster: one clock orders the two transactions' starts
        released_at = await rival.fetchval("SELECT clock_timestamp()")
        await tx.commit()
        confirmed = await confirm
    finally:
        await rival.close()
    assert confirmed.status == 202, confirmed.body
    began = await payments_db.fetchval(
        "SELECT created_at FROM payments WHERE order_id = $1::uuid", order_id)
    assert began is not None and began > released_at, (began, released_at)


@pytest.mark.parametrize("strategy", ["lock", "saga"])
async def test_a_cancel_racing_a_confirm_never_leaves_money_authorized(
    api: Api, strategy: str, stack: Any, seats_db: Any, payments_db: Any
) -> None:
    """The cancel and the confirm queue on the order row together (whichever the database lets
    in first wins): the loser must leave no trace, above all no authorization on a CANCELLED
    order (the old cancel read "no saga" and cancelled under a confirm that went on)."""
    order_id = (await api.order(["C-07"], strategy)).body["order_id"]
    rival = await asyncpg.connect(stack.seats_dsn)
    try:
        tx = rival.transaction()
        await tx.start()  # holds the order row until both requests queue behind it
        await rival.execute("SELECT 1 FROM orders WHERE order_id = $1::uuid FOR NO KEY UPDATE",
                            order_id)
        cancel = asyncio.create_task(api.cancel(order_id))
        await _lock_waiters(seats_db, at_least=1)
        confirm = asyncio.create_task(api.confirm(order_id))
        await _lock_waiters(seats_db, at_least=2)
        await tx.commit()
        cancelled, confirmed = await asyncio.gather(cancel, confirm)
    finally:
        await rival.close()
    status = await seats_db.fetchval("SELECT status FROM orders WHERE order_id = $1::uuid",
                                     order_id)
    authorized = await payments_db.fetchval(
        "SELECT count(*) FROM payments WHERE order_id = $1::uuid AND status = 'AUTHORIZED'",
        order_id)
    held = await seats_db.fetchval(
        "SELECT count(*) FROM seats WHERE holder_order_id = $1::uuid AND state = 'HELD'",
        order_id)
    if cancelled.status == 200:  # the cancel won: the confirm did nothing
        assert cancelled.body["status"] == "CANCELLED", cancelled.body
        assert (confirmed.status, confirmed.code) == (409, "ORDER_STATE_CONFLICT"), confirmed.body
        assert (status, authorized, held) == ("CANCELLED", 0, 0)
    else:  # the confirm won: the cancel was told to retry and changed nothing
        assert (cancelled.status, cancelled.code) == (409, "ORDER_BUSY"), cancelled.body
        assert confirmed.status == 202, confirmed.body
        assert (status, authorized, held) == ("AUTHORIZED", 1, 1)
