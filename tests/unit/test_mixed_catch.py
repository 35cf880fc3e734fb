"""benchmarks/mixed_catch.py's tally: a run with no report is never a miss, each rate carries
its 95% Wilson interval, and kept run folders tabulate together (pure file reading)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import mixed_catch


@pytest.mark.parametrize(("k", "n", "lo", "hi"), [
    (9, 10, 0.596, 0.982),   # the textbook values for 9 of 10
    (18, 20, 0.699, 0.972),
    (0, 10, 0.0, 0.278),
    (10, 10, 0.722, 1.0),
])
def test_wilson_interval(k: int, n: int, lo: float, hi: float) -> None:
    got = mixed_catch.wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-3)


def test_wilson_without_runs_knows_nothing() -> None:
    assert mixed_catch.wilson(0, 0) == (0.0, 1.0)


def _run(parent: Path, name: str, broken: list[str], *, report: bool = True) -> None:
    folder = parent / name
    folder.mkdir(parents=True)
    if not report:
        return  # the stack was busy: the run wrote nothing
    invariants = [{"name": n, "ok": n not in broken} for n in ("no_double_sold_seats",
                                                               "idempotent_effects")]
    (folder / "report.json").write_text(json.dumps({"duration_s": 60, "strategies": {"lock": {
        "invariants": invariants, "coverage": {"reached": {"lease-taken-over": 3},
                                               "vacuous": False}}}}))
    (folder / "settle.json").write_text(json.dumps({"lock": {"seconds": 20.2}}))


def test_kept_runs_tabulate_and_a_run_without_report_is_not_a_miss(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _run(first, "lock-unsafe-release-lock-s1", ["no_double_sold_seats"])
    _run(first, "lock-unsafe-release-lock-s2", [])
    _run(second, "lock-unsafe-release-lock-s3", [], report=False)
    _run(second, "correct-lock-s1", [])
    _run(second, "correct-lock-s2", ["idempotent_effects"])
    (second / "notes").mkdir()  # not a run folder: skipped
    outcomes = mixed_catch.kept([first, second])
    assert len(outcomes) == 5
    caught = {o.seed: o for o in outcomes if o.bug}
    assert caught[1].caught and caught[1].ttd_s == 80.2
    assert not caught[2].caught and caught[2].ran
    assert not caught[3].ran
    text = mixed_catch.table(outcomes)
    bug = next(line for line in text.splitlines() if line.startswith("| lock-unsafe-release"))
    assert "| 2 | 1 (9%-91%) |" in bug and "missed seeds [2]" in bug
    assert "not run (no report) [3]" in bug
    correct = next(line for line in text.splitlines() if line.startswith("| correct"))
    assert "passed 1 (9%-91%)" in correct and "failed seeds [2]" in correct
