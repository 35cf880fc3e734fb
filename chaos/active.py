"""Which faults are active on a stack now, read from the stack itself (not from a run's log).

So a fault injected by `harness chaos` in another shell, by a run's schedule or from the web UI
all show up alike: a disabled proxy is a ``partition``; a toxic named by this package
(``chaos-<kind>-<stream>-<id>``) is that kind, any other toxic its Toxiproxy type; a stopped
supervised process is a ``pause``; an armed failpoint is a ``failpoint``. Best effort: a part that
cannot be read is left out and named in :attr:`ActiveFaults.errors`, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import psutil

from chaos import failpoints
from harness.stack import StackState
from harness.stack.control import Supervisor
from harness.stack.toxiproxy import Toxic, Toxiproxy, ToxiproxyError

#: Toxiproxy's API is called with this timeout (it can hang under load).
TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True, order=True)
class ActiveFault:
    """One fault in force: its kind, what it breaks, and a short detail."""

    fault: str
    target: str
    detail: str = ""

    @property
    def key(self) -> str:
        return f"{self.fault}:{self.target}"

    def to_json(self) -> dict[str, str]:
        return {"fault": self.fault, "target": self.target, "detail": self.detail}


@dataclass(slots=True)
class ActiveFaults:
    """Every fault in force, and what could not be read."""

    faults: list[ActiveFault] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def toxic_kind(toxic: Toxic) -> str:
    """The fault kind that added ``toxic`` (its Toxiproxy type when not added by us)."""
    name = toxic.name
    if name.startswith("chaos-"):
        pieces = name.removeprefix("chaos-").rsplit("-", 2)
        if len(pieces) == 3 and pieces[0]:
            return pieces[0]
    return toxic.type


async def _proxies(state: StackState, out: ActiveFaults) -> None:
    try:
        async with Toxiproxy(state.toxiproxy_url, timeout=TIMEOUT_S) as tp:
            proxies = await tp.proxies()
    except ToxiproxyError as exc:
        out.errors.append(f"Toxiproxy: {exc}")
        return
    for name, proxy in sorted(proxies.items()):
        if not proxy.enabled:
            out.faults.append(ActiveFault("partition", name, "proxy disabled"))
        kinds: dict[str, list[str]] = {}
        for toxic in proxy.toxics:
            kinds.setdefault(toxic_kind(toxic), []).append(toxic.stream)
        for kind, streams in sorted(kinds.items()):
            out.faults.append(ActiveFault(kind, name, "/".join(sorted(set(streams)))))


def _paused(state: StackState) -> list[ActiveFault]:
    """Supervised processes stopped by a signal (the stack's own pids: no process scan)."""
    try:
        procs = Supervisor(state.supervisor_socket).processes()
    except Exception:  # supervisord unreachable: nothing to say about pauses
        return []
    found = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.pid and psutil.Process(p.pid).status() == psutil.STATUS_STOPPED:
                found.append(ActiveFault("pause", p.name, f"pid {p.pid} stopped"))
    return found


async def active_faults(state: StackState) -> ActiveFaults:
    """Every fault in force on the stack of ``state`` (see the module doc)."""
    out = ActiveFaults()
    await _proxies(state, out)
    out.faults.extend(await asyncio.to_thread(_paused, state))
    try:
        armed = await asyncio.wait_for(failpoints.armed(state), TIMEOUT_S * 2)
    except Exception as exc:  # the database may be the thing that is broken
        out.errors.append(f"failpoints: {type(exc).__name__}: {exc}")
    else:
        out.faults.extend(
            ActiveFault("failpoint", name, "unlimited" if left is None else f"{left} left")
            for name, left in sorted(armed.items()))
    out.faults.sort()
    return out
