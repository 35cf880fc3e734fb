"""The shrink search's pure logic (harness/replay/shrink.py) with a fake runner: candidate
order, the M-of-K acceptance rule, early decisions, no candidate run twice, the budget."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from chaos.runner import FaultWindow
from chaos.schedule_types import ScheduledFault
from harness.replay import shrink
from harness.replay.attempts import hints_from
from harness.replay.shrink import Budget, Candidate, Hints, Outcome, decide, search
from harness.report.model import OrderStory, StoryEvent


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
               original: Candidate = ORIGINAL, hints: Hints | None = None
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
                  budget=Budget(budget_s, clock), report=outcomes.append, hints=hints)
    return best, outcomes, calls


@pytest.mark.parametrize("fails,runs,expected", [
    (0, 0, None), (1, 1, None), (2, 2, True), (0, 1, None), (0, 2, False), (1, 2, None),
    (2, 3, True), (1, 3, False),
])
def test_two_of_three_is_decided_as_soon_as_it_can_be(fails: int, runs: int,
                                                      expected: bool | None) -> None:
    assert decide(fails, runs, tries=3, need=2) is expected


def test_without_hints_big_cuts_come_first_then_halves_of_the_timeline() -> None:
    _, outcomes, _ = run_search(lambda c, r: False)
    steps = [o.candidate.step for o in outcomes]
    # the load after the last window (ends at 42 s) goes first: every later re-run is cheaper
    assert steps[0] == "trim the load to 44s"
    # then the timeline earlier, the load ending as much earlier (the trim was rejected:
    # the same 18 s tail)
    assert steps[1:3] == ["move the timeline 7s earlier", "close the gaps between windows"]
    assert [o.candidate.duration_s for o in outcomes[1:3]] == [53.0, 54.0]
    # then the three likeliest windows alone (no history: the earliest first, each with the
    # load's tail after it), then no faults at all
    assert steps[3:6] == ["keep one window (a at 9s)", "keep one window (b at 18s)",
                          "keep one window (c at 27s)"]
    assert [o.candidate.duration_s for o in outcomes[3:6]] == [33.0, 42.0, 51.0]
    assert steps[6] == "drop all faults"
    # then halves of the timeline, the latest half first, then single faults, latest first
    assert steps[7:9] == ["drop windows (c at 27s, d at 36s)", "drop windows (a at 9s, b at 18s)"]
    assert steps[9:13] == ["drop windows (d at 36s)", "drop windows (c at 27s)",
                           "drop windows (b at 18s)", "drop windows (a at 9s)"]
    first_load = next(i for i, s in enumerate(steps) if s.startswith("load "))
    assert all(not s.startswith(("load ", "10 users")) for s in steps[:first_load])
    assert steps[-1] == "10 users"
    # nothing failed: every candidate was rejected after two passing re-runs
    assert all(not o.accepted and (o.fails, o.runs) == (0, 2) for o in outcomes)


def test_the_history_puts_the_cut_at_the_first_violation_first() -> None:
    # orders named by the violation ran 17.5-21 s (through b) and 30-34 s (through c)
    hints = Hints(((17.5, 21.0), (30.0, 34.0)))
    _, outcomes, _ = run_search(lambda c, r: False, hints=hints)
    cut = outcomes[0].candidate
    # cut at 21 + 2 s of margin: c and d start later and go, b ends at 24 s: cut at 23 s
    assert outcomes[0].candidate.step == "cut at the first violation (21s): 25s load"
    assert [(f.label, f.start_s, f.duration_s) for f in cut.faults] == [
        ("a", 9, 6), ("b", 18, 5.0)]
    assert cut.duration_s == 23 + shrink.TAIL_S
    assert [o.candidate.step for o in outcomes[1:4]] == [
        "trim the load to 44s", "move the timeline 7s earlier", "close the gaps between windows"]
    # b (the first violating order ran through it) alone, then c (another order met it),
    # then the nearest to 21 s of those no order met
    assert [o.candidate.step for o in outcomes[4:7]] == [
        "keep one window (b at 18s)", "keep one window (c at 27s)",
        "keep one window (a at 9s)"]


def test_after_an_accepted_candidate_the_passes_start_again_from_the_first() -> None:
    # the bug needs window b only: each accepted cut sends the search back to the first pass,
    # so the timeline moves earlier again once b is alone
    hints = Hints(((17.5, 21.0),))
    best, outcomes, _ = run_search(
        lambda c, r: any(f.label == "b" for f in c.faults), hints=hints)
    steps = [(o.candidate.step, o.candidate.duration_s, o.accepted) for o in outcomes]
    assert steps[:5] == [("cut at the first violation (21s): 25s load", 25.0, True),
                         ("move the timeline 7s earlier", 18.0, True),
                         ("close the gaps between windows", 16.0, True),
                         ("keep one window (b at 9s)", 16.0, True),
                         ("move the timeline 7s earlier", 9.0, True)]
    assert [f.label for f in best.faults] == ["b"] and best.faults[0].start_s == shrink.LEAD_S
    # a window once tried alone is never proposed alone again
    alone = [o.candidate.key for o in outcomes if o.candidate.step.startswith("keep one")]
    assert len(alone) == len(set(alone)) == 1


def test_a_window_is_the_entries_of_one_label_that_start_together() -> None:
    faults = (fault("explore", 5, 4, "p1"), fault("explore", 5, 6, "p2"),
              fault("pause", 5, 2), fault("explore", 12, 3, "p1"))
    windows = shrink.windows_of(faults)
    assert [(w.name, w.start_s, w.end_s, len(w.faults)) for w in windows] == [
        ("explore", 5, 11, 2), ("pause", 5, 7, 1), ("explore", 12, 15, 1)]
    # dropping goes by windows (3: halves are single ones), then by entries of a window
    steps = [c.step for c in shrink.drop_chunks(Candidate(faults, 20.0, 4))]
    assert steps == ["drop windows (explore at 12s)", "drop windows (pause at 5s)",
                     "drop windows (explore at 5s)", "drop explore p1 at 5s",
                     "drop explore p2 at 5s"]
    # without a history the earliest goes first (it leaves the shortest load)
    assert [w.start_s for w in Hints().rank(windows[::-1])] == [5, 5, 12]


def test_shorter_clocks_go_to_their_floors_then_halve_and_keep_settling_long_enough() -> None:
    clocks = shrink.Clocks(hold_ttl_s=20, saga_stale_s=15, settle_s=60)
    floor, half = clocks.shorter()
    assert (floor.hold_ttl_s, floor.saga_stale_s, floor.settle_s) == (
        shrink.MIN_HOLD_TTL_S, shrink.MIN_SAGA_STALE_S, shrink.MIN_SETTLE_S)
    assert (half.hold_ttl_s, half.saga_stale_s) == (10, 7.5)
    assert half.settle_s == max(shrink.MIN_SETTLE_S, shrink.SETTLE_PER_CLOCK * 10)
    assert floor.shorter() == []  # nothing shorter than the floors
    # a candidate with clocks proposes them right after the load cuts, before windows alone
    original = dataclasses.replace(ORIGINAL, clocks=clocks)
    _, outcomes, _ = run_search(lambda c, r: False, original=original)
    steps = [o.candidate.step for o in outcomes]
    assert steps[1:3] == [f"shorter clocks: {floor.describe()}",
                          f"shorter clocks: {half.describe()}"]
    assert steps[3] == "move the timeline 7s earlier"


def test_the_budget_estimates_a_rerun_from_the_recent_ones() -> None:
    clock = FakeClock()
    budget = Budget(1000, clock)
    assert budget.overhead_s == shrink.DEFAULT_OVERHEAD_S  # nothing seen yet
    short = dataclasses.replace(ORIGINAL, duration_s=10.0)
    for wall in (90.0, 40.0, 30.0, 30.0):  # shorter clocks cut the overhead from 80 s to 20 s
        budget.observed(short, wall)
    assert budget.overhead_s == 30.0  # the worst of the last three (80 s is forgotten)
    clock.now = 1000 - 10 - 30
    assert budget.fits(short)
    clock.now += 0.1
    assert not budget.fits(short)


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
    keys = [c.key for c, _, rerun in calls if rerun == 1 and not c.step.startswith("confirm")]
    assert len(keys) == len(set(keys)), "a candidate ran twice"
    # the result was confirmed on fresh re-runs, once
    assert [o.candidate.step for o in outcomes if o.candidate.step.startswith("confirm")] == [
        "confirm: 5 users"]


def test_a_noisy_candidate_is_accepted_only_with_need_of_tries_failures() -> None:
    # every candidate fails on its 1st and 3rd re-run only: 2 of 3 -> accepted after 3 runs
    best, outcomes, _ = run_search(lambda c, r: r != 2, original=Candidate(
        (fault("a", 9, 4),), duration_s=20.0, users=1))
    assert outcomes[0].candidate.step == "trim the load to 15s"
    assert (outcomes[0].fails, outcomes[0].runs, outcomes[0].accepted) == (2, 3, True)
    assert best.faults == () and best.duration_s == shrink.MIN_DURATION_S
    # need 3 of 3: the same runner is never good enough
    best, outcomes, _ = run_search(lambda c, r: r != 2, need=3, original=Candidate(
        (fault("a", 9, 4),), duration_s=20.0, users=1))
    assert best.faults == (fault("a", 9, 4),)
    assert all(not o.accepted and (o.fails, o.runs) == (1, 2) for o in outcomes)


def test_the_budget_stops_the_search_with_the_best_so_far() -> None:
    # a re-run costs its load + 10 s: trimming the load to 44 s (2 re-runs) ends at 108 s; the
    # confirmation keeps 3 re-runs of it (162 s) back, so no other candidate starts, and the
    # confirmation itself does not fit the 150 s: the trimmed run, unconfirmed
    best, outcomes, calls = run_search(lambda c, r: True, budget_s=150)
    assert [(o.candidate.step, o.accepted, o.undecided, o.runs) for o in outcomes] == [
        ("trim the load to 44s", True, False, 2),
        ("confirm: trim the load to 44s", False, True, 0)]
    assert best == outcomes[0].candidate and best.duration_s == 44.0
    assert len(best.faults) == len(ORIGINAL.faults)
    assert len(calls) == 2


def test_a_lucky_candidate_fails_its_confirmation_and_the_one_before_it_is_the_result() -> None:
    # the bug needs window b; with b alone it shows only in the first two re-runs (luck)
    seen: dict[tuple[object, ...], int] = {}

    def failing(c: Candidate, rerun: int) -> bool:
        seen[c.key] = seen.get(c.key, 0) + 1
        has_b = any(f.label == "b" for f in c.faults)
        return has_b and (len(c.faults) > 1 or seen[c.key] <= 2)

    best, outcomes, _ = run_search(failing, budget_s=2000)
    alone = next(o for o in outcomes if o.candidate.step.startswith("keep one window (b at"))
    assert alone.accepted and len(alone.candidate.faults) == 1
    confirms = [(o.candidate.step, o.accepted) for o in outcomes
                if o.candidate.step.startswith("confirm")]
    assert confirms[0][1] is False and confirms[-1][1] is True
    assert len(best.faults) > 1 and any(f.label == "b" for f in best.faults)
    assert confirms[-1][0] == f"confirm: {best.step}"


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


def test_a_candidate_too_long_for_the_budget_is_skipped_and_a_shorter_one_still_runs() -> None:
    long = dataclasses.replace(ORIGINAL, duration_s=50.0, step="long")
    short = dataclasses.replace(ORIGINAL, duration_s=10.0, step="short")
    ran: list[str] = []

    def attempt(candidate: Candidate, number: int, rerun: int) -> bool:
        ran.append(candidate.step)
        return False

    # 50 s + the default 30 s overhead > 60 s; 10 s + 30 s fits (the fake clock stands still)
    search(ORIGINAL, attempt, tries=1, need=1, budget=Budget(60, FakeClock()),
           report=lambda o: None, passes=[lambda best: iter([long, short])])
    assert ran == ["short"]


def story(strategy: str, times: tuple[float, ...], faults: int) -> OrderStory:
    events = tuple(StoryEvent("invoke", "create", f"op{t}", strategy, 1e9 + t, t, "k")
                   for t in times)
    return OrderStory(history=events, faults=tuple(
        FaultWindow("pause", "target-1", 1.0, 2.0) for _ in range(faults)))


def test_hints_come_from_the_named_orders_that_met_a_fault() -> None:
    orders = {"early": story("saga", (1.0, 1.2), faults=0),
              "faulted": story("saga", (10.0, 14.5), faults=1),
              "later": story("saga", (20.0, 22.0), faults=2),
              "other": story("lock", (5.0, 6.0), faults=1)}
    hints = hints_from(orders, "saga")
    # the early order met no fault: the first violation is the faulted one's end
    assert hints.spans == ((10.0, 14.5), (20.0, 22.0)) and hints.first_violation_s == 14.5
    # no named order met a fault: all of them count
    assert hints_from({"early": orders["early"]}, "saga").spans == ((1.0, 1.2),)
    assert hints_from({}, "saga").first_violation_s is None


def test_moving_the_timeline_earlier_ends_the_load_as_much_earlier() -> None:
    late = Candidate((fault("x", 21.8, 2.2), fault("y", 23.3, 0.7)), duration_s=26.0, users=20)
    moved, = shrink.move_earlier(late)  # no gap between x and y: nothing to close
    assert [(f.label, f.start_s) for f in moved.faults] == [("x", 2.0), ("y", 3.5)]
    assert moved.duration_s == 7.0  # 26 s - 19.8 s, rounded up: the same 2 s tail
    assert moved.last_end_s <= moved.duration_s
    apart = Candidate((fault("x", 2, 1), fault("y", 10, 1)), duration_s=13.0, users=20)
    closed, = shrink.move_earlier(apart)
    assert [f.start_s for f in closed.faults] == [2, 4] and closed.duration_s == 7.0
    # the passes try the move right after the load and clock cuts, before any window goes
    order = [p.__name__ for p in shrink.PASSES]
    assert order.index("shorter_clocks") + 1 == order.index("move_earlier")
    assert order.index("move_earlier") < order.index("drop_all")
