"""A hit that took a shared firing keeps it: the tidy-up of a spent row may fail (a database
reset mid-step) without cancelling the firing. Pure logic: the pool is a stand-in."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from target_service.app import _consume_failpoint
from target_service.context import Deps


class _Pool:
    """Answers the decrement with ``remaining``; the delete fails when ``broken``."""

    def __init__(self, remaining: int | None, *, broken: bool) -> None:
        self.remaining, self.broken = remaining, broken
        self.tried = self.deleted = False

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        assert sql.startswith("UPDATE failpoints")
        return None if self.remaining is None else {"remaining": self.remaining}

    async def execute(self, sql: str, *args: Any) -> str:
        assert sql.startswith("DELETE FROM failpoints")
        self.tried = True
        if self.broken:
            raise ConnectionResetError(104, "Connection reset by peer")
        self.deleted = True
        return "DELETE 1"


def _deps(pool: _Pool) -> Deps:
    return cast(Deps, SimpleNamespace(seats=pool))


@pytest.mark.asyncio
@pytest.mark.parametrize("broken", [False, True])
async def test_the_last_firing_is_taken_whether_or_not_its_row_is_tidied(broken: bool) -> None:
    pool = _Pool(0, broken=broken)
    assert await _consume_failpoint(_deps(pool), "finalize-after-capture") is True
    assert pool.tried and pool.deleted is not broken


@pytest.mark.asyncio
async def test_a_spent_or_missing_arming_fires_no_more() -> None:
    assert await _consume_failpoint(_deps(_Pool(None, broken=True)), "x") is False


@pytest.mark.asyncio
async def test_a_firing_with_more_left_keeps_its_row() -> None:
    pool = _Pool(2, broken=True)  # the delete is never tried: nothing to tidy
    assert await _consume_failpoint(_deps(pool), "x") is True and not pool.tried
