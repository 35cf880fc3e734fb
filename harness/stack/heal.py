"""The one heal: put a running stack back to no faults, whatever left them behind.

``heal_all(state)`` needs no record of which faults were applied, so it heals after a harness
that was SIGKILLed as well as after a clean run; the stack (``up``, tests), the fault runner,
``harness chaos heal`` and the run loop all call it. Guarantees on return: every contract proxy
exists, is enabled and has no toxic; no stack process is stopped (each is continued until it
runs, also one that stops itself again at a self-stop failpoint); the service's failpoint table
is empty (through its introspection door). Otherwise :class:`HealError` saying what is left. It
also waits (boundedly) for app processes that are restarting, and reports those that are not.
When Toxiproxy cannot be reset (its API times out or answers an error, even after the client's
patience: Toxiproxy 2.12.0 can wedge a proxy for good), the heal restarts the stack's own
Toxiproxy through its supervisord and loads the proxies again (``toxiproxy_restart``); when that
fails too, HealError tells the user to run `harness down` then `harness up`.
It sits in the stack layer, below the fault layer: it knows processes, Toxiproxy and the door,
no fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil

from harness.errors import HealError, StackError
from harness.stack.cleanup import stack_processes
from harness.stack.control import Supervisor
from harness.stack.state import HOST, StackState
from harness.stack.toxiproxy import PATIENCE_S, TIMEOUT_S, Toxiproxy, ToxiproxyError
from harness.stack.toxiproxy_restart import restart_toxiproxy
from harness.topology import PROXIES, PROXY_NAMES
from target_service import introspection

#: How long heal_all waits for app processes that are being restarted.
RESTART_WAIT_S = 30.0
#: How long a stopped process gets SIGCONT again and again until it is seen running.
CONTINUE_WITHIN_S = 10.0
#: supervisord states a process does not leave by itself.
FINAL_STATES = ("FATAL", "STOPPED", "UNKNOWN")
#: How long the Toxiproxy reset waits before heal_all restarts Toxiproxy: each call's timeout,
#: then the longer ones the reset is tried again with (a stall can pass: ``PATIENCE_S``).
TOXIPROXY_WAITS_S = (TIMEOUT_S, *PATIENCE_S)

#: restarts the stack's Toxiproxy with the given ``/populate`` body (``restart_toxiproxy``)
Restart = Callable[[StackState, Sequence[Mapping[str, Any]]], Awaitable[object]]


def proxy_config(state: StackState) -> list[dict[str, Any]]:
    """Toxiproxy ``/populate`` body: every contract proxy, enabled, listening on 127.0.0.1."""
    return [
        {
            "name": spec.name,
            "listen": f"{HOST}:{state.ports[spec.listen_key]}",
            "upstream": f"{HOST}:{state.ports[spec.upstream_key]}",
            "enabled": True,
        }
        for spec in PROXIES
    ]


@dataclass(slots=True)
class HealReport:
    """What heal_all found broken (and repaired)."""

    proxies_enabled: list[str] = field(default_factory=list)
    toxics_removed: list[str] = field(default_factory=list)
    processes_continued: list[int] = field(default_factory=list)
    failpoints_disarmed: list[str] = field(default_factory=list)
    not_running: list[str] = field(default_factory=list)
    #: why heal_all restarted Toxiproxy (the reset's error); None when the reset did it
    toxiproxy_restarted: str | None = None

    @property
    def healed_anything(self) -> bool:
        return bool(self.proxies_enabled or self.toxics_removed or self.processes_continued
                    or self.failpoints_disarmed or self.toxiproxy_restarted)

    def summary(self) -> str:
        parts = [
            f"{label}: {', '.join(map(str, items))}"
            for label, items in (
                ("restarted Toxiproxy, its reset failed",
                 [self.toxiproxy_restarted] if self.toxiproxy_restarted else []),
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
    for proc in stack_processes(state.state_dir):  # marked as this stack's: never a stranger
        with contextlib.suppress(psutil.Error):
            if proc.status() == psutil.STATUS_STOPPED:
                found.append(proc)
    return found


async def continue_stopped(state: StackState, *, within: float = CONTINUE_WITHIN_S) -> list[int]:
    """SIGCONT every stopped process of the stack until none is seen stopped (a process at an
    armed self-stop failpoint stops itself again: it gets SIGCONT again); the pids continued."""
    continued: set[int] = set()
    deadline = time.monotonic() + within
    while True:
        stopped = stopped_processes(state)
        if not stopped or time.monotonic() >= deadline:
            return sorted(continued)
        for proc in stopped:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)
                continued.add(proc.pid)
        await asyncio.sleep(0.005)


async def _toxiproxy_leftovers(state: StackState, report: HealReport, *, wait_s: float) -> None:
    with contextlib.suppress(ToxiproxyError):  # a wedged Toxiproxy is restarted below
        async with Toxiproxy(state.toxiproxy_url, timeout=wait_s) as tp:
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


async def reset_toxiproxy(url: str, proxies: Sequence[Mapping[str, Any]], *,
                          waits_s: tuple[float, ...] = TOXIPROXY_WAITS_S,
                          transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Remove every toxic, enable every proxy and restore their config (the reset is tried
    again with the longer timeouts of ``waits_s`` while Toxiproxy does not answer)."""
    async with Toxiproxy(url, timeout=waits_s[0], patience=waits_s[1:],
                         transport=transport) as toxiproxy:
        await toxiproxy.reset()
        await toxiproxy.populate(proxies)


async def reset_or_restart_toxiproxy(
    state: StackState, *, waits_s: tuple[float, ...] = TOXIPROXY_WAITS_S,
    restart: Restart = restart_toxiproxy, transport: httpx.AsyncBaseTransport | None = None,
) -> str | None:
    """Reset Toxiproxy (:func:`reset_toxiproxy`); when that fails, restart it with the proxies
    loaded again. Returns None when the reset did it, else why it restarted (the reset's
    error); HealError, with the way out, when the restart fails too."""
    proxies = proxy_config(state)
    try:
        await reset_toxiproxy(state.toxiproxy_url, proxies, waits_s=waits_s,
                              transport=transport)
        return None
    except ToxiproxyError as exc:
        reset_error = exc
    try:
        await restart(state, proxies)
    except (StackError, ToxiproxyError) as exc:
        raise HealError(
            f"could not reset Toxiproxy at {state.toxiproxy_url} ({reset_error}), nor restart "
            f"it ({exc}): run `harness down` then `harness up`"
        ) from exc
    return str(reset_error)


async def heal_all(
    state: StackState, *, restart_wait_s: float = RESTART_WAIT_S,
    toxiproxy_waits_s: tuple[float, ...] = TOXIPROXY_WAITS_S,
) -> HealReport:
    """Heal every fault on the stack of ``state`` (see the module doc); HealError if
    something stays broken. ``toxiproxy_waits_s``: how long the reset waits for Toxiproxy
    before restarting it (:data:`TOXIPROXY_WAITS_S`)."""
    report = HealReport()
    await _toxiproxy_leftovers(state, report, wait_s=toxiproxy_waits_s[0])
    # the failpoints first: then no process can take a new self-stop firing, and one taken
    # before stops its process within the service's self-stop window, watched for below
    disarm_error: Exception | None = None
    try:
        disarmed = set(await introspection.disarm_all_failpoints(state.stores()))
    except Exception as exc:  # the continues and the proxies are healed all the same
        disarm_error, disarmed = exc, set()
    window = state.clocks().self_stop_window_s
    continued = set(await continue_stopped(state))
    try:
        report.toxiproxy_restarted = await reset_or_restart_toxiproxy(
            state, waits_s=toxiproxy_waits_s)
    finally:
        if continued:
            # a continued process may be inside an admin change it took before its pause (its
            # not_after check passed), or take a self-stop firing taken before the disarm: let
            # it act, then clear the table and continue again
            await asyncio.sleep(window + 0.1)
            with contextlib.suppress(Exception):
                disarmed.update(await introspection.disarm_all_failpoints(state.stores()))
            continued.update(await continue_stopped(state))
    report.processes_continued = sorted(continued)
    if disarm_error is not None:
        raise HealError(f"could not disarm failpoints in {state.dsn('seats')}: "
                        f"{disarm_error!r}") from disarm_error
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
