"""Shared helpers of the load tests: small scenarios, CLI runs against the test stack, counting."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.contract.history import HistoryEvent, read
from harness.paths import REPO_ROOT
from harness.run.load_stats import read_stats
from tests.conftest import TEST_STATE_DIR

#: The tail of every test scenario: holds expire in 3 s, so settling stays short.
QUICK_SETTLE = """
[settle]
timeout = "30s"

[service]
hold_ttl = "3s"
saga_stale = "2s"
"""

#: Quick buyers: short think times and client timeout (the ``[workload]`` table's first lines).
QUICK_BUYERS = """
[workload]
think_time = ["20ms", "100ms"]
client_timeout = "3s"
"""

#: A short, quick-settling scenario.
SMALL_SCENARIO = """
name = "small"
seed = 7
users = 4
spawn_rate = 4
duration = "6s"
""" + QUICK_BUYERS + """abandon_share = 0.2
decline_share = 0.1
""" + QUICK_SETTLE


def write_scenario(tmp_path: Path, text: str = SMALL_SCENARIO) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(text)
    return path


def harness_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m harness --state-dir <test stack> ...`` (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "harness", "--state-dir", str(TEST_STATE_DIR), *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=timeout, check=False,
    )


def events_of(path: Path) -> list[HistoryEvent]:
    return list(read(path))


def locust_failure(attempt: dict[str, Any]) -> bool:
    """Whether the buyer marked this attempt as a Locust failure (outcomes.locust_failure)."""
    status = attempt["status"]
    return status is None or status >= 500 or (400 <= status < 500 and status not in (402, 409))


def assert_history_matches_locust(events: list[HistoryEvent], stats_csv: Path) -> None:
    """Every op is invoke + exactly one completion, and the attempts are Locust's requests."""
    by_op: dict[str, list[str]] = collections.defaultdict(list)
    attempts: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    for event in events:
        by_op[event["op_id"]].append(event["type"])
        if event["type"] != "invoke":
            attempts[event["op"]] += len(event["attempts"])
            failures[event["op"]] += sum(locust_failure(dict(a)) for a in event["attempts"])
    assert by_op, "the history is empty"
    for op_id, types in by_op.items():
        assert len(types) == 2 and types[0] == "invoke", (op_id, types)
        assert types[1] in ("ok", "fail", "info"), (op_id, types)
    stats = read_stats(stats_csv)
    for op in ("create", "confirm", "finalize"):
        row = stats.get(op)
        assert (row.requests if row else 0) == attempts[op], op
        assert (row.failures if row else 0) == failures[op], op


def report_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "report.json").read_text())
    return data
