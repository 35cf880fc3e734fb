"""`harness ui`: the Locust web UI against the running stack, with an Invariants tab.

Runs Locust (the buyer plus :mod:`locustfiles.invariants_tab`) in the foreground on
``http://127.0.0.1:<locust_web port>``; the users, spawn rate and workload come from the scenario
(default: the shipped one) and can be changed in the UI. The history of what the UI's buyers did
goes to ``reports/ui-<time>/``; the Invariants tab checks it with the databases while the test
runs. Ctrl-C stops it. Exit 3 when the stack is not running.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from harness.paths import REPORTS_DIR
from harness.run import scenario as scenarios
from harness.run.locust_proc import BUYER, LOCUSTFILES
from harness.run.loop import workload_for
from harness.stack import Stack

INVARIANTS_TAB = LOCUSTFILES / "invariants_tab.py"


def ui(args: argparse.Namespace) -> int:
    scenario = scenarios.load(args.scenario)
    strategy = args.strategy or (scenario.strategy if scenario.strategy != "all" else "saga")
    stack = Stack(args.state_dir)
    state = stack.require_state()
    out = REPORTS_DIR / f"ui-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    workload_file = out / "workload.json"
    workload_file.write_text(workload_for(scenario, strategy, out / "histories").to_json())
    port = state.ports["locust_web"]
    cmd = [
        sys.executable, "-m", "locust", "-f", f"{BUYER},{INVARIANTS_TAB}",
        "--host", state.target_url, "--web-host", "127.0.0.1", "--web-port", str(port),
        "--users", str(scenario.users), "--spawn-rate", f"{scenario.spawn_rate:g}",
        "--workload", str(workload_file), "--csv", str(out / strategy), "--csv-full-history",
    ]
    print(f"Locust web UI: http://127.0.0.1:{port}  (strategy {strategy}; history in {out}; "
          "Ctrl-C to stop)", file=sys.stderr, flush=True)
    env = {**os.environ, "HARNESS_STATE_DIR": str(stack.state_dir)}
    try:
        return subprocess.run(cmd, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0
