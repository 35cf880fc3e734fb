"""Find and stop every process a stack left behind, even after a crashed run, and nothing else.

A process is this stack's when it carries ``HARNESS_STACK_DIR=<state folder>`` in its environment
(every process the stack starts does), or when the stack recorded it: its pid and start time, as
supervisord reported them, in ``<state>/pids.json``. The record is needed because redis-server and
postgres overwrite their environment block with their process title, so the mark alone cannot
find them. A process is never taken for ours because of its name or the port it listens on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from harness.stack.supervisor_conf import STACK_ENV

PIDS_FILE = "pids.json"


#: How far two readings of one process's start time may differ (the kernel's boot time, from
#: which psutil derives it, moves when the wall clock is set); pids are not reused that fast.
_SAME_START = 1.0


def started_at(pid: int) -> float | None:
    """The start time of ``pid`` (None when it is gone): with the pid, a process's identity."""
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).create_time()
    return None


def same_process(pid: int, started: float) -> bool:
    """True when ``pid`` is still the process that started at ``started`` (and not a zombie)."""
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        return (abs(proc.create_time() - started) < _SAME_START
                and proc.status() != psutil.STATUS_ZOMBIE)
    return False


def record_processes(state_dir: Path, pids: Iterable[int]) -> None:
    """Add ``pids`` (with their start times) to the stack's record of its processes."""
    records = _records(state_dir)
    for pid in pids:
        started = started_at(pid) if pid else None
        if started is not None:
            records[pid] = started
    live = {pid: t for pid, t in records.items() if same_process(pid, t)}
    path = state_dir / PIDS_FILE
    tmp = path.with_name(f".{PIDS_FILE}.{os.getpid()}.tmp")  # two writers never share it
    tmp.write_text(json.dumps([{"pid": p, "started": t} for p, t in sorted(live.items())]))
    tmp.replace(path)


def forget_processes(state_dir: Path) -> None:
    """Drop the record (every recorded process is gone)."""
    (state_dir / PIDS_FILE).unlink(missing_ok=True)


def _records(state_dir: Path) -> dict[int, float]:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads((state_dir / PIDS_FILE).read_text())
        return {int(r["pid"]): float(r["started"]) for r in data}
    return {}


def _recorded(state_dir: Path) -> list[psutil.Process]:
    """Recorded processes still alive: same pid and the same start time (not a recycled pid)."""
    found = []
    for pid, started in _records(state_dir).items():
        if same_process(pid, started):
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(pid))
    return found


def stack_processes(state_dir: Path) -> list[psutil.Process]:
    """Every live process of the stack at ``state_dir``: marked, or recorded."""
    mark = str(state_dir)
    found = _recorded(state_dir)
    me = psutil.Process()
    spared = {me.pid, *(p.pid for p in me.parents())}  # never the caller or its shell
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in spared:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if proc.environ().get(STACK_ENV) == mark:
                found.append(proc)
    alive = []
    for proc in {p.pid: p for p in found if p.pid not in spared}.values():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    return alive


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
        forget_processes(state_dir)
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
    forget_processes(state_dir)
    return len(procs)
