"""CPU seconds spent by each part of a benchmark, measured from the kernel's process accounting.

A *part* is a process tree (a supervised stack process with its children, e.g. the postmaster
with every backend). Its CPU is the user + system time of every live process in the tree plus
the time of the children it has reaped (``children_user``/``children_system``), so a backend
that starts and exits between two snapshots still counts; nothing is counted twice, because a
live process's children times hold only dead children. The benchmark's own process is split in
two parts: its own time (the load client) and its reaped children (``pgbench``).

Why it exists: on a small machine every part shares the same cores, so a throughput ratio of
two runs is bounded by the ratio of their CPU costs per purchase; this module measures them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

#: the part names of the benchmark process itself
CLIENT = "client"
CHILDREN = "pgbench"


def _own(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _reaped(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.children_user + t.children_system)


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s tree so far (live processes plus reaped children); 0 if gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += _own(proc) + _reaped(proc)
    return total


def snapshot(parts: Mapping[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each named part (the sum over its root pids), plus this process
    as :data:`CLIENT` (its own time) and :data:`CHILDREN` (its reaped children)."""
    out = {name: sum(tree_cpu(pid) for pid in pids) for name, pids in parts.items()}
    me = psutil.Process(os.getpid())
    out[CLIENT] = _own(me)
    out[CHILDREN] = _reaped(me)
    return out


@dataclass(frozen=True, slots=True)
class Split:
    """CPU seconds per part over ``elapsed_s`` seconds of wall time that did ``units`` of work
    (e.g. purchases)."""

    cpu_s: dict[str, float]
    elapsed_s: float
    units: float

    @property
    def total_s(self) -> float:
        return sum(self.cpu_s.values())

    def busy(self, cores: int | None = None) -> float:
        """The share of the machine's cores these parts kept busy (0..1)."""
        n = cores or os.cpu_count() or 1
        return self.total_s / (self.elapsed_s * n) if self.elapsed_s > 0 else 0.0

    def per_unit_ms(self) -> dict[str, float]:
        """Milliseconds of CPU per unit of work, by part ({} when no work was done)."""
        return ({k: v * 1000 / self.units for k, v in self.cpu_s.items()}
                if self.units > 0 else {})


def between(before: Mapping[str, float], after: Mapping[str, float], *, elapsed_s: float,
            units: float) -> Split:
    """The CPU spent between two :func:`snapshot` results (a part missing from one is 0)."""
    names = list(dict.fromkeys([*before, *after]))
    return Split({n: max(0.0, after.get(n, 0.0) - before.get(n, 0.0)) for n in names},
                 elapsed_s, units)
