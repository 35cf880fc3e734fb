"""Locust wiring: the ``--workload`` option and the client history, through Locust's event bus.

Importing this module registers three listeners (no subclassing of Locust's classes):

* ``init_command_line_parser`` adds ``--workload FILE`` (also ``$HARNESS_WORKLOAD``); in
  master/worker mode Locust forwards it from the master to every worker.
* ``init`` adds a custom event ``environment.events.history``; the buyer fires it with one
  :class:`~harness.contract.history.HistoryEvent` per history line.
* the listener appends each event to ``<history_dir>/history-<pid>.jsonl`` (opened on the first
  event, so a master without users writes no file) and ``quit`` (after every user
  has stopped) closes it.

Guarantee: every fired event is one flushed line of this process's file.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.event import EventHook

from harness.contract.history import HistoryEvent, HistoryWriter
from harness.paths import REPORTS_DIR
from locustfiles.workload import WORKLOAD_ENV, Workload

#: Where histories go when the workload names no folder (ad-hoc `locust -f` runs, compose).
DEFAULT_HISTORY_DIR = REPORTS_DIR / "adhoc-history"

PROCESS = f"{socket.gethostname()}/{os.getpid()}"

_writer: HistoryWriter | None = None
_workloads: dict[str, Workload] = {}


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _add_arguments(parser: Any, **_: Any) -> None:
    parser.add_argument(
        "--workload", default="", env_var=WORKLOAD_ENV, include_in_web_ui=False,
        help="booking-harness workload JSON (written by `harness run`; default: built-in)",
    )


def workload_of(environment: Environment) -> Workload:
    """The run's workload (read once per file; defaults when none is given)."""
    options = environment.parsed_options
    path = str(getattr(options, "workload", "") or os.environ.get(WORKLOAD_ENV, ""))
    if path not in _workloads:
        _workloads[path] = Workload.load(path or None)
    return _workloads[path]


def history_path(workload: Workload) -> Path:
    """This process's history file."""
    folder = Path(workload.history_dir) if workload.history_dir else DEFAULT_HISTORY_DIR
    return folder / f"history-{os.getpid()}.jsonl"


@events.init.add_listener  # type: ignore[untyped-decorator]
def _on_init(environment: Environment, **_: Any) -> None:
    hook = EventHook()  # type: ignore[no-untyped-call]

    def write(event: HistoryEvent, **_: Any) -> None:
        global _writer
        if _writer is None:
            _writer = HistoryWriter(history_path(workload_of(environment)))
        _writer.write(event)

    hook.add_listener(write)  # type: ignore[no-untyped-call]
    environment.events.history = hook  # type: ignore[attr-defined]


@events.quit.add_listener  # type: ignore[untyped-decorator]
def _on_quit(**_: Any) -> None:
    global _writer
    if _writer is not None:
        _writer.close()
        _writer = None
