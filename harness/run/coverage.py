"""A strategy's coverage entry in report.json (docs/contract.md section 7): which of its
dangerous situations the run reached, which it missed, and whether a pass is vacuous.

The situation names and counts come from the service (``target_service.introspection``); this
module only judges them. A pass that reached none of its strategy's situations tested nothing
that can go wrong, so it is ``vacuous`` (the matrix does not count it as a pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_service.introspection import coverage_situations


def coverage_of(strategy: str, counts: Mapping[str, int], verdict: str) -> dict[str, Any]:
    """``{"reached": {situation: count}, "missing": [...], "vacuous": bool}`` for one
    strategy's run; ``verdict`` is that strategy's own (``pass`` when its invariants hold)."""
    names = coverage_situations(strategy)
    reached = {n: int(counts[n]) for n in names if counts.get(n, 0) > 0}
    missing = [n for n in names if n not in reached]
    return {"reached": reached, "missing": missing,
            "vacuous": verdict == "pass" and not reached}


def strategy_verdict(invariants: list[dict[str, Any]]) -> str:
    """``pass`` when every invariant of one strategy's entry holds, else ``fail``."""
    return "pass" if all(inv["ok"] for inv in invariants) else "fail"
