"""Run a fault schedule beside the load, log every start and stop, and always heal.

``await run_schedule(schedule, ctx, faults_log=, t0=, stop=)``:

* starts each entry at ``t0 + start_s`` and stops it ``duration_s`` later (``t0`` is the load's
  start on the ``time.monotonic()`` clock), entries overlapping as the schedule says;
* appends one JSON line per start and stop to ``faults_log``: ``{"event", "label", "fault",
  "target", "t", "wall"}`` (``t``: seconds since ``t0``; ``wall``: unix time) plus, on start,
  ``params`` and the scheduled ``start_s`` and ``duration_s`` (what ``harness replay`` runs
  again), and on stop what the fault ``observed``;
* when ``stop`` is set, ends the running faults at once and starts no more;
* in ``finally`` (normal end, ``stop``, an exception, cancellation / Ctrl-C) stops every fault it
  started and then runs :func:`harness.stack.heal.heal_all`; a second cancellation does not
  interrupt the healing (it is shielded and bounded by ``HEAL_TIMEOUT_S``);
* returns the windows actually applied, as the report's ``faults`` entries.

A fault that cannot be applied raises FaultError after healing: a run that did not inject what
its schedule claims must not pass as if it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from chaos.context import ChaosContext
from chaos.faults import AnyFault
from chaos.schedule_types import Schedule, ScheduledFault
from harness.stack.heal import HealReport, heal_all

log = logging.getLogger(__name__)

#: Upper bound on the healing done in ``finally``.
HEAL_TIMEOUT_S = 120.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One applied fault, as the report lists it (docs/contract.md section 7.2)."""

    name: str
    target: str
    start_s: float
    end_s: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "target": self.target,
                "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}


class FaultLog:
    """Appends fault events to ``faults.jsonl`` (one line each, flushed at once)."""

    def __init__(self, path: Path, t0: float, extra: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.t0 = t0
        self.extra = dict(extra or {})
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, entry: ScheduledFault, **fields: Any) -> float:
        t = time.monotonic() - self.t0
        line = {"event": event, "label": entry.name, "fault": entry.fault,
                "target": entry.target, "t": round(t, 3), "wall": round(time.time(), 3),
                **self.extra, **fields}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, sort_keys=True, default=str) + "\n")
        return t


async def _until(deadline: float, stop: asyncio.Event) -> bool:
    """Sleep until ``deadline`` (monotonic) or ``stop``; True when ``stop`` was set."""
    delay = deadline - time.monotonic()
    if stop.is_set():
        return True
    if delay <= 0:
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
    return stop.is_set()


async def shielded(coro: Awaitable[T], *, limit_s: float) -> T:
    """Await ``coro`` to the end even if the caller is cancelled meanwhile (then re-cancel)."""
    task = asyncio.ensure_future(asyncio.wait_for(coro, timeout=limit_s))
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True  # keep waiting: healing must finish (bounded by ``timeout``)
    if cancelled:
        raise asyncio.CancelledError
    return result


@dataclass(slots=True)
class _Applied:
    entry: ScheduledFault
    fault: AnyFault
    started_at: float = 0.0


class _Run:
    def __init__(self, ctx: ChaosContext, flog: FaultLog, stop: asyncio.Event) -> None:
        self.ctx = ctx
        self.flog = flog
        self.stop = stop
        self.applied: list[_Applied] = []
        self.windows: list[FaultWindow] = []

    async def one(self, entry: ScheduledFault) -> None:
        if await _until(self.flog.t0 + entry.start_s, self.stop):
            return
        applied = _Applied(entry, entry.make())
        self.applied.append(applied)  # before start: a cancelled start is still undone
        try:
            await applied.fault.start(self.ctx)
        except Exception as exc:
            self.flog.write("error", entry, error=str(exc))
            raise
        applied.started_at = self.flog.write(
            "start", entry, params=dict(entry.params), start_s=round(entry.start_s, 3),
            duration_s=round(entry.duration_s, 3))
        await _until(self.flog.t0 + entry.end_s, self.stop)
        await self.finish(applied)

    async def finish(self, applied: _Applied) -> None:
        was_active = applied.fault.active
        await applied.fault.stop(self.ctx)
        if was_active:
            ended_at = self.flog.write("stop", applied.entry, observed=applied.fault.observed())
            self.windows.append(FaultWindow(
                applied.entry.name, applied.entry.target, applied.started_at, ended_at
            ))

    async def cleanup(self, tasks: list[asyncio.Task[None]]) -> HealReport:
        """Cancel the entries' tasks, stop whatever is still applied, then heal the stack."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for applied in reversed(self.applied):
            try:
                await self.finish(applied)
            except Exception as exc:  # heal_all below repairs what this left
                log.warning("stopping %s on %s failed: %s", applied.entry.name,
                            applied.entry.target, exc)
        self.applied.clear()
        return await heal_all(self.ctx.state)


async def run_schedule(
    schedule: Schedule,
    ctx: ChaosContext,
    *,
    faults_log: Path,
    t0: float,
    stop: asyncio.Event,
    log_extra: Mapping[str, Any] | None = None,
) -> list[FaultWindow]:
    """Run ``schedule`` against ``ctx``'s stack until done or ``stop``; see the module doc."""
    run = _Run(ctx, FaultLog(faults_log, t0, log_extra), stop)
    tasks = [asyncio.create_task(run.one(e)) for e in sorted(schedule, key=lambda e: e.start_s)]
    try:
        await asyncio.gather(*tasks)  # the first failure propagates as itself
    finally:
        await shielded(run.cleanup(tasks), limit_s=HEAL_TIMEOUT_S)
    return sorted(run.windows, key=lambda w: (w.start_s, w.name, w.target))
