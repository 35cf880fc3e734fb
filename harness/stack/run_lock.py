"""One run at a time on a stack: two runs on one stack reset each other's data mid-run and
check each other's orders, so the second is refused (docs/contract.md section 9).

The lock is an ``flock`` on ``<state>/run.lock`` held for the whole run, so it ends with the
process however it dies; the file names its holder for the refusal's message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import StackError

LOCK_NAME = "run.lock"


@contextmanager
def exclusive_run(state_dir: Path, what: str) -> Iterator[None]:
    """Hold the stack's run lock while the block runs; :class:`StackError` (exit 3) naming
    the holder when another process holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise StackError(
                f"the stack in {state_dir} is busy with another run ({holder}); wait for it "
                "to end, or give this one its own stack with --state-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {what}, since "
                      f"{time.strftime('%H:%M:%S')}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
