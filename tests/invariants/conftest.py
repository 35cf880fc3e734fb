"""Fixtures for the checker tests: the test stack's two databases, wiped and re-seeded per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio

from target_service.seed import reset_data
from tests.conftest import StackHandle
from tests.invariants.shop import Shop


@dataclass(frozen=True)
class Dbs:
    seats_dsn: str
    payments_dsn: str


@pytest_asyncio.fixture(loop_scope="session")
async def dbs(stack: StackHandle) -> AsyncIterator[Dbs]:
    """Both databases of the test stack, reset to the seed events (and reset again after)."""
    found = Dbs(stack.seats_dsn, stack.payments_dsn)
    await reset_data(found.seats_dsn, found.payments_dsn, redis_url=stack.redis_url)
    yield found
    await reset_data(found.seats_dsn, found.payments_dsn, redis_url=stack.redis_url)


@pytest_asyncio.fixture(loop_scope="session")
async def shop(dbs: Dbs) -> AsyncIterator[Shop]:
    """A builder of database states (healthy by default) over the reset databases."""
    async with Shop(dbs.seats_dsn, dbs.payments_dsn) as built:
        yield built
