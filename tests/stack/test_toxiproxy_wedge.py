"""A real Toxiproxy 2.12.0 that cannot be reset is restarted by the heal, and then works.

The wedge is Toxiproxy's own: on ``seats_pg``, a ``latency`` toxic with a ``reset_peer`` toxic
after it, under Postgres traffic, then removing the latency never finishes (the proxy's lock is
held for good; see ``harness/stack/toxiproxy_restart.py``). A Toxiproxy that supervisord stopped
is the other real way the reset fails (refused, not timed out). After heal_all, in both cases,
the stack runs a new Toxiproxy and every proxy exists, is enabled, has no toxic and carries
traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from harness.stack.control import Supervisor
from harness.stack.heal import heal_all
from harness.stack.toxiproxy import Toxiproxy, ToxiproxyUnavailable
from harness.stack.toxiproxy_restart import TOXIPROXY_GROUP
from harness.topology import PROXY_NAMES
from tests.conftest import StackHandle
from tests.stack.test_proxies import _use_link

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: the reset's waits here: a wedge never passes, so the default patience (5 + 15 + 30 s) would
#: only make the test slow
WAITS_S = (2.0,)
#: a reply of many chunks: the first reaches the reset (which holds it RESET_MS), the next
#: ones pass the latency and wait to be handed on
BIG_READ = "SELECT repeat('x', 500000)"
LATENCY_MS = 100
RESET_MS = 3000
#: a read in flight this long went through both toxics: the wedge's precondition
SETTLED_S = 0.5


class Readers:
    """Postgres sessions through ``seats_pg``, each reading a big value again and again; knows
    since when each one's current read is in flight."""

    def __init__(self, dsn: str, count: int) -> None:
        self.dsn = dsn
        self.in_flight_since: dict[int, float] = {}
        self.tasks = [asyncio.create_task(self._read(i)) for i in range(count)]

    async def _read(self, i: int) -> None:
        while True:
            with contextlib.suppress(Exception):  # a reset connection: open another
                conn = await asyncpg.connect(self.dsn, timeout=5)
                try:
                    while True:
                        self.in_flight_since[i] = time.monotonic()
                        await conn.fetchval(BIG_READ)
                        self.in_flight_since.pop(i, None)
                finally:
                    conn.terminate()
            self.in_flight_since.pop(i, None)
            await asyncio.sleep(0.05)

    def settled_since(self, t0: float) -> bool:
        """Whether a read begun after ``t0`` has been in flight for SETTLED_S."""
        now = time.monotonic()
        return any(t0 <= since <= now - SETTLED_S for since in self.in_flight_since.values())

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def readers(stack: StackHandle) -> AsyncIterator[Readers]:
    found = Readers(stack.state.dsn("seats", proxied=True), count=4)
    yield found
    await found.stop()


async def wedge_seats_pg(stack: StackHandle, readers: Readers) -> None:
    """Put Toxiproxy into the wedge: latency, then reset_peer, on seats_pg under traffic, then
    remove the latency; asserts that the removal never answers."""
    async with Toxiproxy(stack.toxiproxy_url, timeout=WAITS_S[0], patience=()) as tp:
        await tp.add_toxic("seats_pg", "latency", name="slow", attributes={"latency": LATENCY_MS})
        t0 = time.monotonic()
        await tp.add_toxic("seats_pg", "reset_peer", name="cut", attributes={"timeout": RESET_MS})
        deadline = time.monotonic() + 10
        while not readers.settled_since(t0):
            assert time.monotonic() < deadline, "no read went through the toxics within 10 s"
            await asyncio.sleep(0.02)
        with pytest.raises(ToxiproxyUnavailable):  # the wedge: without it, 204 in ~0 s
            await tp.remove_toxic("seats_pg", "slow")
        with pytest.raises(ToxiproxyUnavailable):  # and it stays: the proxy's lock is held
            await tp.get_proxy("seats_pg")


def toxiproxy_pids(stack: StackHandle) -> list[int]:
    return Supervisor(stack.state.supervisor_socket).pids(TOXIPROXY_GROUP)


async def assert_every_proxy_works(stack: StackHandle) -> None:
    async with Toxiproxy(stack.toxiproxy_url) as tp:
        proxies = await tp.proxies()
    assert sorted(proxies) == sorted(PROXY_NAMES)
    for name, proxy in proxies.items():
        assert proxy.enabled, name
        assert proxy.toxics == (), name
    for name in PROXY_NAMES:
        # the HTTP links: any answer is the link carrying the exchange (a service whose own
        # database connections were cut by the restart may answer 503 for a moment)
        await _use_link(stack, name, any_answer=True)
    assert await _use_link(stack, "seats_pg") == "seats"


async def test_heal_restarts_a_wedged_toxiproxy_and_every_proxy_works_again(
    stack: StackHandle, readers: Readers,
) -> None:
    before = toxiproxy_pids(stack)
    await wedge_seats_pg(stack, readers)
    await readers.stop()
    report = await heal_all(stack.state, toxiproxy_waits_s=WAITS_S)
    assert report.toxiproxy_restarted is not None
    assert "POST /reset" in report.toxiproxy_restarted
    assert report.summary().startswith("restarted Toxiproxy, its reset failed: ")
    after = toxiproxy_pids(stack)
    assert len(after) == 1 and after != before
    await assert_every_proxy_works(stack)


async def test_heal_starts_a_toxiproxy_that_supervisord_stopped(stack: StackHandle) -> None:
    supervisor = Supervisor(stack.state.supervisor_socket)
    await asyncio.to_thread(supervisor.stop_group, TOXIPROXY_GROUP)
    assert toxiproxy_pids(stack) == []
    report = await heal_all(stack.state, toxiproxy_waits_s=WAITS_S)
    assert report.toxiproxy_restarted is not None
    assert "unreachable on POST /reset" in report.toxiproxy_restarted
    assert len(toxiproxy_pids(stack)) == 1
    await assert_every_proxy_works(stack)
