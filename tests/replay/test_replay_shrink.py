"""`harness replay` and `harness shrink` on a tiny real failing run (through the CLI, against
the test stack): the seeded bug ``idempotency-ignored`` under one short inline blackhole of the
service's answers (``target-blackhole``'s fault)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from harness.paths import REPO_ROOT
from harness.run import scenario as scenarios
from tests.conftest import StackHandle
from tests.load.helpers import QUICK_BUYERS, QUICK_SETTLE, harness_cli

SCHEMA = json.loads((REPO_ROOT / "tests" / "report" / "report_schema.json").read_text())
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack, pytest.mark.slow]

#: the catching run of idempotency-ignored, short: one 4 s blackhole of the service's answers
#: once every buyer has signed up (Locust takes a few seconds to start), then 5 s in which the
#: answers stuck when it ends are retried (same key) and, with the bug, act again
TINY = """
name = "tiny"
strategy = "saga"
bug = "idempotency-ignored"
users = 6
spawn_rate = 6
duration = "14s"
""" + QUICK_BUYERS + QUICK_SETTLE + """
[[faults]]
start = "5s"
duration = "4s"
fault = "half-open"
target = "target_api"
params = { stream = "downstream" }
label = "target-blackhole"
"""
#: seeds tried for a failing original: a blackhole whose buyers all walked away shows nothing
SEEDS = (1, 2, 3)


def failing_run(tmp_path: Path) -> Path:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    outputs = []
    for seed in SEEDS:
        out = tmp_path / f"original-{seed}"
        done = harness_cli("run", "--scenario", str(scenario), "--seed", str(seed),
                           "--out", str(out), timeout=300)
        assert done.returncode in (0, 1), done.stderr[-2000:]
        if done.returncode == 1:
            return out
        outputs.append(done.stdout[-1500:])
    raise AssertionError("no seed failed:\n" + "\n".join(outputs))


def started(run_dir: Path) -> list[tuple[float, float, str, str]]:
    lines = [json.loads(line) for line in (run_dir / "faults.jsonl").read_text().splitlines()]
    return [(e["start_s"], e["duration_s"], e["fault"], e["target"]) for e in lines
            if e["event"] == "start"]


async def test_replay_runs_the_same_run_again_and_links_the_original(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    original = failing_run(tmp_path)
    out = tmp_path / "replay"
    done = harness_cli("replay", str(original), "--out", str(out), timeout=300)
    report = json.loads((out / "report.json").read_text())
    assert done.returncode == (1 if report["verdict"] == "fail" else 0), done.stderr[-2000:]
    before = json.loads((original / "report.json").read_text())
    assert report["replay_of"] == {"run_id": original.name, "path": f"../{original.name}"}
    jsonschema.validate(report, SCHEMA)  # the contract's form, plus the replay_of addition
    assert (report["seed"], report["bug"], list(report["strategies"]), report["duration_s"]) == (
        before["seed"], before["bug"], list(before["strategies"]), before["duration_s"])
    assert report["faults"] == "inline"
    # the same fault timeline, at the same offsets
    assert started(out) == started(original) and started(original)
    html = (out / "report.html").read_text()
    assert f'href="../{original.name}/report.html"' in html
    # the recorded scenario is the original's (but for the schedule, now inline)
    mine = scenarios.load(out / "scenario.toml")
    theirs = scenarios.load(original / "scenario.toml")
    assert dataclasses.replace(mine, path=None, faults="x", schedule=None) == dataclasses.replace(
        theirs, path=None, faults="x", schedule=None)


async def test_shrink_writes_candidates_and_a_min_toml_that_is_what_failed(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    original = failing_run(tmp_path)
    out = tmp_path / "shrink"
    done = harness_cli("shrink", str(original), "--tries", "1", "--need", "1", "--budget", "100s",
                       "--out", str(out), timeout=400)
    assert done.returncode == 1, done.stderr[-3000:]
    min_toml = out / "min.toml"
    assert "reproduce: harness --state-dir " in done.stdout
    assert f"run --scenario {min_toml}" in done.stdout
    lines = [json.loads(line) for line in (out / "shrink.jsonl").read_text().splitlines()]
    assert lines, done.stderr[-3000:]
    # the biggest cut first: the load ends soon after the violation or the last window
    assert lines[0]["step"].startswith(("cut at the first violation", "trim the load"))
    assert lines[0]["duration_s"] < 14.0
    for line in lines:
        assert {"faults", "duration_s", "users", "fails", "tries", "accepted"} <= set(line)
        assert line["tries"] <= 1 and line["accepted"] == (line["fails"] >= 1)
    minimal = scenarios.load(min_toml)
    assert minimal.faults == scenarios.INLINE and minimal.bug == "idempotency-ignored"
    assert minimal.strategy == "saga" and minimal.duration_s <= 14.0
    accepted = [line for line in lines if line["accepted"]]
    if accepted:  # min.toml is exactly the scenario of an accepted candidate's failing run
        size = (minimal.duration_s, minimal.users, len(minimal.schedule or ()))
        same = [line for line in accepted
                if (line["duration_s"], line["users"], len(line["faults"])) == size]
        assert same, (size, accepted)
        last = same[-1]
        failed_run = out / last["runs"][-1]
        assert json.loads((failed_run / "report.json").read_text())["verdict"] == "fail"
        ran = scenarios.load(failed_run / "scenario.toml")
        assert dataclasses.replace(ran, path=None) == dataclasses.replace(minimal, path=None)
    else:  # nothing accepted within the budget: the original, said so
        assert "no smaller candidate was accepted" in min_toml.read_text()
