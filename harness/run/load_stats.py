"""What the load did: Locust's CSV statistics and the business outcomes in the client history.

Pure file reading. ``load_summary`` gives the report's ``load`` entry (docs/contract.md 7.2):
requests, requests/s and latency percentiles from Locust's aggregated row, and the outcomes
and server errors counted from the history's completions (:mod:`harness.contract.outcomes`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.contract.history import HistoryEvent
from harness.contract.outcomes import count_outcomes, server_errors
from harness.report.model import Latency, LoadStats, Outcomes, ServerErrors


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


def load_summary(total: RequestStats | None, events: Iterable[HistoryEvent]) -> LoadStats:
    """The report's ``load`` entry for one strategy, from Locust's ``Aggregated`` row and
    the history (outcomes, server errors)."""
    events = list(events)
    outcomes = Outcomes(**count_outcomes(events))
    count, examples = server_errors(events)
    errors = ServerErrors(count, tuple(examples))
    if total is None:
        return LoadStats(outcomes=outcomes, server_errors=errors)
    return LoadStats(requests=total.requests, rps=round(total.rps, 3),
                     latency_ms=Latency(total.p50, total.p95, total.p99), outcomes=outcomes,
                     server_errors=errors)


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
