"""A fault whose own I/O fails (Redis, Postgres, a socket) reports a FaultError naming itself."""

from __future__ import annotations

from typing import Any, cast

import asyncpg
import pytest
import redis.exceptions

from chaos.context import ChaosContext
from chaos.errors import FaultError
from chaos.faults.base import Fault
from chaos.params import FaultParams
from target_service.introspection import Stores

pytestmark = pytest.mark.asyncio


class _Failing(Fault[FaultParams]):
    kind = "failing"
    doc = "raises what it is given when applied"
    error: BaseException = RuntimeError()

    @classmethod
    def valid_targets(cls) -> tuple[str, ...]:
        return ("somewhere",)

    async def _apply(self, ctx: ChaosContext) -> None:
        raise self.error

    async def _remove(self, ctx: ChaosContext) -> None:
        return None


@pytest.mark.parametrize("error", [
    redis.exceptions.TimeoutError("Timeout connecting to server"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    ConnectionRefusedError(111, "Connection refused"),
])
async def test_low_level_errors_become_fault_errors(error: BaseException) -> None:
    fault = _Failing("somewhere")
    fault.error = error
    with pytest.raises(FaultError, match=r"fault 'failing' on 'somewhere': could not be applied"):
        await fault.start(cast(Any, None))
    assert not fault.active


async def test_a_bug_in_a_fault_is_not_disguised() -> None:
    fault = _Failing("somewhere")
    fault.error = KeyError("x")
    with pytest.raises(KeyError):
        await fault.start(cast(Any, None))


async def test_a_pause_that_cannot_reach_redis_falls_back_to_its_pick() -> None:
    from types import SimpleNamespace

    from chaos.faults.pause import Pause

    pause = Pause("target", {"lock_wait_s": 0.3})
    unreachable = SimpleNamespace(stores=Stores("", "", "redis://127.0.0.1:1/0"))
    assert await pause._wait_for_locks(cast(Any, unreachable)) == []  # no locks seen, no error
