"""Throughput and latency over time, from Locust's ``<strategy>_stats_history.csv``.

Times are seconds since the strategy's load started (``t0``): taken from ``faults.jsonl``
(each line has ``t``, seconds since t0, and ``wall``, unix time) so the fault windows line up
with the load exactly; without fault lines, the first CSV row is t0.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Point:
    """One second of the aggregated load."""

    t: float
    rps: float
    failures_per_s: float
    p50: float | None
    p95: float | None
    p99: float | None
    users: int


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def load_t0(run_dir: Path, strategy: str) -> float | None:
    """Unix time the strategy's load started, from ``faults.jsonl`` (None when unknown)."""
    path = run_dir / "faults.jsonl"
    if not path.exists():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("strategy") == strategy:
            t, wall = _number(str(entry.get("t"))), _number(str(entry.get("wall")))
            if t is not None and wall is not None:
                return wall - t
    return None


def read_points(run_dir: Path, strategy: str) -> list[Point]:
    """The aggregated rows of the strategy's stats history (empty when there is none)."""
    path = run_dir / f"{strategy}_stats_history.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("Name") == "Aggregated"]
    stamps = [_number(r.get("Timestamp")) for r in rows]
    t0 = load_t0(run_dir, strategy)
    known = [s for s in stamps if s is not None]
    if t0 is None and known:
        t0 = min(known)
    points = []
    for row, stamp in zip(rows, stamps, strict=True):
        if stamp is None or t0 is None:
            continue
        points.append(Point(
            t=stamp - t0,
            rps=_number(row.get("Requests/s")) or 0.0,
            failures_per_s=_number(row.get("Failures/s")) or 0.0,
            p50=_number(row.get("50%")), p95=_number(row.get("95%")), p99=_number(row.get("99%")),
            users=int(_number(row.get("User Count")) or 0),
        ))
    return points
