"""A shrink candidate's re-runs stop as soon as its outcome is decided, on the real test stack:
a candidate run for real (:class:`RealAttempts`, one whole `harness run` per re-run) that needs
3 failing re-runs of 3 is rejected by its first passing re-run, and no second re-run starts.
The re-run carries the candidate's clocks and leaves a time-stamped ``progress.log``."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from pathlib import Path

import pytest

from harness.replay.attempts import RealAttempts, Target
from harness.replay.shrink import Budget, Candidate, Clocks, evaluate
from harness.run import scenario as scenarios
from harness.run.progress import Progress
from tests.conftest import TEST_STATE_DIR, StackHandle
from tests.load.helpers import QUICK_BUYERS, QUICK_SETTLE

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: the correct code, no faults: every re-run passes
PASSING = """
name = "passing"
strategy = "saga"
users = 4
spawn_rate = 4
duration = "4s"
""" + QUICK_BUYERS + QUICK_SETTLE


async def test_a_candidate_is_rejected_by_its_first_passing_rerun_when_it_needs_all(
    stack: StackHandle, tmp_path: Path
) -> None:
    path = tmp_path / "passing.toml"
    path.write_text(PASSING)
    base = scenarios.load(path)
    clocks = Clocks(hold_ttl_s=2.0, saga_stale_s=2.0, settle_s=20.0)
    candidate = Candidate((), duration_s=4.0, users=4, step="test", clocks=clocks)
    target = Target(base, "saga", ("idempotent_effects",), initial=candidate)
    out = tmp_path / "shrink"
    attempts = RealAttempts(target, out, str(TEST_STATE_DIR), Progress(io.StringIO(),
                                                                      live=False))
    outcome = await asyncio.to_thread(
        evaluate, candidate, attempts, tries=3, need=3,
        budget=Budget(600, time.monotonic), number=1)
    # 3 of 3 needed, the first re-run passed: decided (rejected) after it, no second re-run
    assert (outcome.fails, outcome.runs, outcome.accepted, outcome.undecided) == (
        0, 1, False, False)
    first = attempts.run_dir(1, 1)
    assert json.loads((first / "report.json").read_text())["verdict"] == "pass"
    assert not attempts.run_dir(1, 2).exists()
    assert sorted(p.name for p in (out / "runs").iterdir()) == [first.name]
    # the re-run ran the candidate's clocks, and its phases are stamped with their time
    ran = scenarios.load(first / "scenario.toml")
    assert (ran.service.hold_ttl_s, ran.service.saga_stale_s, ran.settle.timeout_s) == (
        2.0, 2.0, 20.0)
    lines = (first / "progress.log").read_text().splitlines()
    assert lines and all(re.match(r"^ *\d+\.\d\ds \[run\] ", line) for line in lines)
    assert any("checking invariants" in line for line in lines)
    settled = json.loads((first / "settle.json").read_text())["saga"]["seconds"]
    assert attempts.last is not None and attempts.last.settle_s == settled
    assert attempts.last.load_s == 4.0
