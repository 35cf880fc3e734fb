"""The shrink search's pure logic (harness/replay/shrink.py) with a fake runner: candidate
order, the M-of-K acceptance rule, early decisions, no candidate run twice, the budget."""

from __future__ import annotations

import itertools

import pytest

from chaos.schedule_types import ScheduledFault
from harness.replay import shrink
from harness.replay.shrink import Budget, Candidate, Outcome, decide, search


def fault(label: str, start: float, length: float, target: str = "redis") -> ScheduledFault:
    return ScheduledFault(start, length, "partition", target, {}, label)


ORIGINAL = Candidate(
    faults=(fault("a", 9, 6, "redis"), fault("b", 18, 6, "payments_api"),
            fault("c", 27, 6, "seats_pg"), fault("d", 36, 6, "target_api")),
    duration_s=60.0, users=20)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_search(failing: object, *, tries: int = 3, need: int = 2, budget_s: float = 1e9,
               original: Candidate = ORIGINAL
               ) -> tuple[Candidate, list[Outcome], list[tuple[Candidate, int, int]]]:
    """``failing(candidate, rerun) -> bool``; each re-run costs its load + 10 s of fake time."""
    clock = FakeClock()
    calls: list[tuple[Candidate, int, int]] = []
    outcomes: list[Outcome] = []

    def attempt(candidate: Candidate, number: int, rerun: int) -> bool:
        calls.append((candidate, number, rerun))
        clock.now += candidate.duration_s + 10
        return bool(failing(candidate, rerun))  # type: ignore[operator]

    best = search(original, attempt, tries=tries, need=need,
                  budget=Budget(budget_s, clock), report=outcomes.append)
    return best, outcomes, calls


@pytest.mark.parametrize("fails,runs,expected", [
    (0, 0, None), (1, 1, None), (2, 2, True), (0, 1, None), (0, 2, False), (1, 2, None),
    (2, 3, True), (1, 3, False),
])
def test_two_of_three_is_decided_as_soon_as_it_can_be(fails: int, runs: int,
                                                      expected: bool | None) -> None:
    assert decide(fails, runs, tries=3, need=2) is expected


def test_the_first_candidates_drop_faults_before_the_load_shrinks() -> None:
    _, outcomes, _ = run_search(lambda c, r: False)
    steps = [o.candidate.step for o in outcomes]
    # the load after the last window (ends at 42 s) goes first: every later re-run is cheaper
    assert steps[:2] == ["drop all faults", "trim the load to 44s"]
    # then halves of the timeline, the latest half first, then single faults, latest first
    assert steps[2:4] == ["drop faults (c, d)", "drop faults (a, b)"]
    assert steps[4:8] == ["drop faults (d)", "drop faults (c)", "drop faults (b)",
                          "drop faults (a)"]
    first_load = next(i for i, s in enumerate(steps) if s.startswith("load "))
    assert all(not s.startswith(("load ", "10 users")) for s in steps[:first_load])
    assert steps[-1] == "10 users"
    # nothing failed: every candidate was rejected after two passing re-runs
    assert all(not o.accepted and (o.fails, o.runs) == (0, 2) for o in outcomes)


def test_a_failure_that_needs_one_fault_shrinks_to_that_fault_early_and_short() -> None:
    def failing(c: Candidate, rerun: int) -> bool:
        has_b = any(f.label == "b" and f.duration_s >= 2 for f in c.faults)
        return has_b and c.users >= 4

    best, outcomes, calls = run_search(failing)
    assert [f.label for f in best.faults] == ["b"]
    b = best.faults[0]
    assert b.start_s == shrink.LEAD_S and b.duration_s == 3.0  # 6 -> 3; 1.5 no longer fails
    assert best.duration_s == shrink.MIN_DURATION_S + 2  # window end 5 s + tail 2 s
    assert best.users == 5  # 20 -> 10 -> 5; 2 no longer fails
    # an accepted candidate needed exactly two failing re-runs, a rejected one two passing
    assert all((o.fails, o.runs) == ((2, 2) if o.accepted else (0, 2)) for o in outcomes)
    keys = [c.key for c, _, rerun in calls if rerun == 1]
    assert len(keys) == len(set(keys)), "a candidate ran twice"


def test_a_noisy_candidate_is_accepted_only_with_need_of_tries_failures() -> None:
    # every candidate fails on its 1st and 3rd re-run only: 2 of 3 -> accepted after 3 runs
    best, outcomes, _ = run_search(lambda c, r: r != 2, original=Candidate(
        (fault("a", 9, 4),), duration_s=20.0, users=1))
    assert outcomes[0].candidate.step == "drop all faults"
    assert (outcomes[0].fails, outcomes[0].runs, outcomes[0].accepted) == (2, 3, True)
    assert best.faults == () and best.duration_s == shrink.MIN_DURATION_S
    # need 3 of 3: the same runner is never good enough
    best, outcomes, _ = run_search(lambda c, r: r != 2, need=3, original=Candidate(
        (fault("a", 9, 4),), duration_s=20.0, users=1))
    assert best.faults == (fault("a", 9, 4),)
    assert all(not o.accepted and (o.fails, o.runs) == (1, 2) for o in outcomes)


def test_the_budget_stops_the_search_with_the_best_so_far() -> None:
    # a re-run costs its load + 10 s: dropping every fault (2 re-runs of 60 s) ends at 140 s;
    # the next candidate (a 5 s load, 15 s a re-run) would end past 150 s, so none starts
    best, outcomes, calls = run_search(lambda c, r: True, budget_s=150)
    assert [(o.candidate.step, o.accepted) for o in outcomes] == [("drop all faults", True)]
    assert best == outcomes[0].candidate and best.faults == () and best.duration_s == 60.0
    assert len(calls) == 2


def test_a_rerun_that_would_overrun_the_budget_is_not_started() -> None:
    clock = FakeClock()
    started: list[int] = []

    def attempt(candidate: Candidate, number: int, rerun: int) -> bool:
        started.append(rerun)
        clock.now += 100
        return True

    budget = Budget(150, clock)
    outcome = shrink.evaluate(ORIGINAL, attempt, tries=3, need=2, budget=budget, number=1)
    # the first re-run showed that one costs 100 s: the second would end at 200 s > 150 s
    assert started == [1]
    assert outcome.undecided and not outcome.accepted and (outcome.fails, outcome.runs) == (1, 1)


def test_need_above_tries_is_refused() -> None:
    with pytest.raises(ValueError, match="need"):
        run_search(lambda c, r: True, tries=2, need=3)


def test_passes_never_propose_a_bigger_run() -> None:
    for candidate in itertools.chain.from_iterable(p(ORIGINAL) for p in shrink.PASSES):
        assert len(candidate.faults) <= len(ORIGINAL.faults)
        assert candidate.windows_s <= ORIGINAL.windows_s
        assert candidate.duration_s <= ORIGINAL.duration_s
        assert candidate.users <= ORIGINAL.users
        assert candidate.key != ORIGINAL.key
        assert candidate.last_end_s <= candidate.duration_s
