"""``reset_data`` wipes the run data even when a running service's statement deadlocks with it."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from target_service import seed
from target_service.failpoints import Failpoints
from target_service.orders import fetch_order
from target_service.seed import EXTRA_EVENTS, events_for, reset_data
from target_service.strategies.twopc import TwoPhaseCommit
from tests.chaos.links import Buyer

pytestmark = pytest.mark.asyncio(loop_scope="session")

_WIPE_WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND query LIKE 'TRUNCATE%'")


async def test_a_wipe_that_deadlocks_starts_over(stack: Any) -> None:
    rival: Any = await asyncpg.connect(stack.seats_dsn)
    watcher: Any = await asyncpg.connect(stack.seats_dsn)  # pg_stat_activity outside a txn
    try:
        # the wipe (1 s) checks for the deadlock long before the rival would: it is the victim
        await rival.execute("SET deadlock_timeout = '60s'")
        tx = rival.transaction()
        await tx.start()
        # the rival holds the wipe's last table, then wants its first: a lock cycle
        await rival.execute("LOCK TABLE failpoints IN ROW EXCLUSIVE MODE")
        wipe = asyncio.create_task(reset_data(stack.seats_dsn, stack.payments_dsn))
        for _ in range(3000):  # until the TRUNCATE waits for the rival's lock (bounded)
            if await watcher.fetchval(_WIPE_WAITING) or wipe.done():
                break
            await asyncio.sleep(0.01)
        assert not wipe.done(), wipe  # it waits: the rival holds a table it needs
        # the cycle: Postgres aborts the wipe, which must start over
        await rival.execute("LOCK TABLE tickets IN ROW EXCLUSIVE MODE")
        await rival.execute("INSERT INTO failpoints (name, remaining) VALUES ('x', 1)")
        await tx.commit()
        await asyncio.wait_for(wipe, 120)
        assert await rival.fetchval("SELECT count(*) FROM failpoints") == 0
        assert await rival.fetchval("SELECT count(*) FROM seats") > 0  # seed events back
    finally:
        await rival.close()
        await watcher.close()


async def test_buyers_of_the_arena_get_it_seeded(stack: Any) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, event_seed=events_for("evt_arena"))
    conn: Any = await asyncpg.connect(stack.seats_dsn)
    try:
        rows = await conn.fetch("SELECT event_id, count(*) AS n, count(*) FILTER"
                                " (WHERE state = 'AVAILABLE') AS free FROM seats GROUP BY 1")
    finally:
        await conn.close()
        await reset_data(stack.seats_dsn, stack.payments_dsn)
    counts = {r["event_id"]: (r["n"], r["free"]) for r in rows}
    arena = len(EXTRA_EVENTS["evt_arena"].seats())
    assert arena > 10_000  # big enough for a soak's half hour
    assert counts["evt_arena"] == (arena, arena)
    assert set(counts) == {"evt_arena", "evt_default", "evt_small"}
    assert events_for("evt_default") == events_for("no-such-event")  # only extras are added


async def test_seat_lookups_of_a_newly_seeded_event_are_planned_from_its_statistics(
        stack: Any) -> None:
    """Statistics of the seeded seats, not stale ones of the previous seed: with those, the
    planner takes a big new event for a rare value and looks a seat up by scanning the whole
    event (the benchmark's cost of that is in docs/measurements.md)."""
    conn: Any = await asyncpg.connect(stack.seats_dsn)
    try:
        await reset_data(stack.seats_dsn, stack.payments_dsn)
        await conn.execute("ANALYZE seats")  # what autovacuum leaves: no evt_arena in them
        await reset_data(stack.seats_dsn, stack.payments_dsn, event_seed=events_for("evt_arena"))
        rows = await conn.fetch(
            "EXPLAIN SELECT seat_id FROM seats WHERE event_id = 'evt_arena'"
            " AND seat_id = ANY(ARRAY['A-1'])")
        plan = "\n".join(r[0] for r in rows)
    finally:
        await conn.close()
        await reset_data(stack.seats_dsn, stack.payments_dsn)
    assert "seat_id = ANY" in plan and "Filter" not in plan, plan  # the index finds the seat


class _Count:
    """Stands in for a Prometheus counter (the 2PC below counts its outcome)."""

    def labels(self, *_: str) -> _Count:
        return self

    def inc(self) -> None:
        pass


async def test_work_of_the_previous_run_cannot_land_between_the_two_wipes(
        stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2PC expiry of the previous run that runs while the reset is between its two
    databases (the sweeper's, in a running service) finds its order gone and vetoes: nothing
    of it lands in the fresh payments database. (Wiping payments first, the expiry committed
    its payments marker for an order the seats wipe then removed: a leftover that the next
    run reported as an in-doubt transaction.)"""
    await reset_data(stack.seats_dsn, stack.payments_dsn)
    async with Buyer(stack.target_url) as buyer:
        order = await buyer.order(["A-05"], "2pc")
        assert (await buyer.confirm(order)).status_code == 202  # AUTHORIZED, not yet expired
    seats = await asyncpg.create_pool(stack.seats_dsn, min_size=1, max_size=2)
    payments = await asyncpg.create_pool(stack.payments_dsn, min_size=1, max_size=2)
    deps: Any = SimpleNamespace(seats=seats, payments=payments, metrics=SimpleNamespace(
        twopc=_Count()), settings=SimpleNamespace(instance="test"),
        failpoints=Failpoints(frozenset()))
    async with seats.acquire() as conn:
        held = await fetch_order(conn, uuid.UUID(order))
    assert held is not None and held.status == "AUTHORIZED"
    wipe, outcomes = seed._wipe, []

    async def wipe_then_expire(conn: Any, tables: Any) -> None:
        await wipe(conn, tables)
        if not outcomes:  # between the two wipes: the previous run's expiry runs
            outcomes.append(await TwoPhaseCommit(deps).close(held, "EXPIRED"))

    monkeypatch.setattr(seed, "_wipe", wipe_then_expire)
    try:
        await reset_data(stack.seats_dsn, stack.payments_dsn)
        assert outcomes == [False]  # vetoed: its order is gone
        for pool in (seats, payments):
            assert await pool.fetchval("SELECT count(*) FROM twopc_applied") == 0
            assert await pool.fetchval("SELECT count(*) FROM pg_prepared_xacts") == 0
        assert await payments.fetchval("SELECT count(*) FROM payments") == 0
    finally:
        await seats.close()
        await payments.close()
