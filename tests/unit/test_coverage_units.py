"""Pure logic of coverage and failpoint actions: the situation table, the report entry, the
vacuous third state of the matrix, and how an armed action is chosen and recorded."""

from __future__ import annotations

import asyncio

import pytest

from harness.matrix.grid import grid_summary
from harness.run.coverage import coverage_of
from target_service.coverage import SITUATIONS, situations_for
from target_service.failpoints import (
    FAILPOINT_STRATEGIES,
    FAILPOINTS,
    Arm,
    Failpoints,
    default_action,
    failpoints_of,
)
from target_service.introspection import crash_gaps
from target_service.strategies import STRATEGIES


def test_every_failpoint_names_its_strategies_and_every_crash_is_a_situation() -> None:
    assert set(FAILPOINT_STRATEGIES) == set(FAILPOINTS)
    for name in FAILPOINTS:
        if default_action(name) == "crash" and not name.startswith("provider-"):
            assert f"crash:{name}" in SITUATIONS
    assert "crash:lock-pause-before-write" not in SITUATIONS  # a self-stop, not a crash


def test_crash_gaps_are_crash_failpoints_of_their_strategy() -> None:
    # the crash lane aims where the service says a crash leaves a purchase between two stores
    for strategy in STRATEGIES:
        gaps = crash_gaps(strategy)
        assert gaps and len(set(gaps)) == len(gaps)
        assert set(gaps) <= set(failpoints_of(strategy))
        assert all(default_action(p) == "crash" for p in gaps)
    every = crash_gaps(None)
    assert every[:3] == tuple(crash_gaps(s)[0] for s in sorted(STRATEGIES))  # commit points
    assert set(every) == {p for s in STRATEGIES for p in crash_gaps(s)}
    assert len(set(every)) == len(every)


def test_each_strategy_has_its_own_situations() -> None:
    assert "lease-expired-in-critical-section" in situations_for("lock")
    assert "lease-expired-in-critical-section" not in situations_for("saga")
    assert "in-doubt-aborted-by-recovery" in situations_for("2pc")
    assert "in-doubt-aborted-by-recovery" not in situations_for("lock")
    assert "idempotent-replay" in situations_for("saga")
    assert "2pc-after-prepare" in failpoints_of("2pc")
    assert "saga-after-reserve" not in failpoints_of("2pc")


def test_coverage_of_splits_reached_from_missing_and_marks_a_vacuous_pass() -> None:
    counts = {"in-doubt-aborted-by-recovery": 2, "lease-expired-in-critical-section": 5}
    cov = coverage_of("2pc", counts, True)
    assert cov.reached == {"in-doubt-aborted-by-recovery": 2}  # the lock one is not 2pc's
    assert "in-doubt-committed-by-recovery" in cov.missing
    assert set(cov.reached) | set(cov.missing) == set(situations_for("2pc"))
    assert cov.vacuous is False
    assert coverage_of("saga", counts, True).vacuous is True
    assert coverage_of("saga", counts, False).vacuous is False  # a failure is no pass


class _Plan:
    strategies = ("saga",)
    schedules = ("none", "mixed")


def test_the_matrix_counts_a_vacuous_cell_neither_as_pass_nor_as_fail() -> None:
    def cell(schedule: str, verdict: str) -> dict[str, object]:
        return {"kind": "grid", "strategy": "saga", "schedule": schedule, "verdict": verdict,
                "broken": [], "rps": 1.0, "p99_ms": 1, "id": f"{schedule}-{verdict}"}

    grid = grid_summary([cell("none", "vacuous"), cell("mixed", "pass")], _Plan())  # type: ignore[arg-type]
    assert grid["passed"] == 1 and grid["vacuous"] == 1 and grid["runs"] == 2
    assert grid["table"]["saga"]["none"]["vacuous"] == 1
    assert grid["table"]["saga"]["none"]["passed"] == 0


def test_an_armed_action_overrides_the_default_and_is_recorded_first() -> None:
    fired: list[tuple[str, str]] = []

    async def on_fire(name: str, action: str) -> None:
        fired.append((name, action))

    async def scenario() -> float:
        fp = Failpoints(frozenset(), instance="1")
        fp.set_on_fire(on_fire)
        fp.update_shared({"2pc-after-prepare": Arm(None, "delay", 0.05, None),
                          "saga-after-reserve": Arm(None, "crash", None, "0")})
        assert "saga-after-reserve" not in fp.armed()  # aimed at instance 0, not this one
        loop = asyncio.get_running_loop()
        t = loop.time()
        await fp.hit("2pc-after-prepare")  # would crash by default; delays instead
        await fp.hit("saga-after-reserve")  # not armed here: nothing happens
        return loop.time() - t

    assert asyncio.run(scenario()) >= 0.05
    assert fired == [("2pc-after-prepare", "delay")]


@pytest.mark.parametrize(("name", "action"), [("2pc-after-prepare", "crash"),
                                              ("lock-stall-before-write", "stall"),
                                              ("lock-pause-before-write", "pause")])
def test_default_actions(name: str, action: str) -> None:
    assert default_action(name) == action
