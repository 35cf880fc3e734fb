"""Locust's CSV statistics, rewritten once more after the last request.

Locust's CSV writer is a greenlet that snapshots the statistics every second and simply closes
its files at shutdown, so the last second of requests (and everything users did during
``--stop-timeout``) can be missing from ``<prefix>_stats.csv``. Importing this module registers a
``quit`` listener (fired after every user has stopped, before the process exits) that writes the
final ``_stats.csv``, ``_failures.csv`` and ``_exceptions.csv`` with Locust's own writer and
atomically replaces the files. Guarantee: after a headless run those three files count every
request the process (or, on a master, every worker) reported.

A headless master that reaches ``--run-time`` sends its workers ``quit`` and exits half a second
later; a worker stops its users first (each finishes its task, up to ``--stop-timeout``) and only
then sends its last report, which then came too late on a loaded machine (a CI run: 9 of 103
creates missing from the master's statistics). So when a test stops, the master asks every
worker still running to stop its users and report (a custom message), and waits for each to
answer, at most the stop timeout and :data:`FLUSH_GRACE_S`. Guarantee: the statistics of a
distributed run count every request its workers made.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

#: the master's request to a worker: stop your users and report; and the worker's answer
FLUSH, FLUSHED = "harness-flush", "harness-flushed"
#: how long past the stop timeout the master waits for the workers' answers (seconds)
FLUSH_GRACE_S = 5.0

_environment: list[Environment] = []
_flushed: set[str] = set()


@events.init.add_listener  # type: ignore[untyped-decorator]
def _remember(environment: Environment, **_: Any) -> None:
    _environment[:] = [environment]
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(FLUSH, _flush)
    elif isinstance(runner, MasterRunner):
        runner.register_message(FLUSHED, lambda msg, **_: _flushed.add(msg.node_id))


def _flush(environment: Environment, **_: Any) -> None:
    """On a worker: stop the users (each finishes its task), report what is left, answer."""
    runner = environment.runner
    assert isinstance(runner, WorkerRunner)
    runner.stop()
    data: dict[str, Any] = {}
    environment.events.report_to_master.fire(  # type: ignore[no-untyped-call]
        client_id=runner.client_id, data=data)
    runner.send_message("stats", data)
    runner.send_message(FLUSHED)


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _wait_for_workers(environment: Environment, **_: Any) -> None:
    """On a master whose workers still run (a headless run's end): have them stop and report
    before the master quits. Workers that a ``stop`` already stopped have left ``clients``."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    running = {c.id for c in runner.clients.all}
    if not running:
        return
    _flushed.clear()
    for worker in running:
        runner.send_message(FLUSH, None, worker)
    deadline = time.monotonic() + float(environment.stop_timeout or 0) + FLUSH_GRACE_S
    while not running <= _flushed and time.monotonic() < deadline:
        gevent.sleep(0.05)


def write_final_csv(environment: Environment, prefix: str) -> None:
    """Write ``<prefix>_{stats,failures,exceptions}.csv`` from the current statistics."""
    writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
    for suffix, write in (("stats", writer.requests_csv), ("failures", writer.failures_csv),
                          ("exceptions", writer.exceptions_csv)):
        target = Path(f"{prefix}_{suffix}.csv")
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            write(csv.writer(fh))
        os.replace(tmp, target)


@events.quit.add_listener  # type: ignore[untyped-decorator]
def _on_quit(**_: Any) -> None:
    if not _environment:
        return
    environment = _environment[0]
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix and not isinstance(environment.runner, WorkerRunner):
        write_final_csv(environment, prefix)
