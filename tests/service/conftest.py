"""Fixtures of the service tests: a clean data set per test and an OpenAPI-checked client.

Tests that touch the stack are async and run on the session loop (see docs/INTERFACES.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest_asyncio

from target_service.seed import reset_data
from tests.service.client import Api


@pytest_asyncio.fixture(loop_scope="session")
async def api(stack: Any) -> AsyncIterator[Api]:
    """A client of a freshly reset service (all run data wiped, seed events re-created)."""
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    async with httpx.AsyncClient(base_url=stack.target_url, timeout=30) as http:
        yield await Api(http).new_customer()


@pytest_asyncio.fixture(loop_scope="session")
async def seats_db(stack: Any) -> AsyncIterator[Any]:
    conn = await asyncpg.connect(stack.seats_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def payments_db(stack: Any) -> AsyncIterator[Any]:
    conn = await asyncpg.connect(stack.payments_dsn)
    try:
        yield conn
    finally:
        await conn.close()
