"""Guaranteed healing: put a running stack back to no faults, whatever left them behind.

``heal_all(state)`` builds on :meth:`harness.stack.Stack.heal` (Toxiproxy reset and re-populate,
SIGCONT to every stack process) and adds what the fault layer can leave: armed failpoints. It
needs no record of which faults were applied, so it heals after a harness that was SIGKILLed as
well as after a clean run. Guarantees on return: every contract proxy exists, is enabled and has
no toxic; no stack process is stopped; the shared failpoint table is empty. Otherwise HealError.
It also waits (boundedly) for app processes that are restarting, and reports those that are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import psutil

from chaos import failpoints
from chaos.errors import HealError
from chaos.toxiproxy import Toxiproxy, ToxiproxyError
from harness.stack import Stack, StackState
from harness.stack.cleanup import stack_processes
from harness.stack.control import Supervisor
from harness.topology import PROXY_NAMES

#: How long heal_all waits for app processes that are being restarted.
RESTART_WAIT_S = 30.0

#: How long continued processes get to finish a change in flight before the second disarm.
CONTINUE_SETTLE_S = 0.5

#: supervisord states a process does not leave by itself.
FINAL_STATES = ("FATAL", "STOPPED", "UNKNOWN")


@dataclass(slots=True)
class HealReport:
    """What heal_all found broken (and repaired)."""

    proxies_enabled: list[str] = field(default_factory=list)
    toxics_removed: list[str] = field(default_factory=list)
    processes_continued: list[int] = field(default_factory=list)
    failpoints_disarmed: list[str] = field(default_factory=list)
    not_running: list[str] = field(default_factory=list)

    @property
    def healed_anything(self) -> bool:
        return bool(self.proxies_enabled or self.toxics_removed or self.processes_continued
                    or self.failpoints_disarmed)

    def summary(self) -> str:
        parts = [
            f"{label}: {', '.join(map(str, items))}"
            for label, items in (
                ("re-enabled proxies", self.proxies_enabled),
                ("removed toxics", self.toxics_removed),
                ("continued pids", self.processes_continued),
                ("disarmed failpoints", self.failpoints_disarmed),
                ("not running", self.not_running),
            )
            if items
        ]
        return "; ".join(parts) or "nothing to heal"


def stopped_processes(state: StackState) -> list[psutil.Process]:
    """The stack's processes that are stopped by a signal (paused)."""
    found = []
    for proc in stack_processes(state.state_dir):
        with contextlib.suppress(psutil.Error):
            if proc.status() == psutil.STATUS_STOPPED:
                found.append(proc)
    return found


async def _toxiproxy_leftovers(state: StackState, report: HealReport) -> None:
    with contextlib.suppress(ToxiproxyError):
        async with Toxiproxy(state.toxiproxy_url) as tp:
            for name, proxy in (await tp.proxies()).items():
                if not proxy.enabled:
                    report.proxies_enabled.append(name)
                report.toxics_removed.extend(f"{name}/{t.name}" for t in proxy.toxics)


async def verify_healed(state: StackState) -> list[str]:
    """What is still broken: disabled or missing proxies, toxics, stopped processes."""
    problems: list[str] = []
    try:
        async with Toxiproxy(state.toxiproxy_url) as tp:
            proxies = await tp.proxies()
    except ToxiproxyError as exc:
        return [f"Toxiproxy unreachable: {exc}"]
    for name in PROXY_NAMES:
        proxy = proxies.get(name)
        if proxy is None:
            problems.append(f"proxy {name} missing")
        elif not proxy.enabled or proxy.toxics:
            problems.append(f"proxy {name} enabled={proxy.enabled} toxics={len(proxy.toxics)}")
    problems.extend(f"pid {p.pid} stopped" for p in stopped_processes(state))
    return problems


async def heal_all(state: StackState, *, restart_wait_s: float = RESTART_WAIT_S) -> HealReport:
    """Heal every fault on the stack of ``state``; HealError if something stays broken."""
    report = HealReport()
    await _toxiproxy_leftovers(state, report)
    report.processes_continued = [p.pid for p in stopped_processes(state)]
    try:
        await Stack(state.state_dir).heal(state)
    except ToxiproxyError as exc:
        raise HealError(f"could not reset Toxiproxy at {state.toxiproxy_url}: {exc}") from exc
    try:
        disarmed = set(await failpoints.disarm_all(state))
        if report.processes_continued:
            # A continued process may be inside an admin change it took before its pause (its
            # not_after check passed): let it commit, then clear what it wrote.
            await asyncio.sleep(CONTINUE_SETTLE_S)
            disarmed.update(await failpoints.disarm_all(state))
    except Exception as exc:  # failpoints may still be armed: say so
        raise HealError(f"could not disarm failpoints in {state.dsn('seats')}: {exc!r}") from exc
    report.failpoints_disarmed = sorted(disarmed)
    problems = await verify_healed(state)
    if problems:
        raise HealError("still broken after healing: " + "; ".join(problems))
    if Supervisor(state.supervisor_socket).alive():
        report.not_running = await _wait_restarting(state, within=restart_wait_s)
    return report


async def _wait_restarting(state: StackState, *, within: float) -> list[str]:
    """Wait for app processes that supervisord is (re)starting; returns those not RUNNING.

    FATAL and STOPPED are final (supervisord gave up, or someone stopped the group on purpose),
    so they end the wait at once instead of using up ``within``."""
    supervisor = Supervisor(state.supervisor_socket)
    deadline = time.monotonic() + within
    while True:
        procs = [p for p in await asyncio.to_thread(supervisor.processes)
                 if p.group in ("provider", "target")]
        waiting = [p for p in procs if p.state not in ("RUNNING", *FINAL_STATES)]
        if not waiting or time.monotonic() >= deadline:
            return [f"{p.name}={p.state}" for p in procs if p.state != "RUNNING"]
        await asyncio.sleep(0.1)
