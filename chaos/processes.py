"""The stack's app processes as the process faults see them: resolve, signal, wait for restart.

Targets: ``target`` (one target-service process, picked with the context's seeded rng),
``target-<n>`` (that process) and ``provider``. A pid is signalled only after checking that it
belongs to this stack (its ``HARNESS_STACK_DIR`` mark), so a recycled pid is never hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time

import psutil

from chaos.context import ChaosContext
from harness.stack.control import ProcessInfo
from harness.stack.supervisor_conf import STACK_ENV

#: Process targets that are valid on any stack (``target-<n>`` is checked by pattern).
PROCESS_TARGETS: tuple[str, ...] = ("target", "provider", "target-0", "target-1")
_TARGET_N = re.compile(r"target-\d+")


class ProcessTargetError(Exception):
    """The named process is not there or not running (translated to FaultError by the fault)."""


def is_process_target(target: str) -> bool:
    return target in ("target", "provider") or _TARGET_N.fullmatch(target) is not None


async def processes(ctx: ChaosContext) -> list[ProcessInfo]:
    return await asyncio.to_thread(ctx.supervisor.processes)


#: how long a process fault waits for its target to finish (re)starting, e.g. after a crash
#: or kill of an overlapping window of a composed schedule
RESTARTING_WAIT_S = 15.0
_RESTARTING = ("STARTING", "BACKOFF")


async def resolve(ctx: ChaosContext, target: str) -> ProcessInfo:
    """The RUNNING process ``target`` names (``target``: a seeded pick of the target group);
    a target still (re)starting is waited for up to ``RESTARTING_WAIT_S``."""
    deadline = time.monotonic() + RESTARTING_WAIT_S
    while True:
        try:
            return await _resolve_once(ctx, target)
        except _Restarting:
            if time.monotonic() >= deadline:
                raise ProcessTargetError(f"{target!r} did not finish restarting within"
                                         f" {RESTARTING_WAIT_S:g}s") from None
            await asyncio.sleep(0.2)


class _Restarting(Exception):
    """Every candidate is (re)starting: try again shortly."""


async def _resolve_once(ctx: ChaosContext, target: str) -> ProcessInfo:
    procs = [p for p in await processes(ctx) if p.group in ("target", "provider")]
    if target == "target":
        candidates = sorted((p for p in procs if p.group == "target"), key=lambda p: p.name)
    else:
        candidates = [p for p in procs if p.name == target]
    if not candidates:
        known = ", ".join(sorted(p.name for p in procs)) or "none"
        raise ProcessTargetError(f"no process {target!r} in the stack (processes: {known})")
    running = [p for p in candidates if p.state == "RUNNING" and p.pid]
    if not running and any(p.state in _RESTARTING for p in candidates):
        raise _Restarting(target)
    if not running:
        states = ", ".join(f"{p.name}={p.state}" for p in candidates)
        raise ProcessTargetError(f"{target!r} is not running ({states})")
    return ctx.rng.choice(running) if target == "target" else running[0]


def belongs_to_stack(pid: int, ctx: ChaosContext) -> bool:
    with contextlib.suppress(psutil.Error, OSError):
        return psutil.Process(pid).environ().get(STACK_ENV) == str(ctx.state.state_dir)
    return False


def send(pid: int, sig: signal.Signals, ctx: ChaosContext) -> bool:
    """Send ``sig`` to ``pid`` if it is still this stack's process; False when it is gone."""
    if not belongs_to_stack(pid, ctx):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def is_stopped(pid: int) -> bool:
    """True when ``pid`` is stopped by a signal (SIGSTOP)."""
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).status() == psutil.STATUS_STOPPED
    return False


async def wait_stopped_state(pid: int, stopped: bool, *, within: float = 5.0) -> bool:
    """Wait until ``pid`` is (not) stopped; True when it got there (or is gone) in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or is_stopped(pid) == stopped:
            return True
        await asyncio.sleep(0.02)
    return False


def is_dead(pid: int) -> bool:
    """True when ``pid`` is gone or a zombie (dead, not yet reaped)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


async def wait_dead(pid: int, *, within: float = 5.0) -> bool:
    """Wait until ``pid`` is dead; False when it still lives after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not is_dead(pid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def wait_restarted(
    ctx: ChaosContext, name: str, old_pid: int, *, within: float
) -> ProcessInfo:
    """Wait until supervisord runs ``name`` again under a new pid; ProcessTargetError if not."""
    deadline = time.monotonic() + within
    last = "unknown"
    while time.monotonic() < deadline:
        for proc in await processes(ctx):
            if proc.name == name:
                last = proc.state
                if proc.state == "RUNNING" and proc.pid and proc.pid != old_pid:
                    return proc
        await asyncio.sleep(0.1)
    raise ProcessTargetError(f"{name} was not RUNNING again within {within:.0f}s (state {last})")


async def wait_group_running(ctx: ChaosContext, groups: tuple[str, ...], *, within: float) -> bool:
    """Wait until every process of ``groups`` is RUNNING; False when the time ran out."""
    deadline = time.monotonic() + within
    while True:
        procs = [p for p in await processes(ctx) if p.group in groups]
        if procs and all(p.state == "RUNNING" for p in procs):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)


#: How long a continue keeps re-sending SIGCONT to a process that stops itself again.
CONTINUE_WITHIN_S = 10.0


async def continue_until_running(ctx: ChaosContext, pid: int, *,
                                 within: float = CONTINUE_WITHIN_S) -> bool:
    """SIGCONT ``pid`` until it is seen not stopped, sending again each time it is seen stopped
    (a process at a self-stop failpoint may stop itself again at once). True when it runs or is
    gone; False when it was still stopped after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if not is_stopped(pid):
            return True
        send(pid, signal.SIGCONT, ctx)  # gone (killed meanwhile) is fine
        if time.monotonic() >= deadline:
            return not is_stopped(pid)
        await asyncio.sleep(0.005)


async def running_targets(ctx: ChaosContext) -> list[ProcessInfo]:
    """The target-service processes supervisord runs now."""
    return [p for p in await processes(ctx)
            if p.group == "target" and p.state == "RUNNING" and p.pid]


#: after the window in which a late self-stop can still happen, look this much longer
SELF_STOP_MARGIN_S = 0.25


def self_stop_watch_s(ctx: ChaosContext) -> float:
    """How long to watch for late self-stops after a disarm: the service's own
    ``self_stop_window_s`` (its clocks, read through its door) and a margin."""
    return ctx.state.clocks().self_stop_window_s + SELF_STOP_MARGIN_S


async def continue_self_stops(ctx: ChaosContext, *, for_s: float,
                              keep: frozenset[int] = frozenset()) -> list[str]:
    """For ``for_s`` seconds, continue every target process that is (or gets) stopped, except
    ``keep``'s pids; the names of those that could not be continued (none, normally). A firing of
    a self-stop failpoint taken before its disarm stops its process up to the service's
    ``self_stop_window_s`` later: watching that long after a disarm leaves none frozen."""
    deadline = time.monotonic() + for_s
    stuck: set[str] = set()
    while True:
        for proc in await running_targets(ctx):
            if proc.pid not in keep and is_stopped(proc.pid):
                if await continue_until_running(ctx, proc.pid):
                    stuck.discard(proc.name)
                else:
                    stuck.add(proc.name)
        if time.monotonic() >= deadline:
            return sorted(stuck)
        await asyncio.sleep(0.01)


def _switches(pid: int) -> int | None:
    with contextlib.suppress(psutil.Error):
        voluntary, involuntary = psutil.Process(pid).num_ctx_switches()
        return int(voluntary) + int(involuntary)
    return None


async def continue_once(ctx: ChaosContext, proc: ProcessInfo, *, within: float = 5.0) -> None:
    """SIGCONT ``proc`` and wait until it ran: it is no longer stopped, or it was scheduled
    since (it may stop itself again at once at an armed self-stop failpoint, and is then left
    so: see :func:`continue_until_running` for a continue that insists)."""
    before = _switches(proc.pid)
    send(proc.pid, signal.SIGCONT, ctx)  # gone (killed meanwhile) is fine
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        now = _switches(proc.pid)
        if now is None or now != before or not is_stopped(proc.pid):
            return
        await asyncio.sleep(0.005)
    raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) did not continue")
