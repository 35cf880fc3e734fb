"""``pause``: SIGSTOP one app process, SIGCONT it on stop.

Aimed at the lock strategy: a process paused while it holds seat locks for longer than the lock
lease loses them without knowing; when it continues, only fencing stops its stale write. With
``holding_locks`` (the default) the pause waits, boundedly, until seat locks are held in Redis.
Lock owner values start with the holder's instance (``i<TARGET_INSTANCE>:``, see
``target_service/redis_lock.py``), so for the target ``target`` the fault freezes a process
that holds a lock right now (the one holding most, ties by name), and falls back to the seeded
pick when no running process does (``picked``: ``lock-holder`` or ``seeded``). With ``at`` (a
self-stop failpoint of the service, e.g. ``lock-pause-before-write``) the pause is aimed at the
critical step: the first process to reach it SIGSTOPs itself there (``picked``: ``failpoint``)
and stop continues it; when none does within ``lock_wait_s``, the pause falls back to the above.
A named target (``target-<n>``, ``provider``) is always that process. Evidence:
``locks_at_pause`` (seat locks held when it paused, by any process), ``held_by_paused`` (of
those, the paused process's) and, on stop, ``expired_unreleased`` (of the snapshot, locks whose
lease ran out without a release while the process was frozen; a lower bound, as a re-acquired
seat hides it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults.process import ProcessFault
from chaos.params import FaultParams, param
from chaos.processes import ProcessTargetError, is_stopped, resolve, send, wait_stopped_state
from harness.stack.control import ProcessInfo
from target_service.redis_lock import owner_instance

#: Redis key pattern of the service's seat locks (``lock:seat:<event>:<seat>``).
LOCK_PATTERN = "lock:seat:*"


@dataclass(frozen=True, slots=True)
class PauseParams(FaultParams):
    holding_locks: bool = param(True, doc="wait until seat locks are held before pausing")
    lock_wait_s: float = param(5.0, min=0.0, max=120.0, doc="at most this long")
    at: str = param("", doc="a self-stop failpoint (lock-pause-before-write): the first "
                    "process to reach that step stops itself; stop continues it")


def _client(redis_url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )


async def lock_owners(redis_url: str, *, limit: int = 10_000) -> dict[str, str]:
    """Seat lock key -> owner id of the locks held right now (bounded scan, direct Redis)."""
    client = _client(redis_url)
    try:
        keys: list[str] = []
        async for key in client.scan_iter(match=LOCK_PATTERN, count=500):
            keys.append(str(key))
            if len(keys) >= limit:
                break
        values = await client.mget(keys) if keys else []
        return {k: str(v) for k, v in zip(keys, values, strict=True) if v is not None}
    finally:
        await client.aclose()


async def expired_unreleased(redis_url: str, snapshot: Mapping[str, str]) -> int:
    """Of ``snapshot``'s locks, how many expired without a release (their ``lease:`` key still
    names the owner while the ``lock:`` key no longer does)."""
    client = _client(redis_url)
    try:
        keys = list(snapshot)
        locks = await client.mget(keys)
        leases = await client.mget([k.replace("lock:", "lease:", 1) for k in keys])
        return sum(
            1
            for key, lock, lease in zip(keys, locks, leases, strict=True)
            if lock != snapshot[key] and lease == snapshot[key]
        )
    finally:
        await client.aclose()


def lock_holder(
    running: Sequence[ProcessInfo], owners: Mapping[str, str]
) -> ProcessInfo | None:
    """Of the ``running`` target processes (``target-<instance>``), the one whose instance owns
    the most of ``owners``' locks (ties: first by name); None when none of them owns one."""
    held = Counter(owner_instance(v) for v in owners.values())
    best: tuple[int, str] | None = None
    chosen: ProcessInfo | None = None
    for proc in running:
        n = held.get(proc.name.removeprefix("target-"), 0)
        if n and (best is None or (-n, proc.name) < best):
            best, chosen = (-n, proc.name), proc
    return chosen


async def _running_targets(ctx: ChaosContext) -> list[ProcessInfo]:
    return [p for p in await asyncio.to_thread(ctx.supervisor.processes)
            if p.group == "target" and p.state == "RUNNING" and p.pid]


class Pause(ProcessFault[PauseParams]):
    """The process is frozen (SIGSTOP) until stop (SIGCONT); the others keep serving."""

    kind = "pause"
    doc = "SIGSTOP one process (while it holds locks), SIGCONT on stop"
    Params = PauseParams

    def __init__(
        self, target: str, params: Mapping[str, Any] | FaultParams | None = None
    ) -> None:
        super().__init__(target, params)
        self.pid: int | None = None
        self.process: str | None = None
        self.locks_at_pause: int | None = None
        self.expired_unreleased: int | None = None
        self.held_by_paused: int | None = None
        self.picked: str | None = None
        self._snapshot: dict[str, str] = {}

    async def _wait_for_locks(self, ctx: ChaosContext) -> dict[str, str]:
        deadline = time.monotonic() + self.params.lock_wait_s
        while True:
            held = await lock_owners(ctx.state.redis_url())
            if held or time.monotonic() >= deadline:
                return held
            await asyncio.sleep(0.01)

    async def _stopped_at_failpoint(self, ctx: ChaosContext) -> ProcessInfo | None:
        """Arm ``at`` for one firing; the target process that stopped itself there, if any
        did within ``lock_wait_s`` (the failpoint is disarmed again either way)."""
        await failpoints.arm(ctx.state, self.params.at, remaining=1)
        try:
            deadline = time.monotonic() + self.params.lock_wait_s
            while time.monotonic() < deadline:
                for proc in await _running_targets(ctx):
                    if is_stopped(proc.pid):
                        return proc
                await asyncio.sleep(0.02)
            return None
        finally:
            await failpoints.disarm(ctx.state, self.params.at)

    async def _apply(self, ctx: ChaosContext) -> None:
        if self.params.at and self.target == "target":
            stopped = await self._stopped_at_failpoint(ctx)
            if stopped is not None:  # already frozen, by itself, at the critical step
                self.pid, self.process, self.picked = stopped.pid, stopped.name, "failpoint"
                return
        if self.params.holding_locks:
            self._snapshot = await self._wait_for_locks(ctx)
            self.locks_at_pause = len(self._snapshot)
        proc = await resolve(ctx, self.target)  # also draws the seeded pick, used or not
        self.picked = "seeded" if self.target == "target" else "named"
        if self.target == "target" and self._snapshot:
            holder = lock_holder(await _running_targets(ctx), self._snapshot)
            if holder is not None:
                proc, self.picked = holder, "lock-holder"
        self.pid, self.process = proc.pid, proc.name
        if self._snapshot and proc.group == "target":
            instance = proc.name.removeprefix("target-")
            self.held_by_paused = sum(
                owner_instance(v) == instance for v in self._snapshot.values())
        if not send(proc.pid, signal.SIGSTOP, ctx):
            raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) is gone")
        if not await wait_stopped_state(proc.pid, True):
            raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) did not stop on SIGSTOP")

    async def _remove(self, ctx: ChaosContext) -> None:
        if self.pid is None:
            return
        if self._snapshot:
            with contextlib.suppress(Exception):  # evidence only; never blocks the SIGCONT
                self.expired_unreleased = await expired_unreleased(
                    ctx.state.redis_url(), self._snapshot
                )
            self._snapshot = {}
        send(self.pid, signal.SIGCONT, ctx)  # gone (killed meanwhile) is fine
        if not await wait_stopped_state(self.pid, False):
            raise ProcessTargetError(f"{self.process} (pid {self.pid}) did not continue")
        self.pid = None

    def observed(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "picked": self.picked,
            "locks_at_pause": self.locks_at_pause,
            "held_by_paused": self.held_by_paused,
            "expired_unreleased": self.expired_unreleased,
        }
