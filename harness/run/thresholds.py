"""A scenario's ``[thresholds]`` (as k6's): limits on the load that join the run's verdict.

Each key names one measure of a strategy's load and its limit; the run judges every threshold
on every strategy and reports ``{"name": "<strategy>/<key>", "limit", "value", "ok"}``. A failed
threshold fails the run (exit 1) like a violated invariant. The names (docs/load.md):

* ``p50_ms``, ``p95_ms``, ``p99_ms``: that latency percentile of every request (Locust's
  aggregated row), at most the limit, in milliseconds;
* ``error_rate``: the share of HTTP requests Locust counted as failures, at most the limit (0..1);
* ``unknown_share``: the share of finished operations whose outcome is unknown (``info`` in the
  history: no answer, or a 5xx after every retry), at most the limit (0..1);
* ``min_rps``: requests per second over the load, at least the limit;
* ``server_errors``: how many answers were the service failing on its own (a 500: the report's
  ``load.server_errors``), at most the limit (``server_errors = 0`` fails a run on any).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.contract.history import HistoryEvent
from harness.report.model import LoadStats, ThresholdResult


@dataclass(frozen=True, slots=True)
class LoadMeasures:
    """The measures thresholds are judged on, for one strategy's load."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    unknown_share: float
    min_rps: float
    server_errors: float

    @classmethod
    def of(cls, load: LoadStats, failures: int, events: Iterable[HistoryEvent]) -> LoadMeasures:
        """The measures of a load summary, Locust's failure count and the client history."""
        completions = unknown = 0
        for event in events:
            if event["type"] != "invoke":
                completions += 1
                unknown += event["type"] == "info"
        lat = load.latency_ms
        return cls(p50_ms=lat.p50, p95_ms=lat.p95, p99_ms=lat.p99,
                   error_rate=round(failures / load.requests, 6) if load.requests else 0.0,
                   unknown_share=round(unknown / completions, 6) if completions else 0.0,
                   min_rps=load.rps, server_errors=float(load.server_errors.count))


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    """One threshold name: what it measures, and whether the value must stay at most or at
    least the limit; ``share`` limits lie within 0..1."""

    name: str
    doc: str
    at_least: bool = False
    share: bool = False


#: Every threshold a scenario may set, by name (the one list; the scenario loader checks it).
THRESHOLDS: dict[str, ThresholdSpec] = {s.name: s for s in (
    ThresholdSpec("p50_ms", "median request latency (ms) at most the limit"),
    ThresholdSpec("p95_ms", "95th percentile request latency (ms) at most the limit"),
    ThresholdSpec("p99_ms", "99th percentile request latency (ms) at most the limit"),
    ThresholdSpec("error_rate", "share of requests Locust counted as failed, at most the limit",
                  share=True),
    ThresholdSpec("unknown_share",
                  "share of finished operations with an unknown outcome, at most the limit",
                  share=True),
    ThresholdSpec("min_rps", "requests per second, at least the limit", at_least=True),
    ThresholdSpec("server_errors",
                  "answers in which the service failed on its own (a 500), at most the limit"),
)}


def judge(strategy: str, limits: Mapping[str, float], measures: LoadMeasures
          ) -> list[ThresholdResult]:
    """Every threshold of ``limits`` on one strategy's measures, in ``limits``' order."""
    out = []
    for name, limit in limits.items():
        value = float(getattr(measures, name))
        ok = value >= limit if THRESHOLDS[name].at_least else value <= limit
        out.append(ThresholdResult(f"{strategy}/{name}", float(limit), value, ok))
    return out
