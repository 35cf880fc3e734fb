"""Fixtures for the checker tests: the test stack's two databases, wiped and re-seeded per test.

``INVARIANTS_TEST_DSNS="<seats dsn> <payments dsn>"`` points the database-level tests at another
Postgres (any with ``max_prepared_transactions > 0``) instead of the stack's; tests that drive
the service still need the stack.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from target_service.seed import reset_data
from tests.invariants.shop import Shop


@dataclass(frozen=True)
class Dbs:
    seats_dsn: str
    payments_dsn: str


@pytest_asyncio.fixture(loop_scope="session")
async def dbs(request: pytest.FixtureRequest) -> AsyncIterator[Dbs]:
    """Both databases, freshly reset to the seed events (and reset again afterwards)."""
    override = os.environ.get("INVARIANTS_TEST_DSNS")
    if override:
        seats_dsn, payments_dsn = override.split()
        found = Dbs(seats_dsn, payments_dsn)
    else:
        handle = request.getfixturevalue("stack")
        found = Dbs(handle.seats_dsn, handle.payments_dsn)
    await reset_data(found.seats_dsn, found.payments_dsn)
    yield found
    await reset_data(found.seats_dsn, found.payments_dsn)


@pytest_asyncio.fixture(loop_scope="session")
async def shop(dbs: Dbs) -> AsyncIterator[Shop]:
    """A builder of database states (healthy by default) over the reset databases."""
    async with Shop(dbs.seats_dsn, dbs.payments_dsn) as built:
        yield built
