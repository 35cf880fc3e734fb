"""Hypothesis draws random bounded schedules; after each one runs, the stack is fully healed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos import failpoints
from chaos.runner import run_schedule
from chaos.schedule_types import ScheduledFault
from harness.topology import PROXY_NAMES
from tests.chaos.links import assert_healed, ctx_for, ping_through
from tests.conftest import StackHandle

pytestmark = pytest.mark.asyncio(loop_scope="session")

NETWORK: dict[str, st.SearchStrategy[dict[str, object]]] = {
    "partition": st.just({}),
    "blackhole": st.just({}),
    "half-open": st.fixed_dictionaries({"stream": st.sampled_from(["downstream", "upstream"])}),
    "latency": st.integers(0, 200).map(lambda ms: {"latency_ms": ms, "jitter_ms": ms // 2}),
    "bandwidth": st.integers(1, 1000).map(lambda rate: {"rate_kbps": rate}),
    "reset_peer": st.integers(0, 500).map(lambda ms: {"timeout_ms": ms}),
    "slow_close": st.integers(0, 500).map(lambda ms: {"delay_ms": ms}),
    "limit_data": st.integers(1, 10_000).map(lambda n: {"bytes": n}),
}


@st.composite
def entries(draw: st.DrawFn) -> ScheduledFault:
    kind = draw(st.sampled_from([*NETWORK, "pause", "crash"]))
    params: dict[str, object]
    if kind == "pause":
        target, params = draw(st.sampled_from(["target-0", "target-1"])), {"holding_locks": False}
    elif kind == "crash":
        target, params = "finalize-after-capture", {"count": 1}
    else:
        target, params = draw(st.sampled_from(PROXY_NAMES)), draw(NETWORK[kind])
    start = draw(st.floats(0, 0.6, allow_nan=False))
    duration = draw(st.floats(0.05, 0.6, allow_nan=False))
    return ScheduledFault(start, duration, kind, target, params, f"h-{kind}")


def no_same_fault_overlap(schedule: list[ScheduledFault]) -> bool:
    return all(
        (a.fault, a.target) != (b.fault, b.target) or a.end_s <= b.start_s or b.end_s <= a.start_s
        for i, a in enumerate(schedule) for b in schedule[i + 1:]
    )


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(schedule=st.lists(entries(), min_size=1, max_size=4).filter(no_same_fault_overlap),
       interrupt=st.sampled_from([None, 0.3]))
async def test_after_any_schedule_the_stack_is_fully_healed(
    stack: StackHandle, schedule: list[ScheduledFault], interrupt: float | None
) -> None:
    stop = asyncio.Event()
    with TemporaryDirectory() as tmp:
        log = Path(tmp) / "faults.jsonl"
        async with ctx_for(stack.state) as ctx:
            task = asyncio.create_task(run_schedule(schedule, ctx, faults_log=log,
                                                    t0=time.monotonic(), stop=stop))
            cancelled = False
            if interrupt is not None:
                await asyncio.sleep(interrupt)
                cancelled = task.cancel()  # False when the schedule already ended
            try:
                await asyncio.wait_for(task, 60)
            except asyncio.CancelledError:
                assert cancelled
    await assert_healed(stack.state)
    assert await failpoints.armed(stack.state) == {}
    assert await ping_through(stack.state)
