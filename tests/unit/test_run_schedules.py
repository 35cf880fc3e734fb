"""A run's fault schedules are built from its scenario: the service's settings and the buyers'
own timeout reach the schedule (pure: nothing is started)."""

from __future__ import annotations

from pathlib import Path

from harness.run.loop import schedules_for
from harness.run.scenario import parse


def _delays(text: str) -> list[float]:
    scenario = parse(text, Path("scenario.toml"))
    return [float(str(e.params["seconds"])) for entries in schedules_for(scenario).values()
            for e in entries if e.fault == "explore" and e.params["action"] == "delay"]


def test_the_buyers_timeout_of_the_scenario_scales_some_delays() -> None:
    """0.55 s is below every service clock and every cut-down delay (see
    tests/chaos/test_mixed_dense.py), so delays under a second come from it alone."""
    head = 'strategy = "saga"\nfaults = "explore"\nduration = "60s"\nseed = 3\n'
    assert min(_delays(head)) >= 1.0
    short = _delays(head + '[workload]\nclient_timeout = "0.55s"\n')
    assert any(d < 1.0 for d in short), short
