"""A multi-seat write takes its seats' row locks in ``seat_id`` order, as a rival's reserve
does, so the two cannot deadlock. Seen in mixed runs before the fix: a saga's finalize that
locked in table order deadlocked with a rival's confirm on the same seats, and the loser
answered 500 (now a lock the database gives up is a 503 to retry: docs/contract.md section 8).

Each test lays the order's seats out against their order in the table (its first seat's row
after its second's, so a scan in table order meets the second first), holds the first seat's
row lock from a rival transaction, and checks that the blocked write has taken nothing yet:
the second seat is still free to lock.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from target_service.orders import fetch_order, reserve_seats
from target_service.strategies import STRATEGIES
from tests.service.client import Api, Resp

pytestmark = pytest.mark.asyncio(loop_scope="session")

SEATS = ["E-01", "E-02"]
#: a bound on waiting for the write to block on the rival's lock (it blocks within ms)
BLOCK_WAIT_S = 30.0


async def _against_seat_order(db: Any) -> None:
    """Rewrite the first seat's row until it lies after the second's in the table, and in the
    holder index (an update that changes an indexed column is not HOT: it gets new index
    entries, at the new row's place)."""
    for _ in range(100):
        rows = await db.fetch("SELECT seat_id, ctid FROM seats WHERE event_id = 'evt_default'"
                              " AND seat_id = ANY($1::text[])", SEATS)
        where = {r["seat_id"]: tuple(r["ctid"]) for r in rows}
        if where[SEATS[0]] > where[SEATS[1]]:
            return
        async with db.transaction():  # released and held again: the same row in the end
            held = await db.fetchrow(
                "SELECT state, holder_order_id, hold_expires_at FROM seats"
                " WHERE event_id = 'evt_default' AND seat_id = $1 FOR UPDATE", SEATS[0])
            await db.execute("UPDATE seats SET state = 'AVAILABLE', holder_order_id = NULL,"
                             " hold_expires_at = NULL"
                             " WHERE event_id = 'evt_default' AND seat_id = $1", SEATS[0])
            await db.execute("UPDATE seats SET state = $2, holder_order_id = $3,"
                             " hold_expires_at = $4"
                             " WHERE event_id = 'evt_default' AND seat_id = $1",
                             SEATS[0], *held.values())
    pytest.fail(f"could not lay {SEATS[0]} after {SEATS[1]} in the table: {where}")


async def _blocked_on(db: Any, rival_pid: int) -> None:
    """Wait until some backend waits for a lock the rival holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BLOCK_WAIT_S
    while loop.time() < deadline:
        if await db.fetchval("SELECT count(*) FROM pg_stat_activity"
                             " WHERE $1 = ANY(pg_blocking_pids(pid))", rival_pid):
            return
        await asyncio.sleep(0.02)
    pytest.fail("the write never waited for the rival's row lock")


async def _free(dsn: str, seat: str) -> bool:
    """Whether ``seat``'s row lock can be taken at once."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM seats WHERE event_id = 'evt_default'"
                               " AND seat_id = $1 FOR UPDATE NOWAIT", seat)
        return True
    except asyncpg.exceptions.LockNotAvailableError:
        return False
    finally:
        await conn.close()


@pytest.mark.parametrize("action", ["finalize", "cancel"])
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_a_multi_seat_write_locks_its_seats_in_seat_order(
        api: Api, stack: Any, seats_db: Any, strategy: str, action: str) -> None:
    order_id, confirmed = await api.buy(SEATS, strategy)
    assert confirmed.status == 202, confirmed.body
    await _against_seat_order(seats_db)
    rival = await asyncpg.connect(stack.seats_dsn)
    try:
        tx = rival.transaction()
        await tx.start()
        await rival.execute("SELECT 1 FROM seats WHERE event_id = 'evt_default'"
                            " AND seat_id = $1 FOR UPDATE", SEATS[0])
        call = api.finalize if action == "finalize" else api.cancel
        write: asyncio.Task[Resp] = asyncio.create_task(call(order_id))
        try:
            await _blocked_on(seats_db, rival.get_server_pid())
            # the write waits for the first seat and holds no lock on the second
            assert await _free(stack.seats_dsn, SEATS[1])
        finally:
            await tx.rollback()
            done = await write
    finally:
        await rival.close()
    assert done.status == 200, done.body
    states = {r["seat_id"]: r["state"] for r in await seats_db.fetch(
        "SELECT seat_id, state FROM seats WHERE event_id = 'evt_default'"
        " AND seat_id = ANY($1::text[])", SEATS)}
    assert states == dict.fromkeys(SEATS, "SOLD" if action == "finalize" else "AVAILABLE")


async def test_a_seat_held_by_an_in_doubt_transaction_still_takes_new_orders(
        api: Api, stack: Any) -> None:
    """A new order's ``order_seats`` row checks its seat's key (``FOR KEY SHARE``), which the
    holds' lock does not block: a seat a prepared 2PC transaction holds (in doubt until its
    recovery) still takes orders at once. Seen before: every create for such a seat waited out
    the lock timeout and answered 500 (100-200 per 2pc-no-recovery run)."""
    first = (await api.order(["E-07"], "2pc")).body["order_id"]
    gid = f"test-in-doubt-{first}"
    holder = await asyncpg.connect(stack.seats_dsn)
    try:
        order = await fetch_order(holder, uuid.UUID(first))
        assert order is not None
        await holder.execute("BEGIN")
        assert await reserve_seats(holder, order, datetime.now(UTC) + timedelta(minutes=2))
        await holder.execute(f"PREPARE TRANSACTION '{gid}'")  # gid: a uuid, no quote
        try:
            rival = await api.new_customer()
            second = await rival.order(["E-07"], "2pc")
            assert second.status == 201, second.body
        finally:
            await holder.execute(f"ROLLBACK PREPARED '{gid}'")
    finally:
        await holder.close()
