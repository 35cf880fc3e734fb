"""Every contract proxy carries real traffic, and disabling one cuts exactly its link."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from harness.stack.toxiproxy import Toxiproxy
from harness.topology import PROXY_NAMES
from tests.conftest import StackHandle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _use_link(stack: StackHandle, proxy: str, *, any_answer: bool = False) -> object:
    """One real round trip through ``proxy`` with the client of that link's protocol.

    For the HTTP links ``any_answer`` accepts any HTTP status: the link carried the exchange even
    when the service answers 503 because one of *its* dependencies is cut.
    """
    state = stack.state
    if proxy in ("seats_pg", "payments_pg"):
        database = proxy.removesuffix("_pg")
        conn = await asyncpg.connect(state.dsn(database, proxied=True), timeout=3)
        try:
            return await conn.fetchval("SELECT current_database()")
        finally:
            await conn.close()
    if proxy == "redis":
        client = aioredis.Redis.from_url(
            state.redis_url(proxied=True), socket_timeout=3, socket_connect_timeout=3
        )
        try:
            return await client.ping()
        finally:
            await client.aclose()
    url = stack.target_url if proxy == "target_api" else stack.provider_url
    async with httpx.AsyncClient(timeout=3) as client:
        response = await client.get(url + "/health")
        if not any_answer:
            response.raise_for_status()
        return response.status_code


@pytest.mark.parametrize("proxy", PROXY_NAMES)
async def test_every_proxy_carries_traffic(stack: StackHandle, proxy: str) -> None:
    result = await _use_link(stack, proxy)
    expected = {"seats_pg": "seats", "payments_pg": "payments", "redis": True}
    assert result == expected.get(proxy, 200)


async def test_proxies_match_the_topology(stack: StackHandle) -> None:
    async with Toxiproxy(stack.toxiproxy_url) as tp:
        proxies = await tp.proxies()
        assert await tp.version() == "2.12.0"
    assert sorted(proxies) == sorted(PROXY_NAMES)
    for proxy in proxies.values():
        assert proxy.listen.startswith("127.0.0.1:")
        assert proxy.upstream.startswith("127.0.0.1:")
        assert proxy.enabled


@pytest.mark.parametrize("proxy", PROXY_NAMES)
async def test_disabling_a_proxy_cuts_its_link_and_enabling_restores_it(
    stack: StackHandle, proxy: str
) -> None:
    async with Toxiproxy(stack.toxiproxy_url) as tp:
        await tp.set_enabled(proxy, False)
        try:
            with pytest.raises((OSError, asyncpg.PostgresError, aioredis.ConnectionError,
                                httpx.TransportError, asyncio.TimeoutError)):
                await _use_link(stack, proxy)
            # the other links are untouched
            for other in PROXY_NAMES:
                if other != proxy:
                    await _use_link(stack, other, any_answer=True)
        finally:
            await tp.set_enabled(proxy, True)
    await _use_link(stack, proxy)


async def test_disabling_cuts_an_open_connection(stack: StackHandle) -> None:
    conn = await asyncpg.connect(stack.state.dsn("seats", proxied=True), timeout=3)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        async with Toxiproxy(stack.toxiproxy_url) as tp:
            await tp.set_enabled("seats_pg", False)
            try:
                with pytest.raises((OSError, asyncpg.PostgresError, asyncpg.InterfaceError)):
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=5)
            finally:
                await tp.set_enabled("seats_pg", True)
    finally:
        conn.terminate()
