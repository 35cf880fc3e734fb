"""A real Toxiproxy 2.12.0 that cannot be reset is restarted by the heal, and then works.

The wedge is Toxiproxy's own: on ``seats_pg``, a ``latency`` toxic with a ``reset_peer`` toxic
after it, a connection with a chunk held by the reset and one more behind it, then removing the
latency never finishes (the proxy's lock is held for good; see
``harness/stack/toxiproxy_restart.py``). A Toxiproxy that supervisord stopped
is the other real way the reset fails (refused, not timed out). After heal_all, in both cases,
the stack runs a new Toxiproxy and every proxy exists, is enabled, has no toxic and carries
traffic. And `up` with new service settings (what a run with another ``--bug`` does) heals before
it restarts the apps, whose readiness needs the proxies (slow: the heal's default patience).
"""

from __future__ import annotations

import asyncio
import struct

import pytest

from harness.stack import ServiceSettings
from harness.stack.control import Supervisor
from harness.stack.heal import heal_all
from harness.stack.state import HOST
from harness.stack.toxiproxy import Toxiproxy, ToxiproxyUnavailable
from harness.stack.toxiproxy_restart import TOXIPROXY_GROUP
from harness.topology import PROXY_NAMES
from tests.conftest import StackHandle
from tests.stack.test_proxies import _use_link

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: the reset's waits here: a wedge never passes, so the default patience (5 + 15 + 30 s) would
#: only make the test slow
WAITS_S = (2.0,)
LATENCY_MS = 100
#: long enough for the removal below to come while the reset still holds the first chunk
RESET_MS = 5000
#: the latency toxic hands a chunk on LATENCY_MS after it came, which nothing outside Toxiproxy
#: can observe: waiting three times that is waiting for the hand-off
HAND_OFF_S = 3 * LATENCY_MS / 1000
#: what a Postgres client sends first (protocol 3.0 startup for user harness, database seats),
#: cut in two writes: two chunks through the proxy
_STARTUP_BODY = b"\x00\x03\x00\x00user\x00harness\x00database\x00seats\x00\x00"
STARTUP = struct.pack("!I", 4 + len(_STARTUP_BODY)) + _STARTUP_BODY


async def wedge_seats_pg(stack: StackHandle) -> None:
    """Put Toxiproxy into the wedge: on seats_pg (upstream) a latency toxic, then a reset_peer
    toxic; a client connection whose first chunk the reset holds while its second waits at the
    latency's hand-off; then the latency removed. Asserts that the removal never answers."""
    async with Toxiproxy(stack.toxiproxy_url, timeout=WAITS_S[0], patience=()) as tp:
        await tp.add_toxic("seats_pg", "latency", name="slow", stream="upstream",
                           attributes={"latency": LATENCY_MS})
        await tp.add_toxic("seats_pg", "reset_peer", name="cut", stream="upstream",
                           attributes={"timeout": RESET_MS})
        _, writer = await asyncio.open_connection(HOST, stack.state.ports["seats_pg"])
        try:
            for chunk in (STARTUP[:8], STARTUP[8:]):
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(HAND_OFF_S)
            with pytest.raises(ToxiproxyUnavailable):  # the wedge: without it, 204 at once
                await tp.remove_toxic("seats_pg", "slow")
            with pytest.raises(ToxiproxyUnavailable):  # and it stays: the proxy's lock is held
                await tp.get_proxy("seats_pg")
        finally:
            writer.close()


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
    stack: StackHandle,
) -> None:
    before = toxiproxy_pids(stack)
    await wedge_seats_pg(stack)
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


@pytest.mark.slow
@pytest.mark.own_services
async def test_up_with_a_new_bug_on_a_wedged_stack_heals_before_restarting_the_apps(
    stack: StackHandle,
) -> None:
    before = toxiproxy_pids(stack)
    await wedge_seats_pg(stack)
    # the restarted apps wait for their stores through the proxies: before the heal came
    # first, this failed with "target did not become ready within 60s"
    await stack.stack.up(services=ServiceSettings(bug="lock-no-fencing"))
    stack.state = stack.stack.require_state()  # up returns the state it found
    assert toxiproxy_pids(stack) != before
    assert stack.state.services.bug == "lock-no-fencing"
    await assert_every_proxy_works(stack)
