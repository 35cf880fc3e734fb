"""Benchmark (not a test): what the harness's buyer machinery costs per request.

Two user classes run side by side in one Locust process, against the same cheap endpoint
(``GET /health`` of the running stack's target service) with no wait time:

* ``BareUser``: a plain ``FastHttpUser`` doing ``self.client.get("/health")``;
* ``HarnessUser``: every request goes through the buyer's machinery: one history operation
  (invoke + completion written by the Locust-event history writer), the retry policy's
  bookkeeping, ``catch_response`` and the outcome classification.

Both share the process, the event loop and the server, so the ratio of their requests/s is the
relative cost of the machinery (goal: >= 0.9). Usage, with a stack up (``harness up``)::

    .venv/bin/python benchmarks/load_bench.py [--state-dir DIR] [--users 8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
BARE, HARNESS = "bare /health", "harness /health"

if __name__ != "__main__":  # imported by Locust: the user classes
    import random

    from locust import FastHttpUser, constant, task

    from locustfiles import buyer as buyer_module
    from locustfiles import history_hook
    from locustfiles.operation import OperationRunner, OperationSpec
    from locustfiles.outcomes import AttemptResult
    from locustfiles.retry import RetryPolicy

    class BareUser(FastHttpUser):  # type: ignore[misc]
        wait_time = constant(0)

        @task
        def health(self) -> None:
            self.client.get("/health", name=BARE)

    class HarnessUser(FastHttpUser):  # type: ignore[misc]
        wait_time = constant(0)

        def on_start(self) -> None:
            environment = self.environment
            self.ops = OperationRunner(
                policy=RetryPolicy(), jitter=random.Random(0),
                emit=lambda event: environment.events.history.fire(event=event),
                process=history_hook.PROCESS,
            )
            self.number = 0

        @task
        def health(self) -> None:
            self.number += 1
            spec = OperationSpec("create", "bench", f"key-{id(self)}-{self.number}", "saga",
                                 "evt_default", ("A-01",))
            self.ops.perform(spec, self._send)

        def _send(self) -> AttemptResult:
            result: AttemptResult = buyer_module.Buyer._attempt(  # the buyer's own attempt
                self, "GET", "/health", None, name=HARNESS)
            return result


def _rps(stats_csv: Path) -> dict[str, float]:
    with stats_csv.open(newline="") as fh:
        return {row["Name"]: float(row["Requests/s"]) for row in csv.DictReader(fh)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", help="the stack's state folder")
    parser.add_argument("--users", type=int, default=8, help="users of each class")
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    from harness.stack import Stack

    state = Stack(args.state_dir).require_state()
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        workload = Path(tmp) / "workload.json"
        workload.write_text(json.dumps({"history_dir": str(Path(tmp) / "history")}))
        cmd = [sys.executable, "-m", "locust", "-f", str(HERE), "--headless",
               "--host", state.url("target"), "--users", str(2 * args.users),
               "--spawn-rate", str(2 * args.users), "--run-time", f"{args.seconds}s",
               "--csv", str(Path(tmp) / "bench"), "--only-summary", "--loglevel", "WARNING",
               "--exit-code-on-error", "0"]
        env: dict[str, Any] = {**os.environ, "HARNESS_WORKLOAD": str(workload)}
        subprocess.run(cmd, env=env, check=True, timeout=args.seconds + 120,
                       stdout=subprocess.DEVNULL)
        rps = _rps(Path(tmp) / "bench_stats.csv")
        lines = sum(1 for p in (Path(tmp) / "history").glob("*.jsonl")
                    for _ in p.open())
    bare, harness = rps.get(BARE, 0.0), rps.get(HARNESS, 0.0)
    ratio = harness / bare if bare else 0.0
    print(f"bare FastHttpUser   {bare:9.1f} req/s")
    print(f"harness buyer path  {harness:9.1f} req/s  ({lines} history lines written)")
    print(f"ratio               {ratio:9.3f}  (goal >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))
    raise SystemExit(main())
