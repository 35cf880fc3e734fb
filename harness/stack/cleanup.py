"""Find and stop every process a stack left behind, even after a crashed run.

Each process the stack starts carries ``HARNESS_STACK_DIR=<state folder>`` in its environment;
this module finds them by that mark alone, so it needs no pid file to be right.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from harness.stack.supervisor_conf import STACK_ENV

#: Executables a stack runs; a listener on one of the stack's ports with one of these names is ours.
_OUR_NAMES = frozenset({"postgres", "redis-server", "toxiproxy-server", "python", "python3"})


def _listeners(ports: Iterable[int]) -> list[psutil.Process]:
    """Processes of ours listening on ``ports`` (redis-server rewrites its environment block for
    its process title, so the environment mark alone cannot find it)."""
    wanted = set(ports)
    found = []
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in wanted:
                with contextlib.suppress(psutil.Error):
                    if conn.pid and psutil.Process(conn.pid).name().split(".")[0] in _OUR_NAMES:
                        found.append(psutil.Process(conn.pid))
    return found


def stack_processes(state_dir: Path, ports: Iterable[int] = ()) -> list[psutil.Process]:
    """Every live process of the stack at ``state_dir``: marked by environment, or one of our
    executables listening on one of its ``ports``."""
    mark = str(state_dir)
    found = _listeners(ports)
    me = psutil.Process()
    spared = {me.pid, *(p.pid for p in me.parents())}  # never the caller or its shell
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in spared:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if proc.environ().get(STACK_ENV) == mark and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return list({p.pid: p for p in found}.values())


def _is_postmaster(proc: psutil.Process) -> bool:
    """The postgres server process itself (its backends are its children)."""
    with contextlib.suppress(psutil.Error):
        parent = proc.parent()
        return proc.name() == "postgres" and (parent is None or parent.name() != "postgres")
    return False


def kill_stack_processes(state_dir: Path, ports: Iterable[int] = (), *, grace: float = 5.0) -> int:
    """Continue, then terminate (postgres: fast shutdown), then kill what is left; return count."""
    procs = stack_processes(state_dir, ports)
    if not procs:
        return 0
    for proc in procs:  # a paused process can't act on SIGTERM
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGCONT)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGINT if _is_postmaster(proc) else signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)
    deadline = time.monotonic() + grace
    while stack_processes(state_dir, ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(procs)
