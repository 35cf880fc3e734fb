"""Matrix shards (pure): the shares partition the plan, are stable and balanced; `--shard` is
validated; merge refuses foreign, duplicated and missing shards naming the folder; a cell's
verdict counts its thresholds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.matrix.cells import cell_entry
from harness.matrix.grid import matrix_document
from harness.matrix.merge import merge
from harness.matrix.plan import Cell, MatrixPlan, plan_from
from harness.matrix.shard import Shard, expected_cost, parse_shard, plan_id
from harness.report.model import (
    InvariantOutcome,
    LoadStats,
    Report,
    StrategyResult,
    ThresholdResult,
)
from invariants import INVARIANT_NAMES
from target_service.strategies import STRATEGIES


def plan(seeds: int = 3, duration: float = 30.0) -> MatrixPlan:
    return plan_from(strategies=None, schedules=None, bugs=None, seeds=seeds, first_seed=1,
                     duration_s=duration, users=None, check_every_s=None)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_the_shares_partition_the_plan_and_are_balanced(count: int) -> None:
    p = plan()
    shares = [Shard(i, count).cells(p) for i in range(1, count + 1)]
    ids = [c.id for share in shares for c in share]
    assert sorted(ids) == sorted(c.id for c in p.cells()) and len(ids) == len(set(ids))
    order = [c.id for c in p.cells()]
    for share in shares:  # each share runs in plan order
        assert [c.id for c in share] == sorted((c.id for c in share), key=order.index)
    costs = [sum(expected_cost(c, p) for c in share) for share in shares]
    biggest = max(expected_cost(c, p) for c in p.cells())
    assert max(costs) - min(costs) <= biggest


def test_the_shares_are_stable() -> None:
    assert [c.id for c in Shard(2, 4).cells(plan())] == [c.id for c in Shard(2, 4).cells(plan())]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a", "1/", "-1/2", "1.5/2", ""])
def test_a_bad_shard_is_a_usage_error_naming_the_flag(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)


def test_a_good_shard_parses() -> None:
    assert parse_shard("2/5") == Shard(2, 5) and parse_shard(" 1 / 1 ") == Shard(1, 1)


def _shard_folder(root: Path, name: str, p: MatrixPlan, shard: Shard) -> Path:
    folder = root / name
    folder.mkdir()
    cells = [{"id": c.id, "kind": c.kind, "strategy": c.strategy, "schedule": c.schedule,
              "seed": c.seed, "broken": [], "requests": 1, "rps": 1.0, "p99_ms": 1,
              "report": f"cells/{c.id}/report.html", "verdict": "pass"}
             for c in shard.cells(p)]
    doc = matrix_document(name, p, cells, started_at="a", finished_at="b", complete=True)
    doc["shard"] = shard.to_json(p)
    (folder / "matrix.json").write_text(json.dumps(doc))
    return folder


def _grid_plan() -> MatrixPlan:
    return plan_from(strategies="saga,lock", schedules="none", bugs="none", seeds=2,
                     first_seed=1, duration_s=5, users=None, check_every_s=None)


def test_merge_refuses_a_shard_of_another_plan(tmp_path: Path) -> None:
    one = _shard_folder(tmp_path, "one", _grid_plan(), Shard(1, 2))
    other_plan = plan_from(strategies="saga,lock", schedules="none", bugs="none", seeds=2,
                           first_seed=1, duration_s=6, users=None, check_every_s=None)
    assert plan_id(other_plan) != plan_id(_grid_plan())
    two = _shard_folder(tmp_path, "two", other_plan, Shard(2, 2))
    with pytest.raises(UsageError, match=r"two: a shard of another plan"):
        merge([one, two], tmp_path / "out", "m")


def test_merge_refuses_a_duplicated_and_a_missing_shard(tmp_path: Path) -> None:
    one = _shard_folder(tmp_path, "one", _grid_plan(), Shard(1, 2))
    again = _shard_folder(tmp_path, "again", _grid_plan(), Shard(1, 2))
    with pytest.raises(UsageError, match=r"again: shard 1/2 given twice"):
        merge([one, again], tmp_path / "out", "m")
    with pytest.raises(UsageError, match=r"shard 2/2 missing .*one"):
        merge([one], tmp_path / "out", "m")


def test_merge_refuses_a_folder_that_is_not_a_shard(tmp_path: Path) -> None:
    one = _shard_folder(tmp_path, "one", _grid_plan(), Shard(1, 2))
    whole = tmp_path / "whole"
    whole.mkdir()
    (whole / "matrix.json").write_text(json.dumps(matrix_document(
        "w", _grid_plan(), [], started_at="a", finished_at="b", complete=True)))
    with pytest.raises(UsageError, match=r"whole: not a shard"):
        merge([one, whole], tmp_path / "out", "m")


def test_merged_cells_follow_the_plan_order(tmp_path: Path) -> None:
    p = _grid_plan()
    folders = [_shard_folder(tmp_path, f"s{i}", p, Shard(i, 3)) for i in (3, 1, 2)]
    out = tmp_path / "out"
    out.mkdir()
    doc = merge(folders, out, "merged")
    assert [c["id"] for c in doc["cells"]] == [c.id for c in p.cells()]
    assert doc["complete"] is True and doc["verdict"] == "pass" and "shard" not in doc
    assert json.loads((out / "matrix.json").read_text()) == doc


def test_a_grid_cell_failed_by_a_threshold_fails_like_its_run(tmp_path: Path) -> None:
    cell = Cell("saga", "none", 1)
    result = StrategyResult(load=LoadStats(), invariants=tuple(
        InvariantOutcome(n, ok=True) for n in INVARIANT_NAMES))
    report = Report(run_id=cell.id, seed=1, scenario="default", bug=None, faults="none",
                    started_at="", duration_s=30.0, strategies={"saga": result})
    assert cell_entry(cell, report, tmp_path, 30.0, None)["verdict"] == "pass"
    slow = dataclasses.replace(report, thresholds=(
        ThresholdResult("saga/p95_ms", 1.0, 80.0, ok=False),))
    entry = cell_entry(cell, slow, tmp_path, 30.0, None)
    assert (slow.verdict, entry["verdict"], entry["failed_thresholds"]) == (
        "fail", "fail", ["saga/p95_ms"])


def test_the_grid_leaves_out_a_schedule_that_cannot_break_the_strategy() -> None:
    cells = plan(1).cells()
    relay = {c.strategy for c in cells if c.kind == "grid" and c.schedule == "lock-takeover-relay"}
    assert relay == {"lock"}  # a lock-only adversary: no saga or 2pc cell that runs no fault
    assert {c.strategy for c in cells if c.kind == "grid" and c.schedule == "mixed"} == set(
        STRATEGIES)
