"""SIGTERM ends `harness run` as Ctrl-C does: the load stops, every fault is healed, exit 143.

What ``kill``, ``timeout``, systemd and CI runners send used to kill the harness at once and
leave its faults applied (a toxic on a proxy, an armed failpoint of the service) until someone
ran `harness chaos heal`. The run here applies a toxic and arms a failpoint early and keeps
them for longer than the test waits; it gets SIGTERM while both are applied.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.paths import REPO_ROOT
from harness.stack.heal import verify_healed
from target_service import introspection
from tests.conftest import TEST_STATE_DIR, StackHandle
from tests.load.helpers import QUICK_BUYERS, QUICK_SETTLE, write_scenario

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: both faults start a second into the load and would last until long after the test
LASTING_FAULTS = """
name = "sigterm"
seed = 7
users = 4
spawn_rate = 4
duration = "120s"
strategy = "saga"
""" + QUICK_BUYERS + QUICK_SETTLE + """
[[faults]]
start = "1s"
duration = "110s"
fault = "latency"
target = "seats_pg"
label = "slow-seats"
params = { latency_ms = 20 }

[[faults]]
start = "1s"
duration = "110s"
fault = "explore"
target = "saga-after-reserve"
label = "delay-saga"
params = { action = "delay", seconds = 0.1, count = 1000000, chance = 0.05 }
"""
#: how long the run may take to stop its load, heal and exit after SIGTERM
EXIT_WITHIN_S = 60.0


def fault_events(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def processes_of(run_dir: Path) -> list[str]:
    """Processes whose command line names the run's folder: the harness and its Locust."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(str(run_dir) in part for part in cmdline):
            found.append(f"{proc.info['pid']}: {' '.join(cmdline)[:200]}")
    return found


async def test_sigterm_stops_the_run_heals_every_fault_and_exits_143(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    log = run_dir / "faults" / "faults-saga.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness", "--state-dir", str(TEST_STATE_DIR), "run",
        "--scenario", str(write_scenario(tmp_path, LASTING_FAULTS)), "--out", str(run_dir),
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len([e for e in fault_events(log) if e["event"] == "start"]) < 2:
            assert proc.returncode is None, "the run ended before its faults were applied"
            assert time.monotonic() < deadline, "the faults were not applied within 120s"
            await asyncio.sleep(0.2)
        state = cli_stack.stack.require_state()
        assert any("seats_pg" in p for p in await verify_healed(state))  # the toxic is there
        assert "saga-after-reserve" in await introspection.armed_failpoints(state.stores())
        assert any("locust" in p for p in processes_of(run_dir)), processes_of(run_dir)

        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = await asyncio.wait_for(proc.communicate(), EXIT_WITHIN_S)
        took = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = err.decode()
    assert proc.returncode == 143, stderr[-3000:]
    assert "harness: SIGTERM: stopping" in stderr
    assert stderr.rstrip().endswith("harness: interrupted by SIGTERM"), stderr[-3000:]
    assert took < EXIT_WITHIN_S
    # the run's own stops (not the fixture's heal afterwards), logged and merged
    stops = {e["label"] for e in fault_events(log) if e["event"] == "stop"}
    assert stops == {"slow-seats", "delay-saga"}
    assert (run_dir / "faults.jsonl").exists()
    assert await verify_healed(state) == []
    assert await introspection.armed_failpoints(state.stores()) == {}
    assert processes_of(run_dir) == []
    assert not (run_dir / "report.json").exists()  # interrupted: no verdict
    assert "report:" not in out.decode()
