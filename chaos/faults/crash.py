"""``crash``: arm one of the service's named failpoints, so a process dies at that exact step.

The target is the failpoint's name (``target_service.failpoints.FAILPOINTS``; e.g.
``2pc-after-prepare``: the coordinator dies between 2PC prepare and commit). ``count`` firings
across all processes (0: every hit while armed); when ``start`` returns, every process is armed.
``stop`` disarms it and waits until every
target-service process is RUNNING again. ``taken`` says how many of the ``count`` firings the
failpoint took (read from the failpoint table just before the disarm: its own crashes);
``fired`` how many processes were seen to restart meanwhile, for any reason (another fault's
kill or crash too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults.base import Fault
from chaos.params import FaultParams, param
from chaos.processes import ProcessTargetError, processes, wait_group_running


@dataclass(frozen=True, slots=True)
class CrashParams(FaultParams):
    count: int = param(1, min=0, max=1_000_000, doc="firings across all processes (0: unlimited)")
    restart_within_s: float = param(
        30.0, min=1.0, max=600.0, doc="stop fails unless every process runs again within this"
    )


def crash_failpoints() -> tuple[str, ...]:
    """The service's failpoints that crash (stall and self-stop failpoints are not crashes)."""
    from target_service.failpoints import SELF_STOPS, STALLS

    return tuple(
        sorted(n for n in failpoints.known_failpoints() if n not in STALLS | SELF_STOPS
               and not n.startswith("provider-"))
    )


class Crash(Fault[CrashParams]):
    """A service process crashes (``os._exit``) at the named step; supervisord restarts it."""

    kind = "crash"
    doc = "arm a failpoint: the service dies at that step (target = failpoint name)"
    Params = CrashParams

    def __init__(
        self, target: str, params: Mapping[str, Any] | FaultParams | None = None
    ) -> None:
        super().__init__(target, params)
        self.fired: int | None = None
        self.taken: int | None = None
        self._pids: dict[str, int] = {}

    @classmethod
    def valid_targets(cls) -> tuple[str, ...]:
        return crash_failpoints()

    async def _target_pids(self, ctx: ChaosContext) -> dict[str, int]:
        return {p.name: p.pid for p in await processes(ctx) if p.group == "target"}

    async def _apply(self, ctx: ChaosContext) -> None:
        self._pids = await self._target_pids(ctx)
        remaining = self.params.count or None
        try:
            await failpoints.arm(ctx.state, self.target, remaining=remaining)
        except failpoints.FailpointError as exc:
            raise ProcessTargetError(f"arming the failpoint failed: {exc}") from exc
        # Only the process that served the admin call has it now; the others re-read the shared
        # table every FAILPOINT_POLL_S. Two periods later every process is armed.
        await asyncio.sleep(2 * failpoints.poll_interval_s(ctx.state) + 0.1)

    async def _remove(self, ctx: ChaosContext) -> None:
        if self.params.count:  # what is left of the count is gone once disarmed
            try:  # (the service deletes an arming whose count is spent)
                left: int | None = (await failpoints.armed(ctx.state)).get(self.target) or 0
            except Exception:  # an observation must never stop the healing
                left = None
            self.taken = None if left is None else self.params.count - left
        try:
            await failpoints.disarm(ctx.state, self.target)
        except failpoints.FailpointError as exc:
            raise ProcessTargetError(f"disarming the failpoint failed: {exc}") from exc
        ok = await wait_group_running(ctx, ("target",), within=self.params.restart_within_s)
        now = await self._target_pids(ctx)
        self.fired = sum(1 for name, pid in self._pids.items() if now.get(name) != pid)
        if not ok:
            raise ProcessTargetError(
                f"target processes not RUNNING within {self.params.restart_within_s:g}s"
            )

    def observed(self) -> dict[str, Any]:
        return {"fired": self.fired, "taken": self.taken}
