"""What ``harness shrink`` writes: ``shrink.jsonl`` (one line per candidate, as it is decided)
and ``min.toml`` (the smallest accepted scenario, runnable by ``harness run --scenario``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.replay.shrink import Candidate, Outcome
from harness.run import scenario as scenarios
from harness.run.scenario_toml import dump


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    """The candidate's scenario parts (``service``: its hold TTL and stuck-saga delay;
    ``settle``: its settling bound)."""
    out: dict[str, Any] = {"step": candidate.step,
                           "faults": [f.to_json() for f in candidate.faults],
                           "duration_s": candidate.duration_s, "users": candidate.users}
    if candidate.clocks is not None:
        out["service"] = {"hold_ttl_s": candidate.clocks.hold_ttl_s,
                          "saga_stale_s": candidate.clocks.saga_stale_s}
        out["settle"] = {"timeout_s": candidate.clocks.settle_s}
    return out


def outcome_line(outcome: Outcome, *, strategy: str, elapsed_s: float,
                 runs: list[str]) -> dict[str, Any]:
    """One ``shrink.jsonl`` line: the candidate, fails/tries, accepted, its re-runs' folders."""
    return {"candidate": outcome.number, "strategy": strategy,
            **candidate_json(outcome.candidate), "fails": outcome.fails,
            "tries": outcome.runs, "accepted": outcome.accepted,
            "undecided": outcome.undecided, "runs": runs, "elapsed_s": round(elapsed_s, 1)}


def append_line(path: Path, line: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=False) + "\n")


def reproduce_command(min_toml: Path, state_dir: str | None) -> str:
    """The exact command that runs the minimal scenario again."""
    state = f"--state-dir {state_dir} " if state_dir else ""
    return f"harness {state}run --scenario {min_toml}"


def write_min(path: Path, scenario: scenarios.Scenario, *, original: Candidate,
              best: Candidate, note: str, command: str) -> None:
    """``min.toml``: ``scenario`` with a header saying what it was shrunk from."""
    header = "\n".join([
        "The smallest failing run `harness shrink` found.",
        f"original: {original.describe()}",
        f"minimal:  {best.describe()}",
        note,
        f"reproduce: {command}",
    ])
    path.write_text(dump(scenario, header=header), encoding="utf-8")
