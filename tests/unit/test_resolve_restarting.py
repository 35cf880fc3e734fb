"""A process fault of a composed schedule waits for a target that is still restarting (a crash
or kill of an overlapping window) instead of failing the run; a stopped one fails at once."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from chaos.processes import ProcessTargetError, resolve
from harness.stack.control import ProcessInfo


class _Supervisor:
    def __init__(self, states: list[str]) -> None:
        self.states = states

    def processes(self) -> list[ProcessInfo]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return [ProcessInfo("target", "target-0", state, 4242 if state == "RUNNING" else 0)]


class _Ctx:
    def __init__(self, states: list[str]) -> None:
        self.supervisor = _Supervisor(states)
        self.rng = random.Random(1)


def test_a_restarting_target_is_waited_for() -> None:
    ctx: Any = _Ctx(["STARTING", "BACKOFF", "STARTING", "RUNNING"])
    info = asyncio.run(resolve(ctx, "target-0"))
    assert (info.name, info.pid) == ("target-0", 4242)


def test_a_stopped_target_fails_at_once() -> None:
    ctx: Any = _Ctx(["STOPPED"])
    with pytest.raises(ProcessTargetError, match="not running"):
        asyncio.run(resolve(ctx, "target-0"))
