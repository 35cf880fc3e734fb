"""Seat leases in the real Redis: the record of a take-over survives until it is fenced.

An acquirer that takes over an expired lease must fence the old holder off in Postgres before
it reads; if it gives up first (a rival holds another of its seats, the order is busy), its
release must leave the lease record, or the next acquirer would not know that the old holder
may still write (a `service-pause` run of the correct lock strategy sold a seat twice so).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from target_service.redis_lock import LockManager, keys_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

LEASE_MS = 100


async def test_an_unfenced_take_over_is_remembered_until_fenced(stack: Any) -> None:
    client = aioredis.from_url(stack.redis_url)
    locks = LockManager(client, LEASE_MS)
    event, seat = f"evt_leases_{uuid.uuid4().hex[:8]}", "A-01"
    try:
        stalled = await locks.acquire(event, [seat])  # never released: its process froze
        assert stalled is not None and not stalled.takeovers
        await asyncio.sleep(3 * LEASE_MS / 1000)

        gave_up = await locks.acquire(event, [seat])
        assert gave_up is not None and gave_up.takeovers == {seat}
        await locks.release(gave_up)  # without fencing the stalled holder off

        successor = await locks.acquire(event, [seat])
        assert successor is not None and successor.takeovers == {seat}  # still to be fenced
        successor.fenced.add(seat)  # what the strategy records once its claim committed
        await locks.release(successor)

        after = await locks.acquire(event, [seat])
        assert after is not None and not after.takeovers  # a clean hand-over
        await locks.release(after)
    finally:
        await client.delete(*keys_for(event, seat))
        await client.aclose()
