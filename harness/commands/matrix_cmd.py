"""`harness matrix`: every strategy under every fault schedule, and every seeded bug with its
catching strategy and schedule, for ``--seeds`` seeds; one report folder with both grids.

Writes ``reports/<matrix-id>/`` (or ``--out``): ``matrix.json``, ``junit.xml``, ``matrix.html``
and every cell's own run report under ``cells/<cell-id>/``. Exit codes: 0 every correct cell
passed and every bug was caught, 1 a correct cell failed or a bug was missed, 2 bad input
(naming the flag), 3 the stack could not be started.

``--shard I/N`` runs only the I-th of N deterministic shares of the cells
(:mod:`harness.matrix.shard`); `harness matrix merge DIR... --out DIR` merges the shards' folders
into one report of the same form (:mod:`harness.matrix.merge`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness import interrupt
from harness.errors import EXIT_OK, EXIT_VIOLATION, UsageError
from harness.matrix.cells import cell_scenario
from harness.matrix.merge import merge as merge_shards
from harness.matrix.merge import read_shard
from harness.matrix.plan import MatrixPlan, plan_from
from harness.matrix.runner import run_matrix
from harness.matrix.shard import parse_shard
from harness.paths import REPORTS_DIR
from harness.run import loop
from harness.run import scenario as scenarios
from harness.run.progress import Progress
from harness.stack import Stack


def matrix_dir_for(out: str | None) -> tuple[str, Path]:
    """(matrix id, folder); ``--out`` must not be an existing non-empty folder."""
    if out:
        path = Path(out).resolve()
        if path.exists() and any(path.iterdir()):
            raise UsageError(f"--out: {path} exists and is not empty")
        path.mkdir(parents=True, exist_ok=True)
        return path.name, path
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-matrix"
    for n in range(1, 100):
        matrix_id = base if n == 1 else f"{base}-{n}"
        try:
            (REPORTS_DIR / matrix_id).mkdir(parents=True)
        except FileExistsError:
            continue
        return matrix_id, REPORTS_DIR / matrix_id
    raise UsageError(f"--out: could not create a fresh folder {base}-N in {REPORTS_DIR}")


def validate(plan: MatrixPlan, base: scenarios.Scenario) -> None:
    """Build every cell's fault schedule now: a duration too short is exit 2 before any run."""
    for cell in plan.cells():
        try:
            loop.schedules_for(cell_scenario(base, plan, cell))
        except UsageError as exc:
            raise UsageError(f"--duration/--schedules: cell {cell.id}: {exc}") from None


def print_summary(doc: dict[str, Any], matrix_dir: Path) -> None:
    out = sys.stdout
    grid = doc["grid"]
    if grid["runs"]:
        print(f"correct cells: {grid['passed']}/{grid['runs']} passed, "
              f"{grid.get('vacuous', 0)} vacuous (passed without reaching danger)", file=out)
        for strategy, row in grid["table"].items():
            for schedule, c in row.items():
                vac = c.get("vacuous", 0)
                mark = ("ok  " if c["passed"] == c["runs"] else
                        "VAC " if c["passed"] + vac == c["runs"] else "FAIL")
                broken = f"  broken: {', '.join(c['broken'])}" if c["broken"] else ""
                print(f"  {mark} {strategy:5} {schedule:19} {c['passed']}/{c['runs']}  "
                      f"{c['rps']:7.1f} req/s  p99 {c['p99_ms']:>6} ms{broken}", file=out)
    bugs = doc["bugs"]
    if bugs["runs"]:
        print(f"seeded bugs: {bugs['caught']}/{bugs['runs']} caught", file=out)
        for bug, b in bugs["table"].items():
            mark = "ok  " if b["caught"] == b["runs"] else "MISS"
            print(f"  {mark} {bug:21} {b['caught']}/{b['runs']} caught, {b['within_goal']} "
                  f"within {bugs['ttd_goal_s']:g}s, median TTD {b['ttd_median_s']} s, "
                  f"{b['rps']:.1f} req/s, p99 {b['p99_ms']} ms", file=out)
    print(f"matrix verdict: {doc['verdict']}  report: {matrix_dir / 'matrix.html'}", file=out)


def matrix(args: argparse.Namespace) -> int:
    plan = plan_from(strategies=args.strategies, schedules=args.schedules, bugs=args.bugs,
                     seeds=args.seeds, first_seed=args.seed, duration_s=args.duration,
                     users=args.users, check_every_s=args.check_every)
    base = scenarios.load(args.scenario)
    shard = parse_shard(args.shard) if args.shard is not None else None
    validate(plan, base)
    matrix_id, matrix_dir = matrix_dir_for(args.out)
    progress = Progress()
    cells = shard.cells(plan) if shard is not None else plan.cells()
    share = f" (shard {shard.index}/{shard.count})" if shard is not None else ""
    progress.phase(
        f"matrix {matrix_id}{share}: {sum(1 for c in cells if c.bug is None)} correct cells, "
        f"{sum(1 for c in cells if c.bug)} bug cells, {plan.duration_s:g}s of load each "
        f"-> {matrix_dir}")
    stack = Stack(args.state_dir, progress=lambda m: progress.phase(f"[stack] {m}"))
    if matrix_dir.parent == REPORTS_DIR:
        link = REPORTS_DIR / "latest-matrix"
        tmp = REPORTS_DIR / f".latest-matrix-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(matrix_dir.name)
        os.replace(tmp, link)
    doc = interrupt.run(run_matrix(plan, base, matrix_id, matrix_dir, stack, progress, shard))
    print_summary(doc, matrix_dir)
    return EXIT_OK if doc["verdict"] == "pass" else EXIT_VIOLATION


def merge(args: argparse.Namespace) -> int:
    """`harness matrix merge DIR... [--out DIR]`: the shards' folders -> one matrix report."""
    folders = [Path(d).resolve() for d in args.dirs]
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"DIR: {folder}: no such folder")
    for folder in folders:
        read_shard(folder)  # a bad folder is exit 2 before the merged folder is made
    matrix_id, matrix_dir = matrix_dir_for(args.out)
    doc = merge_shards(folders, matrix_dir, matrix_id)
    print_summary(doc, matrix_dir)
    return EXIT_OK if doc["verdict"] == "pass" else EXIT_VIOLATION
