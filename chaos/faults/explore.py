"""``explore``: a failpoint of the service does a chosen action (FoundationDB's BUGGIFY).

The target is a failpoint name (``target_service.failpoints.FAILPOINTS``); the parameters say what
happens there, chosen by whoever builds the fault (the ``explore`` schedule draws them from the
seed, scaled to the service's clocks and the buyers' timeout): ``crash`` (the process dies;
supervisord restarts it), ``delay`` (that step sleeps ``seconds``: the process keeps serving) or
``pause`` (the process stops itself there; this fault continues it ``seconds`` after it saw it
stopped). It fires ``count`` times across the processes, in service process ``instance`` only (-1:
any), each hit with probability ``chance`` (below 1, BUGGIFY's "now and then": the firings spread
over the window, so successive requests of one step are perturbed, not just the first few).

It knows no bug and reads nothing of the service's state: it arms, watches its own processes'
run state, and on ``stop`` always heals: disarm, continue every stopped target process (after
a ``pause``, also any that stops itself within the service's ``self_stop_window_s`` after the
disarm), and wait until every target process runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from typing import Any, Literal

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults.base import Fault
from chaos.params import FaultParams, param
from chaos.processes import (
    ProcessTargetError,
    continue_self_stops,
    is_stopped,
    processes,
    self_stop_watch_s,
    send,
    wait_group_running,
)

#: how often a pause's watcher looks at the target processes' run state
WATCH_S = 0.1


@dataclass(frozen=True, slots=True)
class ExploreParams(FaultParams):
    action: Literal["crash", "delay", "pause"] = param("delay", doc="what the failpoint does")
    seconds: float = param(1.0, min=0.0, max=600.0, doc="how long a delay or pause lasts")
    count: int = param(1, min=1, max=1_000_000, doc="firings across all processes")
    chance: float = param(1.0, min=0.001, max=1.0,
                          doc="each hit fires with this probability (1: the first hits fire)")
    instance: int = param(-1, min=-1, max=63, doc="the one target process (-1: any)")
    restart_within_s: float = param(
        30.0, min=1.0, max=600.0, doc="stop fails unless every process runs again within this")


def exploration_targets() -> tuple[str, ...]:
    """Every failpoint of the service's own processes (the provider's are not explored)."""
    return tuple(sorted(n for n in failpoints.known_failpoints()
                        if not n.startswith("provider-")))


class Explore(Fault[ExploreParams]):
    """A failpoint delays, pauses (SIGSTOP self, continued here) or crashes a service process."""

    kind = "explore"
    doc = "a failpoint delays, pauses or crashes a service process (target = failpoint name)"
    Params = ExploreParams

    def __init__(self, target: str, params: Any = None) -> None:
        super().__init__(target, params)
        self._watcher: asyncio.Task[None] | None = None
        self.paused: list[str] = []

    @classmethod
    def valid_targets(cls) -> tuple[str, ...]:
        return exploration_targets()

    async def _apply(self, ctx: ChaosContext) -> None:
        p = self.params
        try:
            await failpoints.arm_action(
                ctx.state, self.target, remaining=p.count, action=p.action,
                seconds=p.seconds, instance=None if p.instance < 0 else str(p.instance),
                chance=None if p.chance >= 1.0 else p.chance)
        except failpoints.FailpointError as exc:
            raise ProcessTargetError(f"arming the failpoint failed: {exc}") from exc
        if p.action == "pause":
            self._watcher = asyncio.create_task(self._continue_paused(ctx))
        # every process re-reads the shared table within one poll period
        await asyncio.sleep(2 * failpoints.poll_interval_s(ctx.state) + 0.1)

    async def _target_pids(self, ctx: ChaosContext) -> dict[str, int]:
        return {p.name: p.pid for p in await processes(ctx) if p.group == "target" and p.pid}

    async def _continue_paused(self, ctx: ChaosContext) -> None:
        """Continue each target process ``seconds`` after it was first seen stopped."""
        seen: dict[int, float] = {}
        while True:
            now = time.monotonic()
            for name, pid in (await self._target_pids(ctx)).items():
                if not is_stopped(pid):
                    seen.pop(pid, None)
                    continue
                if pid not in seen:
                    seen[pid] = now
                    self.paused.append(name)
                elif now - seen[pid] >= self.params.seconds:
                    send(pid, signal.SIGCONT, ctx)
                    seen.pop(pid, None)
            await asyncio.sleep(WATCH_S)

    async def _remove(self, ctx: ChaosContext) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        pause = self.params.action == "pause"
        stuck: list[str] = []
        try:
            await failpoints.disarm(ctx.state, self.target)
        finally:
            for pid in (await self._target_pids(ctx)).values():
                if is_stopped(pid):
                    send(pid, signal.SIGCONT, ctx)
            if pause:  # a firing taken before the disarm may stop a process a little later
                stuck = await continue_self_stops(ctx, for_s=self_stop_watch_s(ctx))
        if stuck:
            raise ProcessTargetError(f"{', '.join(stuck)} did not continue")
        if not await wait_group_running(ctx, ("target",), within=self.params.restart_within_s):
            raise ProcessTargetError(
                f"target processes not RUNNING within {self.params.restart_within_s:g}s")

    def observed(self) -> dict[str, Any]:
        return {"paused": list(self.paused)}
