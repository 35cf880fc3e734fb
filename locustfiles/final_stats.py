"""Locust's CSV statistics, rewritten once more after the last request.

Locust's CSV writer is a greenlet that snapshots the statistics every second and simply closes
its files at shutdown, so the last second of requests (and everything users did during
``--stop-timeout``) can be missing from ``<prefix>_stats.csv``. Importing this module registers a
``quit`` listener (fired after every user has stopped, before the process exits) that writes the
final ``_stats.csv``, ``_failures.csv`` and ``_exceptions.csv`` with Locust's own writer and
atomically replaces the files. Guarantee: after a headless run those three files count every
request the process (or, on a master, every worker) reported.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

_environment: list[Environment] = []


@events.init.add_listener  # type: ignore[untyped-decorator]
def _remember(environment: Environment, **_: Any) -> None:
    _environment[:] = [environment]


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
