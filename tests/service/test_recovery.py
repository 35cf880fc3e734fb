"""Crash a service process at an exact step (failpoints) and check recovery repairs state."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.service.client import Api
from tests.service.recovery_helpers import FAST, arm, crashing, eventually, recover, until_healthy

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def fast(stack: Any) -> Any:
    await stack.restart_services(extra_env=FAST)
    return stack


@pytest.mark.own_services
async def test_saga_crash_after_authorize_is_compensated_by_sweeper(
        fast: Any, api: Api, seats_db: Any, payments_db: Any) -> None:
    order_id = (await api.order(["E-01", "E-02"], "saga")).body["order_id"]
    await arm(api, fast, "saga-after-authorize")
    assert await crashing(api.confirm(order_id)) is None
    assert await payments_db.fetchval(
        "SELECT status FROM payments WHERE order_id = $1::uuid", order_id) == "AUTHORIZED"
    await until_healthy(api)

    async def repaired() -> bool:  # the periodic sweeper, no manual trigger
        status = await payments_db.fetchval(
            "SELECT status FROM payments WHERE order_id = $1::uuid", order_id)
        return bool(status == "VOIDED")

    await eventually(repaired)
    assert (await api.get(order_id)).body["status"] == "FAILED"
    assert await seats_db.fetchval(
        "SELECT count(*) FROM seats WHERE holder_order_id = $1::uuid", order_id) == 0
    _, again = await api.buy(["E-01", "E-02"], "saga")
    assert again.status == 202


@pytest.mark.own_services
async def test_saga_crash_after_reserve_releases_seats_and_tombstones(
        fast: Any, api: Api, seats_db: Any, payments_db: Any) -> None:
    order_id = (await api.order(["E-03"], "saga")).body["order_id"]
    await arm(api, fast, "saga-after-reserve")
    assert await crashing(api.confirm(order_id)) is None
    assert await seats_db.fetchval(
        "SELECT state FROM seats WHERE seat_id = 'E-03' AND event_id = 'evt_default'") == "HELD"
    await until_healthy(api)
    await recover(api, fast)
    assert await seats_db.fetchval(
        "SELECT state FROM seats WHERE seat_id = 'E-03' AND event_id = 'evt_default'"
    ) == "AVAILABLE"
    # a late authorize with the order's key is refused: the void left a tombstone
    rows = await payments_db.fetch(
        "SELECT status, source FROM payments WHERE order_id = $1::uuid", order_id)
    assert [(r["status"], r["source"]) for r in rows] == [("VOIDED", "tombstone")]


@pytest.mark.own_services
async def test_finalize_crash_after_capture_rolls_forward_and_retry_resumes(
        fast: Any, api: Api, seats_db: Any, payments_db: Any) -> None:
    order_id, confirmed = await api.buy(["E-04"], "saga")
    assert confirmed.status == 202
    await arm(api, fast, "finalize-after-capture")
    key = str(uuid.uuid4())
    assert await crashing(api.finalize(order_id, key=key)) is None
    assert await payments_db.fetchval(
        "SELECT status FROM payments WHERE order_id = $1::uuid", order_id) == "CAPTURED"
    assert (await api.get(order_id)).body["status"] == "AUTHORIZED"
    await until_healthy(api)

    async def sold() -> bool:
        r = await api.finalize(order_id, key=key)  # same key: resumes after the lock timeout
        return r.status == 200 and r.body["status"] == "SOLD"

    await eventually(sold)
    assert await seats_db.fetchval(
        "SELECT count(*) FROM tickets WHERE order_id = $1::uuid", order_id) == 1


@pytest.mark.own_services
@pytest.mark.parametrize(("failpoint", "outcome"), [("2pc-after-prepare", "ABORT"),
                                                    ("2pc-after-decision", "COMMIT")])
async def test_2pc_coordinator_crash_is_resolved_from_the_log(
        fast: Any, api: Api, seats_db: Any, payments_db: Any, failpoint: str,
        outcome: str) -> None:
    order_id = (await api.order(["E-05"], "2pc")).body["order_id"]
    await arm(api, fast, failpoint)
    assert await crashing(api.confirm(order_id)) is None
    in_doubt = sorted([
        *[r["gid"] for r in await seats_db.fetch("SELECT gid FROM pg_prepared_xacts")],
    ])
    assert len(in_doubt) == 2 and in_doubt[0].startswith(f"bk2pc:{order_id}:CONFIRM:")
    await until_healthy(api)

    async def resolved() -> bool:
        return await seats_db.fetchval("SELECT count(*) FROM pg_prepared_xacts") == 0

    await eventually(resolved)  # periodic recovery, presumed abort
    decisions = await seats_db.fetch("SELECT gid, decision FROM twopc_decisions")
    assert [d["decision"] for d in decisions] == [outcome]
    gid = decisions[0]["gid"]
    applied = [await db.fetchval("SELECT count(*) FROM twopc_applied WHERE gid = $1", gid)
               for db in (seats_db, payments_db)]
    status = (await api.get(order_id)).body["status"]
    if outcome == "COMMIT":
        assert applied == [1, 1] and status == "AUTHORIZED"
    else:
        assert applied == [0, 0] and status == "PENDING"
        assert (await api.confirm(order_id)).status == 202  # a retry succeeds


async def _stalled_holder_loses(stack: Any, api: Api, seats: list[str],
                                 rival_seats: list[str]) -> tuple[str, str]:
    """A lock holder of ``seats`` stalls past its leases while a rival confirms
    ``rival_seats``: the rival wins (202), the holder is fenced out (409). (holder, rival)."""
    await stack.restart_services(extra_env={"LOCK_LEASE_MS": "400"})
    await until_healthy(api)
    first = (await api.order(seats, "lock")).body["order_id"]
    other = await api.new_customer()
    second = (await other.order(rival_seats, "lock")).body["order_id"]
    await arm(api, stack, "lock-stall-before-write")  # stalls 3 leases without renewing
    stalled = asyncio.create_task(api.confirm(first))
    await asyncio.sleep(0.7)  # the stalled holder's leases have expired
    winner = await other.confirm(second)
    loser = await stalled
    assert winner.status == 202, winner.body
    assert (loser.status, loser.code) == (409, "SEAT_UNAVAILABLE"), loser.body
    return first, second


async def _seat_rows(seats_db: Any, seats: list[str]) -> list[tuple[str, str | None, str]]:
    rows = await seats_db.fetch(
        "SELECT seat_id, holder_order_id::text AS h, state FROM seats"
        " WHERE seat_id = ANY($1::text[]) AND event_id = 'evt_default' ORDER BY seat_id", seats)
    return [(r["seat_id"], r["h"], r["state"]) for r in rows]


@pytest.mark.own_services
async def test_lock_fencing_refuses_a_stalled_holder(stack: Any, api: Api,
                                                     seats_db: Any) -> None:
    _, second = await _stalled_holder_loses(stack, api, ["F-01"], ["F-01"])
    assert await _seat_rows(seats_db, ["F-01"]) == [("F-01", second, "HELD")]


@pytest.mark.own_services
async def test_lock_holder_fenced_off_one_seat_writes_no_seat(stack: Any, api: Api,
                                                              seats_db: Any) -> None:
    """A stalled holder fenced off on one of its two seats holds neither (no partial write)."""
    first, second = await _stalled_holder_loses(stack, api, ["F-02", "F-03"], ["F-03"])
    assert await _seat_rows(seats_db, ["F-02", "F-03"]) == [
        ("F-02", None, "AVAILABLE"), ("F-03", second, "HELD")]
    order = await api.get(first)
    assert order.body["status"] == "FAILED", order.body


async def test_a_busy_answer_is_not_replayed_to_the_retry(api: Api, seats_db: Any) -> None:
    """409 ORDER_BUSY says "retry": the retry with the same key runs, it gets no replay."""
    order_id, confirmed = await api.buy(["E-06"], "saga")
    assert confirmed.status == 202
    # another live request owns the order's finalize (as while the sweeper rolls it forward)
    await seats_db.execute("UPDATE orders SET finalize_started_at = now()"
                           " WHERE order_id = $1::uuid", order_id)
    await seats_db.execute("UPDATE sagas SET phase = 'FINALIZE', state = 'RUNNING',"
                           " updated_at = now() WHERE order_id = $1::uuid", order_id)
    key = str(uuid.uuid4())
    busy = await api.finalize(order_id, key=key)
    assert (busy.status, busy.code) == (409, "ORDER_BUSY"), busy.body
    # the owner died: its saga is stale, so the retry takes it over and sells
    await seats_db.execute("UPDATE sagas SET updated_at = now() - interval '1 hour'"
                           " WHERE order_id = $1::uuid", order_id)
    sold = await api.finalize(order_id, key=key)
    assert (sold.status, sold.body.get("status")) == (200, "SOLD"), sold.body
