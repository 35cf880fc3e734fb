"""Measurement (not a test): does the generic ``mixed`` schedule catch every seeded bug, and
does the correct code pass it without being vacuous?

For each seeded bug (its strategy from ``invariants.catalog.CATCHES``) and each seed, runs
``harness run --strategy S --faults mixed --duration D --bug B --seed N``; then, per strategy
and seed, the same without a bug. Prints one line per run as it ends and the table at the end:
catches per bug, and the median time to detection (a catch is seen at the final check, after
the load and the settling, so its time is load + settle seconds), and for the correct code
passes, failures and vacuous passes. Every run keeps its report folder under ``--out``.

Usage, with the stack up (``harness up``)::

    .venv/bin/python benchmarks/mixed_catch.py [--seeds 3] [--first-seed 1] [--duration 60s]
        [--bugs a,b] [--strategies lock,saga,2pc] [--out reports/mixed-catch]
        [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import json
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
    try:
        report: dict[str, Any] = json.loads((folder / "report.json").read_text())
        settle = json.loads((folder / "settle.json").read_text())[strategy]["seconds"]
    except (OSError, ValueError, KeyError):
        return Outcome(bug, strategy, seed, proc.returncode, (), False, False, 0, None, wall)
    entry = report["strategies"][strategy]
    broken = tuple(i["name"] for i in entry["invariants"] if not i["ok"])
    expect = CATCHES[bug].invariants if bug else ()
    caught = bool(set(broken) & set(expect))
    coverage = entry.get("coverage") or {}
    ttd = round(float(report["duration_s"]) + float(settle), 1) if caught else None
    return Outcome(bug, strategy, seed, proc.returncode, broken, caught,
                   bool(coverage.get("vacuous")), len(coverage.get("reached") or {}), ttd, wall)


def table(outcomes: list[Outcome]) -> str:
    lines = ["| bug / code | strategy | runs | caught | median TTD s | notes |",
             "| --- | --- | --- | --- | --- | --- |"]
    keys = sorted({(o.bug or "", o.strategy) for o in outcomes})
    for bug, strategy in keys:
        mine = [o for o in outcomes if (o.bug or "") == bug and o.strategy == strategy]
        if bug:
            ttds = [o.ttd_s for o in mine if o.ttd_s is not None]
            median = f"{statistics.median(ttds):.1f}" if ttds else "-"
            missed = [o.seed for o in mine if not o.caught]
            lines.append(f"| {bug} | {strategy} | {len(mine)} | {sum(o.caught for o in mine)} |"
                         f" {median} | missed seeds {missed or 'none'} |")
        else:
            failed = [o.seed for o in mine if o.exit_code != 0]
            vacuous = [o.seed for o in mine if o.vacuous]
            reached = statistics.median(o.reached for o in mine)
            lines.append(f"| correct | {strategy} | {len(mine)} | passed"
                         f" {len(mine) - len(failed)} | - | failed seeds {failed or 'none'};"
                         f" vacuous {vacuous or 'none'}; median situations reached {reached:g}"
                         f" |")
    return "\n".join(lines)


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
    args = ap.parse_args()
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
