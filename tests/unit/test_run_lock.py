"""One run at a time per stack: a second holder of the run lock is refused with exit 3 naming
the first, and the lock ends with its holder (an flock, so also when the holder dies)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import EXIT_STACK, StackError
from harness.stack.run_lock import exclusive_run

HOLD = """
import sys, time
from pathlib import Path
from harness.stack.run_lock import exclusive_run
with exclusive_run(Path(sys.argv[1]), "run first"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_run_on_the_same_stack_is_refused_naming_the_first(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StackError) as refused, exclusive_run(tmp_path, "run second"):
            pytest.fail("a second run got the lock")
        assert refused.value.exit_code == EXIT_STACK
        assert f"pid {holder.pid}: run first" in str(refused.value)
        assert str(tmp_path) in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    deadline = time.monotonic() + 30
    while True:  # the kernel drops a killed holder's flock when its file is closed
        try:
            with exclusive_run(tmp_path, "run third"):
                break
        except StackError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_runs_one_after_another_each_get_the_lock(tmp_path: Path) -> None:
    with exclusive_run(tmp_path, "run a"):
        pass
    with exclusive_run(tmp_path, "run b"):
        assert "run b" in (tmp_path / "run.lock").read_text()
    other = tmp_path / "other"
    with exclusive_run(tmp_path, "run c"), exclusive_run(other, "run d"):
        pass  # another stack's lock is independent
