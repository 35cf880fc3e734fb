"""Each network fault changes what a real client of that link sees, as claimed; healing restores.

Timing assertions have generous margins: lower bounds are what Toxiproxy guarantees (a delay is
never shorter than latency - jitter), upper bounds are loose sanity limits.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import redis.exceptions

from chaos.faults import make
from tests.chaos.links import assert_healed, authorize, ctx_for, ping_through, redis_client, timed
from tests.conftest import StackHandle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_partition_refuses_new_connections_and_heals(stack: StackHandle) -> None:
    fault = make("partition", "redis")
    async with ctx_for(stack.state) as ctx:
        await fault.start(ctx)
        await fault.start(ctx)  # twice is once
        try:
            started = time.monotonic()
            with pytest.raises(redis.exceptions.ConnectionError):
                await ping_through(stack.state)
            assert time.monotonic() - started < 1.0  # refused, not a hang
            async with redis_client(stack.redis_url) as direct:  # the direct link is untouched
                assert await direct.ping()
        finally:
            await fault.stop(ctx)
            await fault.stop(ctx)
    assert await ping_through(stack.state)
    await assert_healed(stack.state)


async def test_blackhole_hangs_until_the_client_timeout_and_nothing_arrives(
    stack: StackHandle,
) -> None:
    key = f"chaos:bh:{secrets.token_hex(4)}"
    async with ctx_for(stack.state) as ctx, redis_client(stack.state.redis_url(proxied=True),
                                                         timeout_s=1.0) as client:
        fault = make("blackhole", "redis")
        await fault.start(ctx)
        try:
            elapsed = 0.0
            with pytest.raises(redis.exceptions.TimeoutError):
                elapsed = -time.monotonic()
                await client.set(key, "v")
            elapsed += time.monotonic()
            assert elapsed >= 0.9  # it hung until the client's own 1 s timeout
        finally:
            await fault.stop(ctx)
    direct = aioredis.Redis.from_url(stack.redis_url)
    try:
        assert await direct.get(key) is None  # the request never reached Redis
    finally:
        await direct.aclose()
    assert await ping_through(stack.state)


async def test_half_open_redis_set_times_out_but_the_key_is_set(stack: StackHandle) -> None:
    key = f"chaos:ho:{secrets.token_hex(4)}"
    direct = aioredis.Redis.from_url(stack.redis_url)
    try:
        async with ctx_for(stack.state) as ctx, redis_client(
            stack.state.redis_url(proxied=True), timeout_s=1.0
        ) as client:
            fault = make("half-open", "redis")
            await fault.start(ctx)
            try:
                with pytest.raises(redis.exceptions.TimeoutError):
                    await client.set(key, "acted")
                assert await direct.get(key) == b"acted"  # the far side acted
            finally:
                await fault.stop(ctx)
        assert await ping_through(stack.state)
    finally:
        await direct.delete(key)
        await direct.aclose()


async def _authorized_directly(stack: StackHandle, key: str,
                               wait_s: float = 0.0) -> httpx.Response:
    """The provider's authorization for ``key``, read past the proxy (for up to ``wait_s``
    while it is not there yet); it must be AUTHORIZED."""
    direct = stack.state.url("provider")
    deadline = time.monotonic() + wait_s
    async with httpx.AsyncClient(timeout=5) as client:
        found = await client.get(f"{direct}/v1/authorizations/by-key/{key}")
        while found.status_code == 404 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            found = await client.get(f"{direct}/v1/authorizations/by-key/{key}")
    assert found.status_code == 200, found.text
    assert found.json()["status"] == "AUTHORIZED"
    return found


async def test_half_open_provider_authorizes_but_the_answer_is_lost(stack: StackHandle) -> None:
    """payments-blackhole: the provider acts, its answer never arrives."""
    key, order_id = f"chaos-ho-{secrets.token_hex(6)}", str(uuid.uuid4())
    async with ctx_for(stack.state) as ctx:
        fault = make("half-open", "payments_api")
        await fault.start(ctx)
        try:
            with pytest.raises(httpx.TimeoutException):
                await authorize(stack.provider_url, key, order_id, timeout_s=2.0)
        finally:
            await fault.stop(ctx)
    found = await _authorized_directly(stack, key)
    replay = await authorize(stack.provider_url, key, order_id, timeout_s=5.0)  # healed
    assert replay.status_code in (200, 201), replay.text
    assert replay.json()["payment_id"] == found.json()["payment_id"]  # the same, once


async def test_half_open_with_a_close_time_closes_the_connection_after_the_lost_answer(
    stack: StackHandle,
) -> None:
    """target-blackhole's closing kind: the far side acts, its answer is lost, and the proxy
    closes the connection soon after (the client hears a close, not its own timeout)."""
    key, order_id = f"chaos-hc-{secrets.token_hex(6)}", str(uuid.uuid4())
    async with ctx_for(stack.state) as ctx:
        fault = make("half-open", "payments_api", {"timeout_ms": 1000})
        await fault.start(ctx)
        try:
            with pytest.raises(httpx.TransportError) as closed:
                await authorize(stack.provider_url, key, order_id, timeout_s=60.0)
            assert not isinstance(closed.value, httpx.TimeoutException), closed.value
        finally:
            await fault.stop(ctx)
    await _authorized_directly(stack, key, wait_s=10.0)  # the far side acted (it may still
    # be acting when a slow machine's close arrives)


async def test_latency_delays_within_the_jitter_bounds(stack: StackHandle) -> None:
    async with ctx_for(stack.state) as ctx, redis_client(
        stack.state.redis_url(proxied=True), timeout_s=5.0
    ) as client:
        baseline = min([await timed(client.ping()) for _ in range(3)])
        fault = make("latency", "redis", {"latency_ms": 300, "jitter_ms": 100})
        await fault.start(ctx)
        try:
            delays = [await timed(client.ping()) for _ in range(5)]
        finally:
            await fault.stop(ctx)
        after = min([await timed(client.ping()) for _ in range(3)])
    assert baseline < 0.15
    assert all(0.19 <= d <= 0.4 + 1.5 for d in delays), delays  # never below latency - jitter
    assert after < 0.15


async def test_reset_peer_resets_an_open_database_connection(stack: StackHandle) -> None:
    conn = await asyncpg.connect(stack.state.dsn("seats", proxied=True), timeout=3)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        async with ctx_for(stack.state) as ctx:
            fault = make("reset_peer", "seats_pg", {"timeout_ms": 0})
            await fault.start(ctx)
            try:
                with pytest.raises((ConnectionResetError, asyncpg.ConnectionDoesNotExistError,
                                    asyncpg.InterfaceError, OSError)):
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=5)
            finally:
                await fault.stop(ctx)
    finally:
        conn.terminate()
    fresh = await asyncpg.connect(stack.state.dsn("seats", proxied=True), timeout=3)
    try:
        assert await fresh.fetchval("SELECT 2") == 2
    finally:
        await fresh.close()


async def test_limit_data_cuts_a_long_answer(stack: StackHandle) -> None:
    key = f"chaos:ld:{secrets.token_hex(4)}"
    direct = aioredis.Redis.from_url(stack.redis_url)
    await direct.set(key, b"x" * 20_000)
    try:
        async with ctx_for(stack.state) as ctx, redis_client(
            stack.state.redis_url(proxied=True), timeout_s=2.0
        ) as client:
            fault = make("limit_data", "redis", {"bytes": 1000})
            await fault.start(ctx)
            try:
                with pytest.raises(redis.exceptions.ConnectionError):
                    await client.get(key)
            finally:
                await fault.stop(ctx)
        async with redis_client(stack.state.redis_url(proxied=True)) as client:
            assert len(await client.get(key) or b"") == 20_000
    finally:
        await direct.delete(key)
        await direct.aclose()


async def test_bandwidth_throttles_a_transfer(stack: StackHandle) -> None:
    key = f"chaos:bw:{secrets.token_hex(4)}"
    direct = aioredis.Redis.from_url(stack.redis_url)
    await direct.set(key, b"x" * 150_000)
    try:
        async with ctx_for(stack.state) as ctx, redis_client(
            stack.state.redis_url(proxied=True), timeout_s=10.0
        ) as client:
            fast = await timed(client.get(key))
            fault = make("bandwidth", "redis", {"rate_kbps": 100})
            await fault.start(ctx)
            try:
                slow = await timed(client.get(key))
            finally:
                await fault.stop(ctx)
        assert fast < 0.5
        assert slow >= 1.0  # 150 KB at 100 KB/s is 1.5 s
    finally:
        await direct.delete(key)
        await direct.aclose()


async def test_slow_close_delays_the_close_the_client_sees(stack: StackHandle) -> None:
    async def quit_and_wait_for_eof() -> float:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", stack.state.ports["redis_proxy"]
        )
        try:
            writer.write(b"QUIT\r\n")
            await writer.drain()
            assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"+OK")
            started = time.monotonic()
            assert await asyncio.wait_for(reader.read(), 10) == b""  # EOF: Redis closed
            return time.monotonic() - started
        finally:
            writer.close()

    async with ctx_for(stack.state) as ctx:
        fault = make("slow_close", "redis", {"delay_ms": 1000})
        await fault.start(ctx)
        try:
            slow = await quit_and_wait_for_eof()
        finally:
            await fault.stop(ctx)
    fast = await quit_and_wait_for_eof()
    assert slow >= 0.8
    assert fast < 0.5


async def test_two_faults_on_one_proxy_remove_only_their_own_toxics(stack: StackHandle) -> None:
    async with ctx_for(stack.state) as ctx:
        latency = make("latency", "redis", {"latency_ms": 10})
        bandwidth = make("bandwidth", "redis", {"rate_kbps": 1000})
        await latency.start(ctx)
        await bandwidth.start(ctx)
        try:
            await latency.stop(ctx)
            left = [t.name for t in await ctx.toxiproxy.toxics("redis")]
            assert left == list(bandwidth.toxic_names)  # type: ignore[attr-defined]
        finally:
            await bandwidth.stop(ctx)
            await latency.stop(ctx)
    await assert_healed(stack.state)
