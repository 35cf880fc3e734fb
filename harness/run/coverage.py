"""A strategy's coverage in the report (docs/contract.md section 7.3): which of its dangerous
situations the run reached, which it missed, and whether a pass is vacuous.

The situation names and counts come from the service (``target_service.introspection``); this
module only judges them. A pass that reached none of its strategy's situations tested nothing
that can go wrong, so it is ``vacuous`` (the matrix does not count it as a pass).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.report.model import Coverage
from target_service.introspection import coverage_situations


def coverage_of(strategy: str, counts: Mapping[str, int], passed: bool) -> Coverage:
    """The coverage of one strategy's run; ``passed``: that strategy's invariants all hold."""
    names = coverage_situations(strategy)
    reached = {n: int(counts[n]) for n in names if counts.get(n, 0) > 0}
    missing = tuple(n for n in names if n not in reached)
    return Coverage(reached=reached, missing=missing, vacuous=passed and not reached)
