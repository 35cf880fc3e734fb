"""Schedules run beside the load log every fault, and healing is guaranteed: at the end, on
cancellation (Ctrl-C), on an exception, and after a harness that was SIGKILLed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from chaos import failpoints
from chaos.errors import FaultError
from chaos.inline import parse_inline
from chaos.processes import processes
from chaos.runner import run_schedule
from harness.paths import REPO_ROOT
from harness.stack.heal import heal_all, stopped_processes, verify_healed
from tests.chaos.links import assert_healed, ctx_for, eventually
from tests.conftest import StackHandle

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: Every kind of leftover at once: a disabled proxy, toxics, a paused process, an armed failpoint.
EVERYTHING = [
    {"start": 0, "duration": 60, "fault": "partition", "target": "payments_api"},
    {"start": 0, "duration": 60, "fault": "latency", "target": "seats_pg",
     "params": {"latency_ms": 50}},
    {"start": 0, "duration": 60, "fault": "half-open", "target": "redis"},
    {"start": 0, "duration": 60, "fault": "pause", "target": "target-0",
     "params": {"holding_locks": False}},
    {"start": 0, "duration": 60, "fault": "crash", "target": "finalize-after-capture"},
]


def events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def assert_broken(stack: StackHandle) -> None:
    problems = await verify_healed(stack.state)
    assert any("payments_api enabled=False" in p for p in problems), problems
    assert any("seats_pg" in p for p in problems) and any("redis" in p for p in problems)
    assert stopped_processes(stack.state)
    assert await failpoints.armed(stack.state) == {"finalize-after-capture": 1}


async def assert_fully_healed(stack: StackHandle) -> None:
    await assert_healed(stack.state)
    assert await failpoints.armed(stack.state) == {}


async def test_a_schedule_runs_logs_and_returns_its_windows(
    stack: StackHandle, tmp_path: Path
) -> None:
    schedule = parse_inline([
        {"start": 0.1, "duration": 0.6, "fault": "partition", "target": "redis",
         "label": "redis-partition"},
        {"start": 0.4, "duration": 0.6, "fault": "latency", "target": "payments_api",
         "params": {"latency_ms": 100, "jitter_ms": 20}},
    ])
    log = tmp_path / "faults.jsonl"
    async with ctx_for(stack.state) as ctx:
        windows = await run_schedule(schedule, ctx, faults_log=log, t0=time.monotonic(),
                                     stop=asyncio.Event(), log_extra={"strategy": "lock"})
    assert [(w.name, w.target) for w in windows] == [
        ("redis-partition", "redis"), ("latency", "payments_api")]
    for window, entry in zip(windows, schedule, strict=True):  # never early; late only by load
        assert entry.start_s <= window.start_s < entry.start_s + 10
        assert entry.end_s <= window.end_s < entry.end_s + 10
    lines = events(log)
    assert [(e["event"], e["label"]) for e in lines] == [
        ("start", "redis-partition"), ("start", "latency"),
        ("stop", "redis-partition"), ("stop", "latency")]
    assert all(e["strategy"] == "lock" and isinstance(e["wall"], float) for e in lines)
    assert set(lines[0]) >= {"event", "label", "fault", "target", "t", "wall"}
    await assert_fully_healed(stack)


async def test_the_stop_event_ends_running_faults_and_skips_later_ones(
    stack: StackHandle, tmp_path: Path
) -> None:
    schedule = parse_inline([
        {"start": 0, "duration": 30, "fault": "partition", "target": "redis"},
        {"start": 20, "duration": 5, "fault": "partition", "target": "payments_api"},
    ])
    stop = asyncio.Event()
    log = tmp_path / "faults.jsonl"
    async with ctx_for(stack.state) as ctx:
        task = asyncio.create_task(run_schedule(schedule, ctx, faults_log=log,
                                                t0=time.monotonic(), stop=stop))
        await eventually(lambda: len(events(log)) == 1)
        stop.set()
        windows = await asyncio.wait_for(task, 30)
    assert [(w.name, w.target) for w in windows] == [("partition", "redis")]
    assert windows[0].end_s < 10
    await assert_fully_healed(stack)


async def test_cancelling_a_running_schedule_heals_everything(
    stack: StackHandle, tmp_path: Path
) -> None:
    log = tmp_path / "faults.jsonl"
    async with ctx_for(stack.state) as ctx:
        task = asyncio.create_task(run_schedule(
            parse_inline(EVERYTHING), ctx, faults_log=log, t0=time.monotonic(),
            stop=asyncio.Event()))
        await eventually(lambda: len(events(log)) == len(EVERYTHING), within=20)
        await assert_broken(stack)
        task.cancel()  # what Ctrl-C does to asyncio.run's main task
        with pytest.raises(asyncio.CancelledError):
            await task
    await assert_fully_healed(stack)
    stops = [e for e in events(log) if e["event"] == "stop"]
    assert len(stops) == len(EVERYTHING)


async def test_an_exception_in_the_schedule_propagates_after_healing(
    stack: StackHandle, tmp_path: Path
) -> None:
    schedule = parse_inline([
        {"start": 0, "duration": 30, "fault": "partition", "target": "redis"},
        {"start": 0.3, "duration": 5, "fault": "kill", "target": "target-9"},  # no such process
    ])
    log = tmp_path / "faults.jsonl"
    async with ctx_for(stack.state) as ctx:
        with pytest.raises(FaultError, match=r"'kill' on 'target-9'.*no process 'target-9'"):
            await asyncio.wait_for(run_schedule(schedule, ctx, faults_log=log,
                                                t0=time.monotonic(), stop=asyncio.Event()), 30)
    assert [e["event"] for e in events(log)] == ["start", "error", "stop"]
    await assert_fully_healed(stack)


INJECTOR = """
import asyncio, sys, time
from pathlib import Path
from chaos.context import ChaosContext
from chaos.inline import parse_inline
from chaos.processes import processes
from harness.stack import Stack

async def main() -> None:
    state = Stack(Path(sys.argv[1])).require_state()
    async with ChaosContext(state) as ctx:
        for entry in parse_inline(%r):
            await entry.make().start(ctx)
        print("applied", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_heal_all_repairs_what_a_sigkilled_harness_left(stack: StackHandle) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", INJECTOR % (EVERYTHING,), str(stack.state.state_dir),
        stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.strip() == b"applied"
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no finally, no atexit: nothing of it runs
        await asyncio.wait_for(proc.wait(), 10)
    await assert_broken(stack)
    report = await heal_all(stack.state)
    assert report.proxies_enabled == ["payments_api"]
    assert sorted(t.split("/")[0] for t in report.toxics_removed) == ["redis", "seats_pg"]
    assert len(report.processes_continued) == 1
    assert report.failpoints_disarmed == ["finalize-after-capture"]
    await assert_fully_healed(stack)
    again = await heal_all(stack.state)
    assert not again.healed_anything


async def test_up_on_a_running_stack_heals_leftovers(stack: StackHandle) -> None:
    async with ctx_for(stack.state) as ctx:
        for entry in parse_inline(EVERYTHING):
            await entry.make().start(ctx)  # never stopped: like a killed harness
    await assert_broken(stack)
    await stack.stack.up()
    await assert_fully_healed(stack)


def refusals(stack: StackHandle) -> int:
    """How many stale admin changes the service processes refused (their logs)."""
    return sum(log.read_text(errors="replace").count("admin failpoint change refused")
               for log in stack.state.logs_dir.glob("target-*.log"))


async def test_arming_works_while_every_service_process_is_paused_and_queues_nothing(
    stack: StackHandle,
) -> None:
    """The chaos layer arms through the door alone: with every service process paused the row
    goes into the table at once, and no request waits in a paused process's socket to arm the
    failpoint again after the heal (a crash after 'everything healed')."""
    async with ctx_for(stack.state) as ctx:
        targets = [psutil.Process(p.pid) for p in await processes(ctx)
                   if p.name.startswith("target-")]
    assert len(targets) >= 2
    before = refusals(stack)
    for proc in targets:
        proc.suspend()
    try:
        await asyncio.wait_for(
            failpoints.arm(stack.state, "finalize-after-capture", remaining=1), 10)
        assert await failpoints.armed(stack.state) == {"finalize-after-capture": 1}
        await asyncio.wait_for(failpoints.disarm(stack.state, "finalize-after-capture"), 10)
        assert await failpoints.armed(stack.state) == {}
    finally:
        for proc in targets:
            proc.resume()
    await asyncio.sleep(4 * failpoints.poll_interval_s(stack.state) + 1.0)
    assert await failpoints.armed(stack.state) == {}
    assert refusals(stack) == before  # no admin request was ever queued
