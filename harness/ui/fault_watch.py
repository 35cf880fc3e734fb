"""The fault windows of a live session, as seen on the stack (whoever injected them).

:class:`FaultWatcher` polls :func:`chaos.active.active_faults` and turns the snapshots into
windows: a fault seen for the first time starts one, a fault no longer seen ends it. Every start
and stop is appended to the session's faults log in the run's form (``{"event", "label",
"fault", "target", "t", "wall"}``), and the current picture is written atomically to a JSON
file that the web UI's process reads (so the UI never talks to Toxiproxy itself). A window's
edges are accurate to one poll (``every_s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.active import ActiveFault, active_faults
from harness.stack import StackState


@dataclass(slots=True)
class Windows:
    """Pure bookkeeping of open and closed windows (no I/O; unit-tested)."""

    open: dict[str, tuple[ActiveFault, float]] = field(default_factory=dict)
    closed: list[dict[str, Any]] = field(default_factory=list)

    def see(self, faults: list[ActiveFault], t: float
            ) -> tuple[list[ActiveFault], list[ActiveFault]]:
        """Record one snapshot at ``t``; (faults that started, faults that ended)."""
        now = {f.key: f for f in faults}
        ended = [self.open[k][0] for k in self.open if k not in now]
        for fault in ended:
            _, start = self.open.pop(fault.key)
            self.closed.append(_window(fault, start, t))
        started = [f for k, f in now.items() if k not in self.open]
        for fault in started:
            self.open[fault.key] = (fault, t)
        return started, ended

    def close_all(self, t: float) -> list[ActiveFault]:
        return self.see([], t)[1]

    def all(self) -> list[dict[str, Any]]:
        """Every window so far (open ones with ``end_s`` None), in start order."""
        current = [{**_window(f, start, None)} for f, start in self.open.values()]
        return sorted([*self.closed, *current], key=lambda w: float(w["start_s"]))


def _window(fault: ActiveFault, start: float, end: float | None) -> dict[str, Any]:
    return {"name": fault.fault, "target": fault.target, "start_s": round(start, 3),
            "end_s": None if end is None else round(end, 3)}


class FaultWatcher:
    """Polls the stack's faults every ``every_s`` until stopped (see the module doc)."""

    def __init__(self, state: StackState, *, log: Path, snapshot: Path, t0: float,
                 every_s: float = 1.0) -> None:
        self.state = state
        self.log = log
        self.snapshot = snapshot
        self.t0 = t0
        self.every_s = every_s
        self.windows = Windows()
        self.errors: list[str] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll()
            try:
                await asyncio.wait_for(stop.wait(), self.every_s)
            except TimeoutError:
                continue
        self.finish()

    async def poll(self) -> None:
        seen = await active_faults(self.state)
        t = time.monotonic() - self.t0
        self.errors = seen.errors
        started, ended = self.windows.see(seen.faults, t)
        self._log(started, ended, t)
        self._write_snapshot(seen.faults, t)

    def finish(self) -> None:
        t = time.monotonic() - self.t0
        self._log([], self.windows.close_all(t), t)
        self._write_snapshot([], t)

    def _log(self, started: list[ActiveFault], ended: list[ActiveFault], t: float) -> None:
        if not started and not ended:
            return
        with self.log.open("a", encoding="utf-8") as fh:
            for event, faults in (("stop", ended), ("start", started)):
                for f in faults:
                    fh.write(json.dumps({"event": event, "label": f.fault, "fault": f.fault,
                                         "target": f.target, "detail": f.detail,
                                         "t": round(t, 3), "wall": round(time.time(), 3)},
                                        sort_keys=True) + "\n")

    def _write_snapshot(self, faults: list[ActiveFault], t: float) -> None:
        doc = {"t": round(t, 3), "active": [f.to_json() for f in faults],
               "windows": self.windows.all(), "errors": self.errors}
        tmp = self.snapshot.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.snapshot)
