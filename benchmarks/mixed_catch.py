"""Measurement (not a test): does the generic ``mixed`` schedule catch every seeded bug, and
does the correct code pass it without being vacuous?

For each seeded bug (its strategy from ``invariants.catalog.CATCHES``) and each seed, runs
``harness run --strategy S --faults mixed --duration D --bug B --seed N``; then, per strategy
and seed, the same without a bug. Prints one line per run as it ends and the table at the end:
catches per bug, and the median time to detection (a catch is seen at the final check, after
the load and the settling, so its time is load + settle seconds), and for the correct code
passes, failures and vacuous passes, each rate with its 95% Wilson interval (a catch is a
coin flip per run: ten runs cannot tell 80% from 95%, and a seed caught once may be missed
when run again). A run that never ran (the stack busy or down: no report) is listed apart,
never counted as a miss. Every run keeps its report folder under ``--out``; ``--tabulate
DIR...`` prints the table of run folders kept by earlier measurements, together.

Usage, with the stack up (``harness up``)::

    .venv/bin/python benchmarks/mixed_catch.py [--seeds 3] [--first-seed 1] [--duration 60s]
        [--bugs a,b] [--strategies lock,saga,2pc] [--out reports/mixed-catch]
        [--state-dir DIR]
    .venv/bin/python benchmarks/mixed_catch.py --tabulate reports/mixed-catch [more folders]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.durations import parse_duration
from invariants.catalog import CATCHES

HARNESS = Path(sys.executable).with_name("harness")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run: what it was and what it found."""

    bug: str | None
    strategy: str
    seed: int
    exit_code: int
    broken: tuple[str, ...]
    caught: bool
    vacuous: bool
    reached: int
    ttd_s: float | None
    wall_s: float
    ran: bool = True  # False: no report (the stack was busy or down), not a miss


def run_one(bug: str | None, strategy: str, seed: int, duration: str, out: Path,
            state_dir: str | None = None) -> Outcome:
    folder = out / f"{bug or 'correct'}-{strategy}-s{seed}"
    cmd = [str(HARNESS), *(["--state-dir", state_dir] if state_dir else []),
           "run", "--strategy", strategy, "--faults", "mixed",
           "--duration", duration, "--seed", str(seed), "--out", str(folder)]
    if bug:
        cmd += ["--bug", bug]
    t = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t
    (out / f"{folder.name}.log").write_text(proc.stdout + proc.stderr)
    return outcome_of(folder, bug, strategy, seed, proc.returncode, wall)


def outcome_of(folder: Path, bug: str | None, strategy: str, seed: int, exit_code: int,
               wall: float) -> Outcome:
    """What the run kept in ``folder`` found."""
    try:
        report: dict[str, Any] = json.loads((folder / "report.json").read_text())
        settle = json.loads((folder / "settle.json").read_text())[strategy]["seconds"]
    except (OSError, ValueError, KeyError):
        return Outcome(bug, strategy, seed, exit_code, (), False, False, 0, None, wall, False)
    entry = report["strategies"][strategy]
    broken = tuple(i["name"] for i in entry["invariants"] if not i["ok"])
    expect = CATCHES[bug].invariants if bug else ()
    caught = bool(set(broken) & set(expect))
    coverage = entry.get("coverage") or {}
    ttd = round(float(report["duration_s"]) + float(settle), 1) if caught else None
    return Outcome(bug, strategy, seed, exit_code, broken, caught,
                   bool(coverage.get("vacuous")), len(coverage.get("reached") or {}), ttd, wall)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` runs (95% for z = 1.96)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k} ({lo:.0%}-{hi:.0%})"


def table(outcomes: list[Outcome]) -> str:
    lines = ["| bug / code | strategy | runs | caught (95% interval) | median TTD s | notes |",
             "| --- | --- | --- | --- | --- | --- |"]
    keys = sorted({(o.bug or "", o.strategy) for o in outcomes})
    for bug, strategy in keys:
        every = [o for o in outcomes if (o.bug or "") == bug and o.strategy == strategy]
        mine = [o for o in every if o.ran]
        idle = sorted(o.seed for o in every if not o.ran)
        not_run = f"; not run (no report) {idle}" if idle else ""
        if bug:
            ttds = [o.ttd_s for o in mine if o.ttd_s is not None]
            median = f"{statistics.median(ttds):.1f}" if ttds else "-"
            missed = sorted(o.seed for o in mine if not o.caught)
            lines.append(f"| {bug} | {strategy} | {len(mine)} |"
                         f" {_rate(sum(o.caught for o in mine), len(mine))} |"
                         f" {median} | missed seeds {missed or 'none'}{not_run} |")
        else:
            failed = sorted(o.seed for o in mine if o.exit_code != 0)
            vacuous = sorted(o.seed for o in mine if o.vacuous)
            reached = statistics.median(o.reached for o in mine) if mine else 0
            lines.append(f"| correct | {strategy} | {len(mine)} | passed"
                         f" {_rate(len(mine) - len(failed), len(mine))} | - | failed seeds"
                         f" {failed or 'none'}; vacuous {vacuous or 'none'}; median situations"
                         f" reached {reached:g}{not_run} |")
    return "\n".join(lines)


def kept(folders: list[Path]) -> list[Outcome]:
    """The outcomes of the run folders (``<bug or correct>-<strategy>-s<seed>``) under
    ``folders``; a folder that is no run of this measurement is skipped."""
    outcomes = []
    for parent in folders:
        for folder in sorted(p for p in parent.iterdir() if p.is_dir()):
            head, _, seed = folder.name.rpartition("-s")
            name, _, strategy = head.rpartition("-")
            if not seed.isdigit() or not name or (name != "correct" and name not in CATCHES):
                continue
            bug = None if name == "correct" else name
            found = outcome_of(folder, bug, strategy, int(seed), 0, 0.0)
            # the verdict stands for the exit code the run no longer has
            outcomes.append(dataclasses.replace(found, exit_code=int(bool(found.broken))))
    return outcomes


def main() -> int:
    ap = argparse.ArgumentParser(description="mixed: catches per seeded bug, correct code passes")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--duration", default="60s")
    ap.add_argument("--bugs", default=",".join(CATCHES), help="comma-separated ('' for none)")
    ap.add_argument("--strategies", default="lock,saga,2pc",
                    help="correct-code runs ('' for none)")
    ap.add_argument("--out", default="reports/mixed-catch")
    ap.add_argument("--state-dir", default=None, help="the stack's state folder (harness's)")
    ap.add_argument("--tabulate", nargs="+", type=Path, default=None, metavar="DIR",
                    help="run nothing: the table of the run folders kept under these folders")
    args = ap.parse_args()
    if args.tabulate:
        missing = [str(d) for d in args.tabulate if not d.is_dir()]
        if missing:
            ap.error(f"--tabulate: no such folder: {', '.join(missing)}")
        print(table(kept(args.tabulate)))
        return 0
    parse_duration(args.duration)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    plan: list[tuple[str | None, str]] = [
        (b, CATCHES[b].strategy) for b in args.bugs.split(",") if b]
    plan += [(None, s) for s in args.strategies.split(",") if s]
    outcomes: list[Outcome] = []
    for seed in seeds:  # seed-major: an interrupted measurement still covers every bug
        for bug, strategy in plan:
            o = run_one(bug, strategy, seed, args.duration, out, args.state_dir)
            outcomes.append(o)
            print(json.dumps(asdict(o)), flush=True)
    print(table(outcomes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
