"""``pause``: SIGSTOP one app process, SIGCONT it on stop.

A process paused longer than the service's lock lease loses its seat locks without knowing;
when it continues, only fencing stops its stale write. With ``holding_locks`` (the default) the
pause waits, boundedly, until the service's introspection door reports seat locks held, and for
the target ``target`` freezes the process that holds the most of them (Jepsen pauses the
primary; ``picked``: ``lock-holder``), else the seeded pick (``seeded``). With ``at`` (a
self-stop failpoint of the service, e.g. ``lock-pause-before-write``) the first process to reach
that step SIGSTOPs itself there (``picked``: ``failpoint``); when none does within
``lock_wait_s`` the pause falls back to the above. A named target (``target-<n>``,
``provider``) is always that process.

Stop always brings the process back: it is continued until it runs (sent SIGCONT again if it
stops itself again), and after an ``at`` pause every target process that stops itself within
the service's ``self_stop_window_s`` is continued too. Evidence: ``locks_at_pause`` (seat locks
held when it paused, by any process), ``held_by_paused`` (of those, the paused process's) and,
on stop, ``expired_unreleased`` (of those, locks whose lease ran out without a release while the
process was frozen; a lower bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.exceptions

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults.kill import GONE_RETRIES, GONE_WAIT_S
from chaos.faults.process import ProcessFault
from chaos.params import FaultParams, param
from chaos.processes import (
    ProcessTargetError,
    continue_self_stops,
    continue_until_running,
    is_dead,
    is_stopped,
    resolve,
    running_targets,
    self_stop_watch_s,
    send,
)
from harness.stack.control import ProcessInfo
from target_service import introspection
from target_service.introspection import LockHold

#: a paused process must be seen stopped, and staying so for STOP_SETTLE_S, within this long
STOP_WITHIN_S = 5.0
STOP_SETTLE_S = 1.0
STOP_POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class PauseParams(FaultParams):
    holding_locks: bool = param(True, doc="wait until seat locks are held before pausing")
    lock_wait_s: float = param(5.0, min=0.0, max=120.0, doc="at most this long")
    at: str = param("", doc="a self-stop failpoint (lock-pause-before-write): the first "
                    "process to reach that step stops itself; stop continues it")


def lock_holder(running: list[ProcessInfo], holds: list[LockHold]) -> ProcessInfo | None:
    """Of the ``running`` target processes (``target-<instance>``), the one owning the most of
    ``holds`` (ties: first by name); None when none of them owns one."""
    held = introspection.holds_by_instance(holds)
    owning = [(-held[p.name.removeprefix("target-")], p.name, p) for p in running
              if held.get(p.name.removeprefix("target-"), 0)]
    return min(owning, key=lambda t: (t[0], t[1]))[2] if owning else None


class Pause(ProcessFault[PauseParams]):
    """The process is frozen (SIGSTOP) until stop (SIGCONT); the others keep serving."""

    kind = "pause"
    doc = "SIGSTOP one process (while it holds locks), SIGCONT on stop"
    Params = PauseParams

    def __init__(
        self, target: str, params: Mapping[str, Any] | FaultParams | None = None
    ) -> None:
        super().__init__(target, params)
        self.locks_at_pause: int | None = None
        self.expired_unreleased: int | None = None
        self.held_by_paused: int | None = None
        self.picked: str | None = None
        self._holds: list[LockHold] = []
        self._armed_at = False  # ``at`` was armed: late self-stops are watched for on stop

    async def _wait_for_locks(self, ctx: ChaosContext) -> list[LockHold]:
        """The seat locks held now, waiting (``lock_wait_s``) until some are; Redis slow to
        answer (a starved machine, a Redis fault of the same schedule) counts as none seen."""
        deadline = time.monotonic() + self.params.lock_wait_s
        while True:
            held: list[LockHold] = []
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                held = await introspection.lock_holds(ctx.stores)
            if held or time.monotonic() >= deadline:
                return held
            await asyncio.sleep(0.01)

    async def _stopped_at_failpoint(self, ctx: ChaosContext) -> ProcessInfo | None:
        """Arm ``at`` for one firing; the target process that stopped itself there, if any
        did within ``lock_wait_s`` (the failpoint is disarmed again either way)."""
        self._armed_at = True
        await failpoints.arm(ctx.state, self.params.at, remaining=1)
        try:
            deadline = time.monotonic() + self.params.lock_wait_s
            while time.monotonic() < deadline:
                for proc in await running_targets(ctx):
                    if is_stopped(proc.pid):
                        return proc
                await asyncio.sleep(0.02)
            return None
        finally:  # through the door: a frozen process may be the one an admin call reaches
            await failpoints.disarm(ctx.state, self.params.at)

    async def _apply(self, ctx: ChaosContext) -> None:
        if self.params.at and self.target == "target":
            stopped = await self._stopped_at_failpoint(ctx)
            if stopped is not None:  # already frozen, by itself, at the step
                self.pid, self.process, self.picked = stopped.pid, stopped.name, "failpoint"
                return
        if self.params.holding_locks:
            self._holds = await self._wait_for_locks(ctx)
            self.locks_at_pause = len(self._holds)
        proc = await resolve(ctx, self.target)  # also draws the seeded pick, used or not
        self.picked = "seeded" if self.target == "target" else "named"
        if self.target == "target" and self._holds:
            holder = lock_holder(await running_targets(ctx), self._holds)
            if holder is not None:
                proc, self.picked = holder, "lock-holder"
        self.pid, self.process = proc.pid, proc.name
        if self._holds and proc.group == "target":
            self.held_by_paused = introspection.holds_by_instance(self._holds)[
                proc.name.removeprefix("target-")]
        for _ in range(GONE_RETRIES):
            if send(proc.pid, signal.SIGSTOP, ctx) and await self._stays_stopped(ctx, proc.pid):
                break
            if not is_dead(proc.pid):
                raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) did not stop on SIGSTOP")
            # died around the signal (another fault crashed it): once restarted, the named
            # process is the target again
            await asyncio.sleep(GONE_WAIT_S)
            proc = await resolve(ctx, proc.name)
            self.pid, self.process = proc.pid, proc.name
        else:
            raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) is gone")

    @staticmethod
    async def _stays_stopped(ctx: ChaosContext, pid: int) -> bool:
        """Whether ``pid`` stops and stays stopped for STOP_SETTLE_S within STOP_WITHIN_S,
        SIGSTOP sent again whenever it runs (another fault's heal that continues every stopped
        process, e.g. an exploration window ending just then, may continue it); False when it
        died meanwhile or never settled."""
        deadline = time.monotonic() + STOP_WITHIN_S
        since: float | None = None
        while time.monotonic() < deadline:
            if is_dead(pid):
                return False
            if not is_stopped(pid):
                since = None
                send(pid, signal.SIGSTOP, ctx)
            elif since is None:
                since = time.monotonic()
            elif time.monotonic() - since >= STOP_SETTLE_S:
                return True
            await asyncio.sleep(STOP_POLL_S)
        return False

    async def _remove(self, ctx: ChaosContext) -> None:
        try:
            if self._holds and self.pid is not None:
                with contextlib.suppress(Exception):  # evidence only; never blocks the SIGCONT
                    self.expired_unreleased = await introspection.expired_unreleased(
                        ctx.stores, self._holds)
        finally:
            self._holds = []
            stuck = []
            if self.pid is not None and not await continue_until_running(ctx, self.pid):
                stuck.append(f"{self.process} (pid {self.pid})")
            if self._armed_at:  # a firing taken before the disarm may stop a process late
                stuck += await continue_self_stops(ctx, for_s=self_stop_watch_s(ctx))
                self._armed_at = False
            self.pid = None
            if stuck:
                raise ProcessTargetError(f"{', '.join(stuck)} did not continue")

    def observed(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "picked": self.picked,
            "locks_at_pause": self.locks_at_pause,
            "held_by_paused": self.held_by_paused,
            "expired_unreleased": self.expired_unreleased,
        }
