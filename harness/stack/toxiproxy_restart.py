"""Restart the stack's own Toxiproxy through its supervisord, for when its API is wedged.

Toxiproxy 2.12.0 can deadlock for good. On a proxy whose stream holds a ``latency`` toxic with a
``reset_peer`` toxic after it, a connection whose reset is pending leaves the latency stage
blocked on a hand-off that nobody takes any more. Removing the latency (its ``DELETE``, or
``POST /reset``) then waits on that stage while holding the proxy's lock: the call answers 503
``Timeout`` after Toxiproxy's 25 s, every later call that touches the proxy does the same, and
the proxy accepts no new connection. Only a new process recovers (docs/measurements.md,
"2026-12-07: Toxiproxy wedge recovery").

Guarantee of :func:`restart_toxiproxy`: on return the stack's ``toxiproxy`` program runs a new
process, started by the stack's own supervisord (supervisord signals the old one, its own child;
nothing here signals a process, let alone one found by its name or port). Its API answers from
that process, it carries every contract proxy (new, so enabled and without toxics), and that
process holds each proxy's port. Otherwise StackError says what failed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import StackError
from harness.stack import readiness
from harness.stack.cleanup import record_processes
from harness.stack.control import Supervisor
from harness.stack.state import StackState
from harness.stack.toxiproxy import Toxiproxy
from harness.topology import PROXIES

#: the supervisord group (and program) that runs the stack's Toxiproxy (supervisor_conf)
TOXIPROXY_GROUP = "toxiproxy"
#: How long the new Toxiproxy gets to answer on its API (it starts in well under a second).
RESTART_WITHIN_S = 30.0


def _not_fatal(supervisor: Supervisor) -> bool:
    """False once supervisord has given up starting Toxiproxy (FATAL): waiting cannot help."""
    with contextlib.suppress(StackError):
        return all(p.state != "FATAL" for p in supervisor.processes()
                   if p.group == TOXIPROXY_GROUP)
    return True


async def restart_toxiproxy(
    state: StackState, proxies: Sequence[Mapping[str, Any]], *,
    within: float = RESTART_WITHIN_S,
) -> int:
    """Restart the stack's Toxiproxy and load ``proxies`` (a ``/populate`` body) into it;
    returns the new process's pid (see the module doc for what holds on return)."""
    supervisor = Supervisor(state.supervisor_socket)
    if not supervisor.alive():
        raise StackError(f"the stack's supervisord at {state.supervisor_socket} is not running")
    # stop then start (each waits): supervisord sends SIGTERM to its own child and SIGKILL
    # after stopwaitsecs; a wedged Toxiproxy still exits on SIGTERM (measured)
    await asyncio.to_thread(supervisor.stop_group, TOXIPROXY_GROUP)
    await asyncio.to_thread(supervisor.start_group, TOXIPROXY_GROUP)
    port = state.ports["toxiproxy"]
    probe = readiness.http_probe(f"{state.toxiproxy_url}/version")
    await readiness.wait_until(
        "the restarted toxiproxy",
        readiness.owned_probe(probe, supervisor, port, TOXIPROXY_GROUP),
        within=within, log=state.logs_dir / "toxiproxy.log",
        alive=lambda: _not_fatal(supervisor),
    )
    pids = await asyncio.to_thread(supervisor.pids, TOXIPROXY_GROUP)
    if len(pids) != 1:
        raise StackError(f"supervisord runs {len(pids)} toxiproxy processes after the restart")
    # the record is how `down` knows a process is this stack's (beside its environment mark)
    await asyncio.to_thread(record_processes, state.state_dir, pids)
    async with Toxiproxy(state.toxiproxy_url) as toxiproxy:
        await toxiproxy.populate(proxies)
    ours = await readiness.owners(
        supervisor, {spec.listen_key: state.ports[spec.listen_key] for spec in PROXIES}
    )
    silent = sorted(key for key, listening in ours.items() if not listening)
    if silent:
        raise StackError(f"the restarted toxiproxy does not listen for {', '.join(silent)}")
    return pids[0]
