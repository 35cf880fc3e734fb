"""Shards: the I-th of N deterministic shares of a matrix plan's cells (pure).

Guarantees: the N shares of a plan are disjoint and together are exactly the plan's cells; the
assignment depends only on the plan (every runner computes the same shares without talking to
the others); shares are balanced by each cell's expected cost (longest first, each to the
least loaded share, ties to the lower share and the earlier cell). A shard runs its cells in
plan order. :func:`plan_id` names the plan, so ``harness matrix merge`` can refuse shards of
different plans.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from harness.errors import UsageError
from harness.matrix.plan import Cell, MatrixPlan

#: Expected time of a cell beyond its load: data reset, settling, the checks.
CELL_OVERHEAD_S = 25.0
#: ... and of a bug cell, beyond that: the service restart with the bug, mid-run checks.
BUG_CELL_EXTRA_S = 10.0


@dataclass(frozen=True, slots=True)
class Shard:
    """Share ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def cells(self, plan: MatrixPlan) -> list[Cell]:
        """This share's cells, in plan order."""
        return [c for c, share in zip(plan.cells(), assign(plan, self.count), strict=True)
                if share == self.index]

    def to_json(self, plan: MatrixPlan) -> dict[str, Any]:
        return {"index": self.index, "count": self.count, "plan": plan_id(plan),
                "cells": [c.id for c in self.cells(plan)]}


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N; a UsageError naming ``--shard`` otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise UsageError(f"--shard: expected I/N, e.g. 1/4 (got {text!r})")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard: I must be within 1..N (got {text!r})")
    return Shard(index, count)


def expected_cost(cell: Cell, plan: MatrixPlan) -> float:
    return plan.duration_s + CELL_OVERHEAD_S + (BUG_CELL_EXTRA_S if cell.bug else 0.0)


def assign(plan: MatrixPlan, count: int) -> list[int]:
    """For each cell of ``plan.cells()``, the 1-based share it belongs to."""
    cells = plan.cells()
    order = sorted(range(len(cells)), key=lambda i: (-expected_cost(cells[i], plan), i))
    load = [0.0] * count
    share = [0] * len(cells)
    for i in order:
        target = min(range(count), key=lambda s: (load[s], s))
        load[target] += expected_cost(cells[i], plan)
        share[i] = target + 1
    return share


def plan_id(plan: MatrixPlan) -> str:
    """A short digest of the plan's settings: equal for every shard of one plan."""
    text = json.dumps(plan.settings(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
