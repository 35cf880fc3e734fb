"""The leak detector as pure logic: flat passes, linear growth fails, noise and spikes pass."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness.soak import leak


def _series(f: Callable[[float], float], *, seconds: float = 1800, every: float = 10
            ) -> list[tuple[float, float]]:
    return [(t * every, float(f(t * every))) for t in range(int(seconds / every))]


def test_a_flat_series_passes() -> None:
    result = leak.trend("rss_mb", "target-0", _series(lambda t: 120.0))
    assert result.verdict == "ok"
    assert result.slope_per_h == 0.0


def test_linear_growth_fails_with_its_evidence() -> None:
    # 0.05 MiB/s = 180 MiB/h on a 120 MiB process: a leak
    result = leak.trend("rss_mb", "target-0", _series(lambda t: 120.0 + 0.05 * t))
    assert result.failed
    assert 170 < result.slope_per_h < 190
    assert result.last_median > result.first_median + 40


def test_noisy_flat_with_spikes_passes() -> None:
    rng = random.Random(7)
    points = _series(lambda t: 120.0 + rng.gauss(0, 8) + (60 if rng.random() < 0.02 else 0))
    assert leak.trend("rss_mb", "target-0", points).verdict == "ok"


def test_slow_growth_under_the_limit_passes() -> None:
    # 20 MiB/h on a 120 MiB process: below both the absolute and relative limits
    result = leak.trend("rss_mb", "target-0", _series(lambda t: 120.0 + t * 20 / 3600))
    assert result.verdict == "ok"


def test_a_growing_backlog_fails() -> None:
    result = leak.trend("backlog", "sagas", _series(lambda t: t / 20.0))  # 180 per hour
    assert result.failed


def test_warmup_growth_is_ignored() -> None:
    # climbs during the first 5 minutes, then flat
    result = leak.trend("rss_mb", "provider", _series(lambda t: 80.0 + min(t, 300) * 0.2))
    assert result.verdict == "ok"


def test_a_short_soak_is_insufficient_never_failed() -> None:
    result = leak.trend("rss_mb", "target-0", _series(lambda t: 120.0 + t, seconds=60, every=2))
    assert result.verdict == "insufficient"
    assert not result.failed


def test_trends_cover_every_series() -> None:
    series = {("rss_mb", "a"): _series(lambda t: 100.0), ("fds", "a"): _series(lambda t: float(t))}
    verdicts = {(t.metric, t.component): t.verdict for t in leak.trends(series)}
    assert verdicts == {("rss_mb", "a"): "ok", ("fds", "a"): "growing"}


def test_postgres_memory_and_files_are_shown_not_judged() -> None:
    climbing = _series(lambda t: 1000 + t / 2)  # a cache filling up
    for metric in ("rss_mb", "fds"):
        shown = leak.trend(metric, "postgres", climbing)
        assert (shown.verdict, shown.failed) == ("not judged", False)
        assert shown.slope_per_h > shown.limit_per_h  # the evidence is still computed
        assert leak.trend(metric, "target-0", climbing).verdict == "growing"
    assert leak.trend("pg_conns", "seats", _series(lambda t: 10 + t / 20)).verdict == "growing"
