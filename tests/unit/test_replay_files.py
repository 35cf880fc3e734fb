"""What a run records for replay, read back (no stack): scenario.toml round-trips, the fault
timeline of faults.jsonl becomes an inline schedule at the same offsets, bad folders are exit 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from chaos.schedules import build
from harness.cli import main
from harness.errors import UsageError
from harness.replay.recorded import read_report, replay_scenario, timeline
from harness.report import write_report
from harness.report.model import ReplayLink, Report
from harness.run import scenario as scenarios
from harness.run.scenario_toml import dump
from invariants import INVARIANT_NAMES


def test_the_default_scenario_round_trips_through_toml() -> None:
    original = scenarios.load()
    again = scenarios.parse(dump(original, header="a\nb"), Path("again.toml"))
    assert dataclasses.replace(again, path=original.path) == original


def test_an_inline_schedule_with_strategies_env_and_thresholds_round_trips() -> None:
    schedule = tuple(dataclasses.replace(e, strategy="lock")
                     for e in build("mixed", seed=3, duration_s=60, strategy="lock"))
    original = dataclasses.replace(
        scenarios.load(), faults=scenarios.INLINE, schedule=schedule, bug="lock-no-fencing",
        service=dataclasses.replace(scenarios.load().service, env={"LOCK_LEASE_MS": "1000"}),
        thresholds={"p95_ms": 800.0, "unknown_share": 0.05, "min_rps": 2.0})
    text = dump(original)
    assert text.count("[[faults]]") == len(schedule) > 0
    assert "[thresholds]" in text  # a replay judges the run's limits too
    again = scenarios.parse(text, Path("again.toml"))
    assert dataclasses.replace(again, path=None) == dataclasses.replace(original, path=None)
    empty = dataclasses.replace(original, schedule=())
    assert "faults = []" in dump(empty)
    assert scenarios.parse(dump(empty), Path("e.toml")).schedule == ()


LOAD = {"requests": 0, "rps": 0.0, "latency_ms": {"p50": 0, "p95": 0, "p99": 0},
        "outcomes": {"sold": 0, "conflict": 0, "payment_failed": 0, "unknown": 0}}


def _run_folder(tmp: Path, strategies: dict[str, list[str]], fault_lines: list[dict[str, object]],
                *, strategy: str = "all") -> Path:
    run = tmp / "run"
    run.mkdir()
    scenario = scenarios.with_overrides(scenarios.load(), strategy=strategy, faults="mixed",
                                        seed=42, duration_s=60.0)
    (run / "scenario.toml").write_text(dump(scenario))
    invariants = {s: [{"name": n, "ok": n not in broken, "violations": int(n in broken),
                       "examples": []}
                      for n in INVARIANT_NAMES]
                  for s, broken in strategies.items()}
    report = {"schema": 1, "run_id": "r1", "seed": 7, "scenario": "default",
              "bug": "idempotency-ignored", "faults": "mixed", "started_at": "now",
              "duration_s": 30.0, "verdict": "fail",
              "strategies": {s: {"load": LOAD, "faults": [], "invariants": invs}
                             for s, invs in invariants.items()}}
    (run / "report.json").write_text(json.dumps(report))
    (run / "faults.jsonl").write_text("".join(json.dumps(line) + "\n" for line in fault_lines))
    return run


START = {"event": "start", "label": "redis-partition", "fault": "partition", "target": "redis",
         "params": {}, "strategy": "saga"}
STOP = {"event": "stop", "label": "redis-partition", "fault": "partition", "target": "redis",
        "strategy": "saga", "observed": {}}


def test_the_timeline_uses_scheduled_offsets_or_else_the_observed_ones(tmp_path: Path) -> None:
    lines: list[dict[str, object]] = [
        {**START, "t": 4.53, "start_s": 4.5, "duration_s": 10.0},
        {**STOP, "t": 14.6},
        {**START, "t": 20.2},  # an older run: no scheduled offsets
        {**STOP, "t": 23.7},
        {**START, "strategy": "lock", "t": 5.0, "start_s": 5.0, "duration_s": 2.0},
        {**START, "strategy": "lock", "label": "x", "t": 25.0},  # never stopped: to the end
    ]
    run = _run_folder(tmp_path, {"saga": ["idempotent_effects"], "lock": []}, lines)
    got = [(e.strategy, e.label, e.start_s, e.duration_s) for e in timeline(run, 30.0)]
    assert got == [("saga", "redis-partition", 4.5, 10.0), ("lock", "redis-partition", 5.0, 2.0),
                   ("saga", "redis-partition", 20.2, 3.5), ("lock", "x", 25.0, 5.0)]


def test_a_replay_runs_the_reports_seed_bug_and_strategy_with_the_inline_timeline(
    tmp_path: Path
) -> None:
    lines: list[dict[str, object]] = [{**START, "t": 4.5, "start_s": 4.5, "duration_s": 10.0},
                                      {**STOP, "t": 14.5}]
    run = _run_folder(tmp_path, {"saga": ["idempotent_effects"]}, lines)
    recorded = read_report(run)
    assert recorded.broken == {"saga": ("idempotent_effects",)} and recorded.verdict == "fail"
    scenario = replay_scenario(recorded)
    assert (scenario.seed, scenario.bug, scenario.strategy, scenario.duration_s) == (
        7, "idempotency-ignored", "saga", 30.0)
    assert scenario.faults == scenarios.INLINE
    assert [(e.start_s, e.duration_s, e.fault, e.target, e.strategy)
            for e in scenario.schedule or ()] == [(4.5, 10.0, "partition", "redis", None)]


@pytest.mark.parametrize("broken_file,message", [
    ("report.json", "report.json"), ("scenario.toml", "scenario.toml"),
    ("faults.jsonl", "faults.jsonl"),
])
def test_a_folder_that_cannot_be_replayed_names_the_file(tmp_path: Path, broken_file: str,
                                                         message: str) -> None:
    run = _run_folder(tmp_path, {"saga": ["idempotent_effects"]}, [{**START, "t": 1.0}])
    (run / broken_file).unlink()
    with pytest.raises(UsageError, match=message):
        replay_scenario(read_report(run))


def test_a_bad_fault_line_names_the_file_and_line(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, {"saga": ["idempotent_effects"]}, [{**START, "t": 1.0}])
    with (run / "faults.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(UsageError, match=r"faults.jsonl:2"):
        timeline(run, 30.0)


def test_shrinking_a_run_that_passed_is_exit_2_nothing_to_shrink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run_folder(tmp_path, {"saga": []}, [])
    report = json.loads((run / "report.json").read_text())
    (run / "report.json").write_text(json.dumps({**report, "verdict": "pass"}))
    assert main(["shrink", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "nothing to shrink" in err and "report.json" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags,flag", [(["--need", "4"], "--need"), (["--tries", "0"], "--tries"),
                                        (["--budget", "soon"], "--budget")])
def test_bad_shrink_flags_are_exit_2_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], flag: str
) -> None:
    run = _run_folder(tmp_path, {"saga": ["idempotent_effects"]}, [])
    try:
        code = main(["shrink", str(run), *flags, "--out", str(tmp_path / "out")])
    except SystemExit as exc:  # argparse refuses a malformed value itself
        code = int(str(exc.code))
    assert code == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_replays_report_keeps_replay_of_and_links_the_original(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, {"saga": ["idempotent_effects"]}, [])
    report = Report.from_json(json.loads((run / "report.json").read_text()))
    replay = tmp_path / "replay"
    replay.mkdir()
    link = ReplayLink("r1", "../run")
    write_report(replay, dataclasses.replace(report, run_id="r2", replay_of=link))
    written = json.loads((replay / "report.json").read_text())
    assert written["replay_of"] == {"run_id": "r1", "path": "../run"}
    assert 'href="../run/report.html"' in (replay / "report.html").read_text()
    write_report(run, report)  # an ordinary run: no key, no link
    assert "replay_of" not in json.loads((run / "report.json").read_text())
    assert 'id="replay-of"' not in (run / "report.html").read_text()
