"""Settling reads its pending work in one snapshot: an expiry that commits while it reads can
never make a busy system look settled (the checkers would then see a void in flight as an
orphaned authorization)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from harness.run.settle import pending_work
from tests.chaos.links import Buyer
from tests.conftest import StackHandle

pytestmark = pytest.mark.asyncio(loop_scope="session")

async def _blocked_on_a_lock(conn: Any, within_s: float = 20.0) -> None:
    """Wait until some other backend of this database waits for a lock."""
    for _ in range(int(within_s / 0.05)):
        if await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing blocked on a lock within {within_s}s")


@pytest.mark.own_services
async def test_an_expiry_committing_mid_read_still_counts_as_pending(stack: StackHandle) -> None:
    # no background sweeper may touch the rows of this test
    await stack.restart_services(extra_env={"SWEEP_INTERVAL_S": "3600"})
    conn = await asyncpg.connect(stack.state.dsn("seats"))
    rival = await asyncpg.connect(stack.state.dsn("seats"))
    seat = await conn.fetchval("SELECT max(seat_id) FROM seats WHERE event_id = 'evt_small'"
                               " AND state = 'AVAILABLE'")
    assert seat is not None
    async with Buyer(stack.target_url) as buyer:
        order_id = uuid.UUID(await buyer.order([seat], "saga"))
    try:
        # an abandoned saga order: AUTHORIZED, its hold just expired, its confirm saga DONE
        await conn.execute(
            "UPDATE orders SET status = 'AUTHORIZED', hold_expires_at = now() - interval '1 s'"
            " WHERE order_id = $1", order_id)
        await conn.execute(
            "UPDATE seats SET state = 'HELD', holder_order_id = $1, holder_strategy = 'saga',"
            " hold_expires_at = now() - interval '1 s' WHERE event_id = 'evt_small'"
            " AND seat_id = $2", order_id, seat)
        await conn.execute(
            "INSERT INTO sagas (order_id, strategy, phase, state, step, auth_key)"
            " VALUES ($1, 'saga', 'CONFIRM', 'DONE', 'AUTHORIZED', $2)", order_id, str(order_id))
        before = await pending_work(stack.state, wait_for_holds=True, deadline_in_s=60)
        assert before["expired_holds"] == 1 and before["sagas"] == 0, before

        # the sweeper's expiry, made to commit while pending_work is reading
        tx = rival.transaction()
        await tx.start()
        await rival.execute("LOCK TABLE seats IN ACCESS EXCLUSIVE MODE")
        reading = asyncio.create_task(
            pending_work(stack.state, wait_for_holds=True, deadline_in_s=60))
        await _blocked_on_a_lock(conn)
        await rival.execute("UPDATE orders SET status = 'EXPIRED', closed_at = now()"
                            " WHERE order_id = $1", order_id)
        await rival.execute("UPDATE seats SET state = 'AVAILABLE', holder_order_id = NULL,"
                            " holder_strategy = NULL, hold_expires_at = NULL"
                            " WHERE event_id = 'evt_small' AND seat_id = $1", seat)
        await rival.execute("UPDATE sagas SET phase = 'EXPIRE', state = 'COMPENSATING',"
                            " step = 'SEATS_RELEASED' WHERE order_id = $1", order_id)
        await tx.commit()
        during = await asyncio.wait_for(reading, 30)
        # either snapshot shows work left: the expired hold before, the owed void after
        assert during["expired_holds"] + during["sagas"] == 1, during
    finally:
        await rival.close()
        await conn.execute("DELETE FROM sagas WHERE order_id = $1", order_id)
        await conn.execute("UPDATE orders SET status = 'CANCELLED', closed_at = now()"
                           " WHERE order_id = $1", order_id)
        await conn.execute("UPDATE seats SET state = 'AVAILABLE', holder_order_id = NULL,"
                           " holder_strategy = NULL, hold_expires_at = NULL"
                           " WHERE event_id = 'evt_small' AND seat_id = $1", seat)
        await conn.close()
