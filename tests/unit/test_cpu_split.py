"""benchmarks/cpu_split.py: CPU per process tree from the kernel's accounting (real processes).

Every burn is measured in CPU time of the burning process itself (``time.process_time``), never
in wall time, so a slow or shared machine only makes the tests take longer.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import cpu_split

BURN_S = 0.3
#: /proc accounts in clock ticks (10 ms); a tree of two processes can lose one tick each
TICKS = 0.03


def _burn_code(seconds: float) -> str:
    return (f"import time\nend = time.process_time() + {seconds}\n"
            "while time.process_time() < end: pass\n")


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def _parent(grandchild: str, *, reap: bool) -> subprocess.Popen[str]:
    """A child that runs ``grandchild`` (python code printing a line when it has burnt) as its
    own child, reaps it if ``reap``, prints "ran", then waits for a line on stdin."""
    code = textwrap.dedent(f"""
        import subprocess, sys
        g = subprocess.Popen([sys.executable, "-c", {grandchild!r}], stdout=subprocess.PIPE,
                             text=True)
        g.stdout.readline()
        if {reap!r}:
            g.wait()
        print("ran", flush=True)
        sys.stdin.readline()
        g.kill()
        g.wait()
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("grandchild_lives", [True, False])
def test_a_tree_counts_its_grandchild_alive_or_reaped(grandchild_lives: bool) -> None:
    tail = ("print('burnt', flush=True)\nimport sys\nsys.stdin.readline()\n" if grandchild_lives
            else "print('burnt', flush=True)\n")
    with _parent(_burn_code(BURN_S) + tail, reap=not grandchild_lives) as proc:
        try:
            before = cpu_split.tree_cpu(proc.pid)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ran"
            after = cpu_split.tree_cpu(proc.pid)
            assert after - before >= BURN_S - TICKS
        finally:
            proc.kill()


def test_this_process_is_split_into_the_client_and_its_reaped_children() -> None:
    before = cpu_split.snapshot({})
    subprocess.run([sys.executable, "-c", _burn_code(BURN_S)], check=True)
    mid = cpu_split.snapshot({})
    _burn(BURN_S)
    after = cpu_split.snapshot({})
    assert mid[cpu_split.CHILDREN] - before[cpu_split.CHILDREN] >= BURN_S - TICKS
    assert after[cpu_split.CLIENT] - mid[cpu_split.CLIENT] >= BURN_S - TICKS
    assert after[cpu_split.CHILDREN] == mid[cpu_split.CHILDREN]  # no child ran meanwhile


def test_a_gone_process_counts_nothing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert cpu_split.tree_cpu(proc.pid) == 0.0


def test_between_per_purchase_and_busy_share() -> None:
    split = cpu_split.between({"postgres": 10.0, "target": 4.0},
                              {"postgres": 13.0, "target": 5.0, "toxiproxy": 1.0},
                              elapsed_s=2.5, units=500)
    assert split.cpu_s == {"postgres": 3.0, "target": 1.0, "toxiproxy": 1.0}
    assert split.per_unit_ms() == {"postgres": 6.0, "target": 2.0, "toxiproxy": 2.0}
    assert split.busy(cores=2) == pytest.approx(1.0)
    assert split.busy(cores=4) == pytest.approx(0.5)
    assert cpu_split.between({}, {}, elapsed_s=1.0, units=0).per_unit_ms() == {}
