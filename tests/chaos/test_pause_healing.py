"""Stopping a pause always brings the system back (issue 17): however the service's self-stops
(the ``lock-pause-before-write`` failpoint) and the relay's rounds interleave with the stop,
every process ends running and serving. The pause (at the step) and the lock-takeover relay
are started and stopped many times, at seeded moments, against real processes under lock load.

Tiers: this campaign is in the slow tier. The fast tier proves its parts directly: a self-stop
firing answered late is dropped (``tests/unit/test_self_stop_window.py``, the cause of issue
17's "did not continue"); stopping a pause at the step and the relay continues the frozen
process and disarms the step (``tests/chaos/test_process_faults.py``, the two ``..._step_...``
tests); relay stops that lose a cancellation or whose round never begins still continue the
holder (``tests/chaos/test_pause_relay.py``); any random bounded schedule, pauses included,
ends fully healed (``tests/chaos/test_random_schedules.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Iterator

import httpx
import psutil
import pytest

from chaos.faults import AnyFault, make
from chaos.processes import running_targets
from target_service.seed import reset_data
from tests.chaos.links import Buyer, assert_healed, ctx_for
from tests.chaos.test_process_faults import health_answers
from tests.conftest import StackHandle

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

ROUNDS = 16
BUYERS = 4


async def buy_until(stop: asyncio.Event, url: str, seats: Iterator[str]) -> int:
    """Order a seat, let a rival order it too (demand for the relay's pick), confirm; until
    ``stop``. The confirms answered (any answer: a frozen one answers once continued)."""
    answered = 0
    async with Buyer(url, timeout_s=120) as buyer, Buyer(url, timeout_s=120) as rival:
        while not stop.is_set():
            seat = next(seats)  # cycles: a seat sold already is refused, the next one tried
            r = await buyer.post("/api/orders", {"event_id": "evt_default", "seats": [seat],
                                                 "strategy": "lock"})
            if r.status_code != 201:
                continue
            order = str(r.json()["order_id"])
            await rival.post("/api/orders", {"event_id": "evt_default", "seats": [seat],
                                             "strategy": "lock"})
            with contextlib.suppress(httpx.TimeoutException):
                await buyer.confirm(order)
                answered += 1
    return answered


async def test_pause_and_relay_stops_always_leave_every_process_running(
    stack: StackHandle,
) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    seats = itertools.cycle([f"{row}-{n:02d}"
                             for row, n in itertools.product("CDEFGHIJ", range(1, 41))])
    stop = asyncio.Event()
    load = [asyncio.create_task(buy_until(stop, stack.target_url, seats)) for _ in range(BUYERS)]
    rng = random.Random(17)
    at_step = kept = 0
    try:
        async with ctx_for(stack.state) as ctx:
            for i in range(ROUNDS):
                # the relay's pick: past 1.5 s one rival order (each seat here has one) will do
                fault: AnyFault = (
                    make("lock-takeover-relay", "target", {"lock_wait_s": 2.0}) if i % 2
                    else make("pause", "target", {"at": "lock-pause-before-write",
                                                  "lock_wait_s": 1.0}))
                await fault.start(ctx)
                await asyncio.sleep(rng.uniform(0.0, 1.5))  # stop at seeded moments
                await fault.stop(ctx)
                seen = fault.observed()
                at_step += seen.get("picked") == "failpoint"
                kept += sum(p["kept"] is not None for p in seen.get("picks", []))
                procs = await running_targets(ctx)
                assert len(procs) == 2 and not any(
                    psutil.Process(p.pid).status() == psutil.STATUS_STOPPED for p in procs), (
                    i, seen)
    finally:
        stop.set()
        answered = await asyncio.wait_for(asyncio.gather(*load), 120)
    # not vacuous: processes did stop themselves at the step, and the relay kept some
    assert at_step >= 1 and kept >= 1, (at_step, kept)
    assert sum(answered) > 0
    assert await health_answers(stack.target_url, attempts=10) == 10
    await assert_healed(stack.state)
