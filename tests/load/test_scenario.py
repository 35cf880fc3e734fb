"""Scenario files: validated on load; bad input names the file, line and field (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.paths import REPO_ROOT
from harness.run import scenario as sc


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_the_default_scenario_loads_with_its_documented_values() -> None:
    scenario = sc.load()
    assert scenario.name == "default" and scenario.strategies == ("lock", "saga", "2pc")
    assert scenario.workload.hot_section == "FRONT" and scenario.workload.seats_max == 4
    assert scenario.retry.base_s == pytest.approx(0.1)
    assert scenario.workload.think_time_s == pytest.approx((0.05, 0.5))
    assert scenario.workload.seat_map_max_age_s == 0.0


def test_seat_map_max_age_is_a_duration(tmp_path: Path) -> None:
    scenario = sc.load(write(tmp_path, '[workload]\nseat_map_max_age = "1500ms"\n'))
    assert scenario.workload.seat_map_max_age_s == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ('users = 3\n\n[workload]\nhot_share = 1.5\n', 4, "workload.hot_share"),
        ('[workload]\nseats_min = 1\n\n[retry]\nmax_attempts = 0\n', 5, "retry.max_attempts"),
        ('seed = 1\nstrategy = "paxos"\n', 2, "strategy"),
        ('duration = "soon"\n', 1, "duration"),
        ('[settle]\ntimeout = "1m"\nwait_for_hold = true\n', 3, "settle.wait_for_hold"),
        ('colour = "red"\n', 1, "colour"),
        ('workload.shape = "spike"\n', 1, "workload.shape"),
        ('[workload]\nseats_min = 4\nseats_max = 2\n', 3, "workload.seats_max"),
        ('[[faults]]\nstart = "1s"\nduration = "2s"\nfault = "latency"\ntarget = "redis"\n'
         '[[faults]]\nstart = "later"\nduration = "1s"\nfault = "partition"\n'
         'target = "redis"\n', 7, "faults[1] (partition)"),
        ('bug = "no-such-bug"\n', 1, "bug"),
        ('[workload]\nseat_map_max_age = "often"\n', 2, "workload.seat_map_max_age"),
        ('users = 3\n\n[thresholds]\np95_ms = 800\np42_ms = 10\n', 5, "thresholds.p42_ms"),
        ('[thresholds]\nunknown_share = 1.5\n', 2, "thresholds.unknown_share"),
        ('[thresholds]\np95_ms = "fast"\n', 2, "thresholds.p95_ms"),
        ('[thresholds]\nerror_rate = -0.1\n', 2, "thresholds.error_rate"),
    ],
)
def test_a_bad_field_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        sc.load(path)
    assert str(caught.value).startswith(f"{path}:{line}: {field}: ")


def test_thresholds_are_read_with_their_limits(tmp_path: Path) -> None:
    scenario = sc.load(write(tmp_path, "[thresholds]\np95_ms = 800\nunknown_share = 0.05\n"
                                       "error_rate = 0.1\nmin_rps = 2\n"))
    assert dict(scenario.thresholds) == {"p95_ms": 800.0, "unknown_share": 0.05,
                                         "error_rate": 0.1, "min_rps": 2.0}
    assert sc.load().thresholds == {}


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'users = 3\n[workload\nhot_share = 0.5\n')
    with pytest.raises(UsageError) as caught:
        sc.load(path)
    assert str(caught.value).startswith(f"{path}:2: invalid TOML")


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'users = 3\nstrategy = "lock"\nseed = 1\n')
    scenario = sc.with_overrides(sc.load(path), users=9, strategy="2pc", seed=None,
                                 duration_s=5.0)
    assert (scenario.users, scenario.strategy, scenario.seed, scenario.duration_s) == (
        9, "2pc", 1, 5.0)


def test_a_bad_flag_names_the_flag() -> None:
    with pytest.raises(UsageError, match=r"^--faults: unknown fault schedule"):
        sc.with_overrides(sc.load(), faults="earthquake")
    with pytest.raises(UsageError, match=r"^--bug: unknown bug"):
        sc.with_overrides(sc.load(), bug="typo")


def test_harness_run_with_a_bad_scenario_exits_2_and_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'users = 5\n\n[workload]\nabandon_share = "half"\n')
    result = subprocess.run(
        [sys.executable, "-m", "harness", "--state-dir", str(tmp_path / "no-stack"), "run",
         "--scenario", str(path), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}:4: workload.abandon_share: must be a number" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_inline_fault_schedule_is_validated_by_the_fault_layer(tmp_path: Path) -> None:
    path = write(tmp_path, '[[faults]]\nstart = "2s"\nduration = "3s"\nfault = "partition"\n'
                           'target = "redis"\nlabel = "cut-redis"\n')
    scenario = sc.load(path)
    assert scenario.faults == "inline"
    assert scenario.schedule is not None
    [entry] = scenario.schedule
    assert (entry.start_s, entry.duration_s, entry.target, entry.name) == (
        2.0, 3.0, "redis", "cut-redis")
    bad = write(tmp_path, 'seed = 1\n[[faults]]\nstart = "2s"\nduration = "3s"\n'
                          'fault = "partition"\ntarget = "the-moon"\n')
    with pytest.raises(UsageError, match=rf"^{bad}:\d+: .*faults\[0\]"):
        sc.load(bad)
