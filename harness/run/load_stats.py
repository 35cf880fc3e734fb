"""What the load did: Locust's CSV statistics and the business outcomes in the client history.

Pure file reading. ``load_summary`` gives the report's ``load`` entry (docs/contract.md 7.2):
requests, requests/s and latency percentiles from Locust's aggregated row, and the outcomes
counted from the history's completions:

* ``sold``: a ``finalize`` that ended ``ok``;
* ``conflict``: a completion that ended ``fail`` with ``SEAT_UNAVAILABLE`` (a seat lost to a rival);
* ``payment_failed``: a completion that ended ``fail`` with ``PAYMENT_FAILED`` (a declined card);
* ``unknown``: a completion that ended ``info`` (no answer, or a server error).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.history import HistoryEvent
from harness.report.model import OUTCOME_NAMES, Latency, LoadStats, Outcomes

OUTCOMES = OUTCOME_NAMES  # the report model's list of outcome names


@dataclass(frozen=True, slots=True)
class RequestStats:
    """One row of Locust's ``*_stats.csv``."""

    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


def _num(row: dict[str, str], key: str) -> float:
    try:
        return float(row.get(key) or 0)
    except ValueError:
        return 0.0  # Locust writes "N/A" for percentiles without data


def read_stats(path: Path) -> dict[str, RequestStats]:
    """Rows of a Locust ``*_stats.csv`` by name (the total row is ``Aggregated``)."""
    rows: dict[str, RequestStats] = {}
    if not path.exists():
        return rows
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows[row["Name"]] = RequestStats(
                name=row["Name"],
                requests=int(_num(row, "Request Count")),
                failures=int(_num(row, "Failure Count")),
                rps=_num(row, "Requests/s"),
                p50=_num(row, "50%"), p95=_num(row, "95%"), p99=_num(row, "99%"),
            )
    return rows


def outcome_of(event: HistoryEvent) -> str | None:
    """The business outcome a completion stands for, or None (an invoke, or not counted)."""
    kind = event["type"]
    if kind == "info":
        return "unknown"
    if kind == "ok":
        return "sold" if event["op"] == "finalize" else None
    if kind == "fail":
        body = event.get("body")
        code = body.get("code") if isinstance(body, dict) else None
        if code == "SEAT_UNAVAILABLE":
            return "conflict"
        if code == "PAYMENT_FAILED":
            return "payment_failed"
    return None


def count_outcomes(events: Iterable[HistoryEvent]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for event in events:
        outcome = outcome_of(event)
        if outcome is not None:
            counts[outcome] += 1
    return counts


def load_summary(total: RequestStats | None, events: Iterable[HistoryEvent]) -> LoadStats:
    """The report's ``load`` entry for one strategy, from Locust's ``Aggregated`` row."""
    outcomes = Outcomes(**count_outcomes(events))
    if total is None:
        return LoadStats(outcomes=outcomes)
    return LoadStats(requests=total.requests, rps=round(total.rps, 3),
                     latency_ms=Latency(total.p50, total.p95, total.p99), outcomes=outcomes)


def last_history_row(path: Path) -> dict[str, str] | None:
    """The newest row of a Locust ``*_stats_history.csv`` (for the progress line)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            tail = fh.read().decode("utf-8", "replace").splitlines()
            fh.seek(0)
            header = fh.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not header or len(tail) < 2:
        return None
    values = next(csv.reader([tail[-1]]))
    keys = next(csv.reader([header]))
    if values == keys:
        return None
    return dict(zip(keys, values, strict=False))
