"""`harness shrink RUN_DIR [--tries K] [--need M] [--budget 15m] [--out DIR]`: reduce a failing
run to a smaller scenario that still fails at least M of K re-runs.

Writes ``min.toml`` (run it with the printed `harness run --scenario ...`), ``shrink.jsonl``
(one line per candidate) and every re-run's report under ``runs/``; shows one line per re-run
(with where its time went: load, settling, the rest) and per decision; stops at the budget
with the best run so far. The search is :mod:`harness.replay.shrink`. Exit codes: 1 the
minimal scenario written (it fails: an invariant is violated), 2 bad input or a run that passed
("nothing to shrink"), 3 the stack could not be started.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.errors import EXIT_VIOLATION, UsageError
from harness.paths import REPORTS_DIR
from harness.replay import shrink as search
from harness.replay.attempts import RealAttempts, scenario_of, target_of
from harness.replay.recorded import read_report
from harness.replay.shrink_files import append_line, outcome_line, reproduce_command, write_min
from harness.run.progress import Progress


def out_dir_for(out: str | None, run_id: str) -> Path:
    """``--out`` (must be empty or new), else ``reports/<run-id>-shrink[-N]``."""
    if out:
        path = Path(out).resolve()
        if path.exists() and any(path.iterdir()):
            raise UsageError(f"--out: {path} exists and is not empty")
        path.mkdir(parents=True, exist_ok=True)
        return path
    for n in range(1, 100):
        path = REPORTS_DIR / (f"{run_id}-shrink" if n == 1 else f"{run_id}-shrink-{n}")
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return path
    raise UsageError(f"--out: could not create a fresh folder {run_id}-shrink-N in {REPORTS_DIR}")


def shrink(args: argparse.Namespace) -> int:
    if args.need > args.tries:
        raise UsageError(f"--need: must be <= --tries ({args.need} > {args.tries})")
    if args.budget <= 0:
        raise UsageError("--budget: must be longer than 0")
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"RUN_DIR: {run_dir}: no such run folder")
    run = read_report(run_dir)
    if run.verdict != "fail" or not any(run.broken.values()):
        raise UsageError(f"RUN_DIR: {run_dir / 'report.json'}: verdict {run.verdict}: nothing "
                         "to shrink (shrink starts from a failing run)")
    target = target_of(run)
    out = out_dir_for(args.out, run.run_id)
    progress = Progress()
    attempts = RealAttempts(target, out, args.state_dir, progress)
    budget = search.Budget(args.budget, time.monotonic)
    started = time.strftime("%H:%M:%S")
    progress.phase(
        f"shrink {run.run_id} ({target.strategy}: {', '.join(target.broken)}) from "
        f"{target.initial.describe()}; a candidate needs {args.need} of {args.tries} failing "
        f"re-runs; budget {args.budget:g}s (from {started}) -> {out}")
    jsonl = out / "shrink.jsonl"
    jsonl.touch()

    def clock() -> str:
        return time.strftime("%M:%S", time.gmtime(budget.elapsed_s))

    def attempt(candidate: search.Candidate, number: int, rerun: int) -> bool:
        progress.phase(f"[{clock()}] candidate {number} ({candidate.step}): "
                       f"{candidate.describe()}; re-run {rerun}")
        failed = attempts(candidate, number, rerun)
        spent = f" in {attempts.last.describe()}" if attempts.last else ""
        progress.phase(f"[{clock()}] candidate {number} re-run {rerun}: "
                       f"{'FAILED' if failed else 'passed'}{spent}")
        return failed

    confirmed: set[tuple[object, ...]] = set()

    def report(outcome: search.Outcome) -> None:
        if outcome.accepted and outcome.candidate.step.startswith(search.CONFIRM):
            confirmed.add(outcome.candidate.key)
        runs = [str(attempts.run_dir(outcome.number, r).relative_to(out))
                for r in range(1, outcome.runs + 1)]
        append_line(jsonl, outcome_line(outcome, strategy=target.strategy,
                                        elapsed_s=budget.elapsed_s, runs=runs))
        decision = ("accepted" if outcome.accepted else
                    "undecided (budget)" if outcome.undecided else "rejected")
        progress.phase(f"[{clock()}] candidate {outcome.number} {decision}: "
                       f"{outcome.fails}/{outcome.runs} failed")

    first = target.hints.first_violation_s
    if first is not None:
        progress.phase(f"the first violating order ended {first:g}s into the load "
                       f"({len(target.hints.spans)} orders named)")
    best = search.search(target.initial, attempt, tries=args.tries, need=args.need,
                         budget=budget, report=report, hints=target.hints)
    min_toml = out / "min.toml"
    command = reproduce_command(min_toml, args.state_dir)
    note = (f"confirmed: failed at least {args.need} of {args.tries} re-runs, twice"
            if best.key in confirmed else
            f"accepted: failed at least {args.need} of {args.tries} re-runs (not confirmed "
            "again: the budget ran out)" if best is not target.initial else
            "no smaller candidate was accepted (and confirmed): this is the original run")
    write_min(min_toml, scenario_of(target, best), original=target.initial, best=best,
              note=note, command=command)
    spent = time.strftime("%M:%S", time.gmtime(budget.elapsed_s))
    print(f"shrunk in {spent}: {target.initial.describe()} -> {best.describe()} ({note})")
    print(f"minimal scenario: {min_toml}\ncandidates: {jsonl}\nreproduce: {command}")
    return EXIT_VIOLATION
