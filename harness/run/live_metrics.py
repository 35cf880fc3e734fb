"""A run's live counters in Prometheus text format, so a soak can be watched from Grafana.

:func:`serving` serves, for as long as the run lasts, ``http://127.0.0.1:<port>/metrics`` from
this (the harness's asyncio) process, never from Locust's: prometheus-client's HTTP server runs
in a thread and reads a registry that :class:`LiveMetrics` updates every ``every_s`` from what
the run already writes and from the stack itself:

* ``harness_operations_total{strategy,op,result}``: completed client operations (``result``
  ``ok`` / ``fail`` / ``info``), and ``harness_outcomes_total{strategy,outcome}`` in the
  report's vocabulary (``sold``, ``conflict``, ``payment_failed``, ``unknown``), both tailed
  from the run's history files;
* ``harness_invariant_violations{strategy,invariant}``: the latest count seen, from checks
  during the load (a soak's periodic checks) and from each strategy's final check;
* ``harness_active_faults`` and ``harness_fault_active{fault,target}``: what is broken on the
  stack now (whoever broke it; see :mod:`chaos.active`);
* ``harness_settle_backlog{kind}``: the unfinished work recovery has to finish
  (:func:`harness.run.settle.pending_work`), polled every ``backlog_every_s``.

The address is announced in the stack's state folder (:mod:`harness.live`), so `harness status
--json` shows it as ``harness_metrics`` while the run is active. The port is ephemeral unless
``$HARNESS_METRICS_PORT`` names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from chaos.active import active_faults
from harness import live
from harness.contract.outcomes import outcome_of
from harness.report.model import StrategyResult
from harness.run.progress import Tail
from harness.run.settle import pending_work
from harness.stack import Stack

#: Environment variable that fixes the metrics port (default: an ephemeral one).
PORT_ENV = "HARNESS_METRICS_PORT"
_RESULTS = ("ok", "fail", "info")


class Observed(Protocol):
    """A mid-run check's observation (e.g. :class:`harness.soak.periodic.Observation`)."""

    name: str
    violations: int


class LiveMetrics:
    """The registry and what feeds it (see the module doc)."""

    def __init__(self, run_dir: Path, stack: Stack, *, every_s: float = 2.0,
                 backlog_every_s: float = 10.0) -> None:
        self.run_dir = run_dir
        self.stack = stack
        self.every_s = every_s
        self.backlog_every_s = backlog_every_s
        self.registry = CollectorRegistry()
        self.operations = Counter("harness_operations", "Completed client operations",
                                  ["strategy", "op", "result"], registry=self.registry)
        self.outcomes = Counter("harness_outcomes", "Business outcomes of operations",
                                ["strategy", "outcome"], registry=self.registry)
        self.violations = Gauge("harness_invariant_violations",
                                "Latest violation count of an invariant",
                                ["strategy", "invariant"], registry=self.registry)
        self.active = Gauge("harness_active_faults", "Faults in force on the stack now",
                            registry=self.registry)
        self.fault_active = Gauge("harness_fault_active", "1 while this fault is in force",
                                  ["fault", "target"], registry=self.registry)
        self.backlog = Gauge("harness_settle_backlog", "Unfinished work recovery must finish",
                             ["kind"], registry=self.registry)
        self._tails: dict[Path, Tail] = {}
        self._followed: list[Callable[[], Mapping[str, Sequence[Observed]]]] = []
        self._last_backlog = float("-inf")

    # --- feeds -------------------------------------------------------------------------------
    def follow(self, observations: Callable[[], Mapping[str, Sequence[Observed]]]) -> None:
        """Also report the latest of these mid-run observations (strategy -> in time order)."""
        self._followed.append(observations)

    def observe_strategy(self, strategy: str, result: StrategyResult) -> None:
        """A strategy's final result: its invariants' counts."""
        for inv in result.invariants:
            self.violations.labels(strategy, inv.name).set(inv.violations)

    def read_histories(self) -> None:
        for path in sorted(self.run_dir.glob("histories/*/history-*.jsonl")):
            strategy = path.parent.name
            for line in self._tails.setdefault(path, Tail(path)).lines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(event, dict) or event.get("type") not in _RESULTS:
                    continue
                self.operations.labels(strategy, str(event.get("op")), event["type"]).inc()
                outcome = outcome_of(event)  # type: ignore[arg-type]
                if outcome is not None:
                    self.outcomes.labels(strategy, outcome).inc()

    def read_followed(self) -> None:
        for source in self._followed:
            for strategy, observations in source().items():
                latest = {o.name: o.violations for o in observations}
                for name, count in latest.items():
                    self.violations.labels(strategy, name).set(count)

    async def read_stack(self) -> None:
        state = self.stack.state()
        if state is None or not self.stack.running():
            return
        seen = await active_faults(state)
        self.fault_active.clear()
        for fault in seen.faults:
            self.fault_active.labels(fault.fault, fault.target).set(1)
        self.active.set(len(seen.faults))
        if time.monotonic() - self._last_backlog >= self.backlog_every_s:
            self._last_backlog = time.monotonic()
            with contextlib.suppress(Exception):  # the database may be down: keep the last
                pending = await pending_work(state, wait_for_holds=False, deadline_in_s=0.0)
                for kind, count in pending.items():
                    self.backlog.labels(kind).set(count)

    async def poll(self, stop: asyncio.Event) -> None:
        """Update the registry every ``every_s`` until ``stop``, and once more at the end."""
        while True:
            self.read_histories()
            self.read_followed()
            with contextlib.suppress(Exception):  # a live counter never breaks the run
                await self.read_stack()
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)


@contextlib.asynccontextmanager
async def serving(metrics: LiveMetrics, *, run_id: str) -> AsyncIterator[str]:
    """Serve ``metrics`` on 127.0.0.1 and announce the URL while the block runs; the URL."""
    server, thread = start_http_server(int(os.environ.get(PORT_ENV) or 0), addr="127.0.0.1",
                                       registry=metrics.registry)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    stop = asyncio.Event()
    task = asyncio.create_task(metrics.poll(stop))
    try:
        with live.announce(metrics.stack.state_dir, live.METRICS, {"url": url,
                                                                   "run_id": run_id}):
            yield url
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
