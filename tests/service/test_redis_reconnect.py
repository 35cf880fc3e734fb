"""The service's Redis client survives a pooled connection that died while idle, and the lock
scripts it may therefore run twice keep the lock's guarantees (real Redis, through Toxiproxy).

Found in CI: after the chaos tests closed the service's idle Redis connections (a Toxiproxy
reset, a killed or paused peer), a later lock confirm answered 503 "Redis did not answer" on
a healed stack: the close crossed the next command on that pooled connection.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from chaos.faults import make
from target_service import redis_lock
from target_service.redis_lock import LockManager, keys_for
from tests.chaos.links import ctx_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

LEASE_MS = 5_000


async def test_a_pooled_connection_closed_while_idle_does_not_fail_the_next_acquire(
    stack: Any,
) -> None:
    client = redis_lock.connect(stack.state.redis_url(proxied=True), timeout_s=1.0)
    direct = aioredis.from_url(stack.redis_url)
    locks = LockManager(client, LEASE_MS)
    event, seat = f"evt_reconnect_{uuid.uuid4().hex[:8]}", "A-01"
    try:
        warm = await locks.acquire(event, [seat])  # leaves one idle connection in the pool
        assert warm is not None
        await locks.release(warm)
        pooled = await client.client_id()  # the pool's one connection (LIFO: the same)
        async with ctx_for(stack.state) as ctx:
            # the proxy passes the close on only later: the next command is sent on a
            # connection Redis has already dropped, as when a close crosses it
            fault = make("slow_close", "redis", {"delay_ms": 500, "stream": "downstream"})
            await fault.start(ctx)
            try:
                assert await direct.client_kill_filter(_id=pooled) == 1
                got = await locks.acquire(event, [seat])  # raised LockUnavailable before
            finally:
                await fault.stop(ctx)
        assert got is not None and got.tokens[seat] == warm.tokens[seat] + 1
        assert await client.client_id() != pooled  # served by a fresh connection
        await locks.release(got)
        assert not await direct.exists(keys_for(event, seat)[0])
    finally:
        await direct.delete(*keys_for(event, seat))
        await client.aclose()
        await direct.aclose()


async def test_an_acquire_run_again_after_its_answer_was_lost_knows_its_own_lock(
    stack: Any,
) -> None:
    client = redis_lock.connect(stack.redis_url, timeout_s=1.0)
    locks = LockManager(client, LEASE_MS)
    event, seat = f"evt_reconnect_{uuid.uuid4().hex[:8]}", "A-01"
    lock_key, _, fence_key = keys_for(event, seat)
    try:
        first = await locks.acquire(event, [seat])
        assert first is not None and not first.takeovers
        # what the client's retry does when the first run was applied but its answer lost
        again = await locks._acquire(keys=list(keys_for(event, seat)),
                                     args=[first.owner, LEASE_MS])
        assert [int(again[0]), int(again[1])] == [first.tokens[seat], -1]
        assert int(await client.get(fence_key)) == first.tokens[seat]  # no second INCR
        # another acquirer still finds the seat locked
        assert await locks.acquire(event, [seat]) is None
        assert (await client.get(lock_key)).decode() == first.owner
        await locks.release(first)
        await locks.release(first)  # a release run twice is one release
        assert not await client.exists(lock_key)
    finally:
        await client.delete(*keys_for(event, seat))
        await client.aclose()
