"""Find and stop every process a stack left behind, even after a crashed run.

Each process the stack starts carries ``HARNESS_STACK_DIR=<state folder>`` in its environment;
this module finds them by that mark alone, so it needs no pid file to be right.
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import psutil

from harness.stack.supervisor_conf import STACK_ENV


def stack_processes(state_dir: Path) -> list[psutil.Process]:
    """Every live process marked as belonging to the stack at ``state_dir``."""
    mark = str(state_dir)
    found = []
    me = psutil.Process()
    spared = {me.pid, *(p.pid for p in me.parents())}  # never the caller or its shell
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in spared:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if proc.environ().get(STACK_ENV) == mark and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def _is_postmaster(proc: psutil.Process) -> bool:
    """The postgres server process itself (its backends are its children)."""
    with contextlib.suppress(psutil.Error):
        parent = proc.parent()
        return proc.name() == "postgres" and (parent is None or parent.name() != "postgres")
    return False


def kill_stack_processes(state_dir: Path, *, grace: float = 5.0) -> int:
    """Continue, then terminate (postgres: fast shutdown), then kill what is left; return count."""
    procs = stack_processes(state_dir)
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
    while stack_processes(state_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(procs)
