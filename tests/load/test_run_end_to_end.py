"""`harness run` against the real test stack: report, history, Locust statistics, workers.

The fast tier's end-to-end runs: one short fault-free run of every strategy (``--strategy all``,
the demo's form) that must pass, and the run loop's edges (workers, the flash-sale shape and a
failed threshold in one run, bad flags, a fault that cannot be applied).
"""

from __future__ import annotations

import collections
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from harness.paths import REPO_ROOT
from target_service.strategies import STRATEGIES
from tests.conftest import StackHandle
from tests.load.helpers import (
    QUICK_BUYERS,
    QUICK_SETTLE,
    assert_history_matches_locust,
    events_of,
    harness_cli,
    report_of,
    write_scenario,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

SCHEMA = REPO_ROOT / "tests" / "report" / "report_schema.json"


async def test_a_short_run_of_every_strategy_passes_with_histories_that_agree_with_locust(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    result = harness_cli("run", "--scenario", str(write_scenario(tmp_path)),
                         "--strategy", "all", "--out", str(run_dir))
    assert result.returncode in (0, 1), result.stderr[-3000:]  # a verdict was reached
    report = report_of(run_dir)
    broken = [(s, i["name"], i.get("error"), i["examples"])
              for s, entry in report["strategies"].items()
              for i in entry["invariants"] if not i["ok"]]
    assert (result.returncode, report["verdict"], broken) == (0, "pass", []), result.stderr[-3000:]
    assert list(report["strategies"]) == list(STRATEGIES)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))

    events = events_of(run_dir / "history.jsonl")
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert (run_dir / "faults.jsonl").exists()
    for strategy in STRATEGIES:
        mine = [e for e in events if e["strategy"] == strategy]
        assert_history_matches_locust(mine, run_dir / f"{strategy}_stats.csv")
        completions = collections.Counter((e["op"], e["type"]) for e in mine)
        outcomes = report["strategies"][strategy]["load"]["outcomes"]
        assert outcomes["sold"] == completions[("finalize", "ok")] > 0, strategy
        assert outcomes["unknown"] == sum(v for (_, t), v in completions.items() if t == "info")
        for name in (f"{strategy}_stats.csv", f"{strategy}_stats_history.csv",
                     f"{strategy}_failures.csv"):
            assert (run_dir / name).exists(), name
        assert len(report["strategies"][strategy]["invariants"]) == 8


async def test_workers_write_one_merged_time_ordered_history(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    result = harness_cli("run", "--scenario", str(write_scenario(tmp_path)),
                         "--strategy", "lock", "--workers", "2", "--out", str(run_dir))
    assert result.returncode in (0, 1), result.stderr
    per_process = sorted((run_dir / "histories" / "lock").glob("history-*.jsonl"))
    assert len(per_process) == 2  # one per worker; the master runs no users
    events = events_of(run_dir / "history.jsonl")
    assert len(events) == sum(len(events_of(p)) for p in per_process)
    assert len({e["process"] for e in events}) == 2
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert_history_matches_locust(events, run_dir / "lock_stats.csv")


async def test_a_bad_threshold_is_exit_2_naming_the_file_and_key(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, "users = 2\n[thresholds]\np96_ms = 800\n")
    result = harness_cli("run", "--scenario", str(scenario), "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert f"{scenario}:3: thresholds.p96_ms: unknown threshold; known: p50_ms" in result.stderr
    scenario.write_text("[thresholds]\nerror_rate = 2\n")
    result = harness_cli("run", "--scenario", str(scenario), "--out", str(tmp_path / "y"))
    assert result.returncode == 2
    assert f"{scenario}:2: thresholds.error_rate: must be within 0..1" in result.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


async def test_bad_flags_exit_2_before_the_stack_is_touched(tmp_path: Path) -> None:
    result = harness_cli("run", "--faults", "earthquake", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "--faults: unknown fault schedule 'earthquake'" in result.stderr
    result = harness_cli("run", "--bug", "nope", "--out", str(tmp_path / "y"))
    assert result.returncode == 2 and "--bug: unknown bug" in result.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


async def test_a_flash_sale_run_opens_with_a_trickle_and_a_failed_threshold_fails_it(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    """One run, two behaviours: the flash-sale shape, and a failed threshold failing the run
    (reported in the JSON, the JUnit file and the console) while every invariant holds."""
    import csv

    scenario = write_scenario(tmp_path, SMALL_FLASH_SALE + THRESHOLDS)
    run_dir = tmp_path / "run"
    result = harness_cli("run", "--scenario", str(scenario), "--strategy", "saga",
                         "--out", str(run_dir))
    assert result.returncode == 1, result.stderr[-3000:]
    with (run_dir / "saga_stats_history.csv").open() as fh:
        counts = [int(row["User Count"]) for row in csv.DictReader(fh)
                  if row["Name"] == "Aggregated"]
    running = [c for c in counts if c > 0]
    # the waiting room: a tenth of the buyers first, then all of them within about a second
    assert running[0] == 1
    assert max(running) == 10
    jump = running.index(10)
    assert set(running[:jump]) <= {1}
    assert events_of(run_dir / "history.jsonl"), "the sale produced operations"

    report = report_of(run_dir)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    invariants = report["strategies"]["saga"]["invariants"]
    assert [i["name"] for i in invariants if not i["ok"]] == []  # the threshold alone fails it
    p95 = report["strategies"]["saga"]["load"]["latency_ms"]["p95"]
    assert p95 > 0
    assert report["verdict"] == "fail"
    assert report["thresholds"][0] == {"name": "saga/p95_ms", "limit": 0.0, "value": p95,
                                       "ok": False}
    (unknown,) = report["thresholds"][1:]
    assert (unknown["name"], unknown["limit"], unknown["ok"]) == ("saga/unknown_share", 1.0,
                                                                   True)
    assert 0.0 <= unknown["value"] <= 1.0
    assert f"✗ threshold saga/p95_ms: {p95:g} (limit 0)" in result.stdout
    root = ET.parse(run_dir / "junit.xml").getroot()  # noqa: S314 - our own file
    cases = root.findall("./testsuite[@name='thresholds']/testcase")
    assert [(c.get("name"), c.find("failure") is not None) for c in cases] == [
        ("p95_ms", True), ("unknown_share", False)]


SMALL_FLASH_SALE = """
name = "flash"
seed = 3
users = 10
spawn_rate = 10
duration = "20s"      # the waiting room is 15%: 3 s of one buyer, several stats samples
""" + QUICK_BUYERS + """shape = "flash-sale"
""" + QUICK_SETTLE


#: One failing threshold and one always met (the flash-sale run checks them too).
THRESHOLDS = """
[thresholds]
p95_ms = 0            # no request is that fast: fails
unknown_share = 1     # always met
"""


#: A long load whose second fault cannot be applied (there is no process ``target-9``).
BROKEN_FAULT = """
name = "broken-fault"
users = 2
spawn_rate = 2
duration = "10m"
""" + QUICK_BUYERS + QUICK_SETTLE + """
[[faults]]
start = "1s"
duration = "5s"
fault = "kill"
target = "target-9"
"""


async def test_a_fault_that_cannot_be_applied_ends_the_run_with_its_error(
        cli_stack: StackHandle, tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, BROKEN_FAULT)
    result = harness_cli("run", "--scenario", str(scenario), "--strategy", "saga",
                         "--out", str(tmp_path / "run"), timeout=300)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "saga: the fault schedule failed; stopping the load" in result.stderr
    assert "harness: error: fault 'kill' on 'target-9'" in result.stderr
    assert "Traceback" not in result.stderr
