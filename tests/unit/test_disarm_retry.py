"""A heal's disarm survives one door call that times out (a busy machine), and still fails
when the door stays unreachable."""

from __future__ import annotations

from typing import Any

import pytest

from chaos import failpoints
from harness.stack.state import StackState

pytestmark = pytest.mark.asyncio


class _State:
    def stores(self) -> object:
        return object()

    def dsn(self, name: str) -> str:
        return f"postgresql://x/{name}"


def _door_failing(times: int, calls: list[str]) -> Any:
    async def disarm(stores: object, name: str) -> None:
        calls.append(name)
        if len(calls) <= times:
            raise TimeoutError()
    return disarm


async def test_a_disarm_retries_a_door_call_that_timed_out(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    calls: list[str] = []
    monkeypatch.setattr(failpoints.introspection, "disarm_failpoint", _door_failing(1, calls))
    monkeypatch.setattr(failpoints, "DOOR_RETRY_S", 0.0)
    state: Any = _State()
    await failpoints.disarm(state, "lock-after-authorize")
    assert calls == ["lock-after-authorize"] * 2


async def test_a_disarm_fails_when_the_door_stays_unreachable(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    calls: list[str] = []
    monkeypatch.setattr(failpoints.introspection, "disarm_failpoint", _door_failing(99, calls))
    monkeypatch.setattr(failpoints, "DOOR_RETRY_S", 0.0)
    state: StackState = _State()  # type: ignore[assignment]
    with pytest.raises(failpoints.FailpointError):
        await failpoints.disarm(state, "lock-after-authorize")
    assert len(calls) == failpoints.DOOR_ATTEMPTS
