"""`harness ui`: the Locust web UI against the running stack, with an Invariants tab.

Runs Locust (the buyer plus :mod:`locustfiles.invariants_tab`) on
``http://127.0.0.1:<locust_web port>``; the users, spawn rate and workload come from the scenario
(default: the shipped one) and can be changed in the UI. The session (see
:mod:`harness.ui.session`) seeds missing events, counts only what breaks after it began, shows
the stack's faults, and ends (Locust quits, Ctrl-C or SIGTERM) with a report in
``reports/<run-id>/`` and the exit code of `harness run`: 0 every invariant holds, 1 one broke
during the session, 3 the stack is not running.
"""

from __future__ import annotations

import argparse
import time

from harness import interrupt
from harness.commands.run_cmd import point_latest, print_summary
from harness.paths import REPORTS_DIR
from harness.run import scenario as scenarios
from harness.stack import Stack
from harness.ui.session import run_session


def ui(args: argparse.Namespace) -> int:
    scenario = scenarios.load(args.scenario)
    strategy = args.strategy or (scenario.strategy if scenario.strategy != "all" else "saga")
    stack = Stack(args.state_dir)
    stack.require_state()  # exit 3 before anything is written
    run_id = f"ui-{time.strftime('%Y%m%d-%H%M%S')}-{strategy}"
    run_dir = REPORTS_DIR / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    point_latest(run_dir)
    code, report = interrupt.run(run_session(scenario, strategy, stack, run_id, run_dir))
    print_summary(report, run_dir, ["report.html", "report.json", "junit.xml"])
    return code
