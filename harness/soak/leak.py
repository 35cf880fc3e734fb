"""Leak and backlog detection over resource samples: pure functions, no I/O.

A series is one metric of one component over time (e.g. the RSS of ``target-0``). After a
warm-up (``warmup_frac`` of the span, at least ``warmup_min_s``) its trend is the Theil-Sen
slope (the median of the pairwise slopes, so noise and a single spike do not move it). A series
**grows** when both hold:

* the slope, projected over one hour, exceeds the rule's limit (an absolute amount, or a share
  of the series' level after warm-up, whichever is larger), and
* the median of the last third of the samples exceeds the median of the first third by at least
  the rule's ``min_delta`` (a steady climb, not a tilted flat line).

Less than ``min_span_s`` of data after warm-up gives verdict ``insufficient`` (never a failure):
a short soak cannot tell a leak from a warm-up. The series of :data:`UNJUDGED` are shown with
verdict ``not judged``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: At most this many points enter the O(n^2) slope (evenly thinned).
MAX_POINTS = 240


@dataclass(frozen=True, slots=True)
class Rule:
    """When a metric counts as growing: per-hour growth limits and a minimum rise."""

    per_hour_abs: float
    per_hour_rel: float
    min_delta: float


#: metric -> rule. RSS in MiB; counts in units.
RULES: dict[str, Rule] = {
    "rss_mb": Rule(per_hour_abs=64.0, per_hour_rel=0.25, min_delta=8.0),
    "fds": Rule(per_hour_abs=60.0, per_hour_rel=0.5, min_delta=10.0),
    "pg_conns": Rule(per_hour_abs=30.0, per_hour_rel=0.5, min_delta=5.0),
    "redis_clients": Rule(per_hour_abs=30.0, per_hour_rel=0.5, min_delta=5.0),
    "backlog": Rule(per_hour_abs=60.0, per_hour_rel=0.0, min_delta=10.0),
}
DEFAULT_RULE = Rule(per_hour_abs=60.0, per_hour_rel=0.5, min_delta=10.0)

#: (metric, component) series shown but never judged. PostgreSQL's memory and open files grow
#: with what it caches (shared buffers touched by each backend are counted in every backend's
#: RSS; each backend keeps the relation files it read open) up to limits its configuration
#: sets: a 20-minute soak saw +560 MiB and +300 fds of it with flat connections. A leak toward
#: Postgres is a connection leak, and ``pg_conns`` is judged.
UNJUDGED: frozenset[tuple[str, str]] = frozenset({("rss_mb", "postgres"), ("fds", "postgres")})


@dataclass(frozen=True, slots=True)
class Trend:
    """The verdict on one series: ``ok``, ``growing`` or ``insufficient``, with its evidence."""

    metric: str
    component: str
    verdict: str
    slope_per_h: float
    limit_per_h: float
    first_median: float
    last_median: float
    points: int
    span_s: float

    @property
    def failed(self) -> bool:
        return self.verdict == "growing"

    def to_json(self) -> dict[str, object]:
        return {"metric": self.metric, "component": self.component, "verdict": self.verdict,
                "slope_per_h": round(self.slope_per_h, 3),
                "limit_per_h": round(self.limit_per_h, 3),
                "first_median": round(self.first_median, 3),
                "last_median": round(self.last_median, 3), "points": self.points,
                "span_s": round(self.span_s, 1)}


def theil_sen(points: Sequence[tuple[float, float]]) -> float:
    """The median of pairwise slopes (units per second); 0.0 for fewer than 2 distinct x."""
    pts = _thin(points)
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(pts)
              for x2, y2 in pts[i + 1:] if x2 != x1]
    return statistics.median(slopes) if slopes else 0.0


def _thin(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return list(points)
    step = len(points) / MAX_POINTS
    return [points[int(i * step)] for i in range(MAX_POINTS)]


def trend(metric: str, component: str, points: Sequence[tuple[float, float]], *,
          warmup_frac: float = 0.2, warmup_min_s: float = 30.0, min_span_s: float = 120.0,
          rule: Rule | None = None) -> Trend:
    """The verdict on one series of (seconds, value) points (see the module doc)."""
    rule = rule or RULES.get(metric, DEFAULT_RULE)
    pts = sorted(points)
    if not pts:
        return Trend(metric, component, "insufficient", 0.0, 0.0, 0.0, 0.0, 0, 0.0)
    t_start, t_end = pts[0][0], pts[-1][0]
    cut = t_start + max(warmup_min_s, warmup_frac * (t_end - t_start))
    kept = [p for p in pts if p[0] >= cut]
    span = kept[-1][0] - kept[0][0] if kept else 0.0
    if len(kept) < 6 or span < min_span_s:
        level = statistics.median(v for _, v in kept) if kept else 0.0
        return Trend(metric, component, "insufficient", 0.0, 0.0, level, level, len(kept), span)
    slope_h = theil_sen(kept) * 3600.0
    third = max(1, len(kept) // 3)
    first = statistics.median(v for _, v in kept[:third])
    last = statistics.median(v for _, v in kept[-third:])
    limit = max(rule.per_hour_abs, rule.per_hour_rel * abs(first))
    growing = slope_h > limit and last - first >= rule.min_delta
    verdict = ("not judged" if (metric, component) in UNJUDGED
               else "growing" if growing else "ok")
    return Trend(metric, component, verdict, slope_h, limit, first, last, len(kept), span)


def trends(series: dict[tuple[str, str], list[tuple[float, float]]], *,
           warmup_frac: float = 0.2, warmup_min_s: float = 30.0, min_span_s: float = 120.0
           ) -> list[Trend]:
    """:func:`trend` of every (metric, component) series, in sorted order."""
    return [trend(metric, comp, pts, warmup_frac=warmup_frac, warmup_min_s=warmup_min_s,
                  min_span_s=min_span_s)
            for (metric, comp), pts in sorted(series.items())]
