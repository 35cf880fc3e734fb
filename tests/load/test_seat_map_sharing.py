"""`seat_map_max_age`: buyers of one Locust process share a recent seat map instead of each
fetching it before every purchase (what keeps a soak's 15,000-seat map affordable)."""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from locustfiles.workload import Workload
from target_service.seed import reset_data
from tests.conftest import StackHandle

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

USERS = 4


def _workload_file(folder: Path, max_age_s: float) -> Path:
    workload = Workload(strategy="saga", seed=11, users=USERS, think_time_s=(0.0, 0.05),
                        seat_map_max_age_s=max_age_s, history_dir=str(folder / "history"))
    folder.mkdir()
    path = folder / "workload.json"
    path.write_text(workload.to_json())
    return path


async def _requests_by_name(stack: StackHandle, tmp_path: Path, max_age_s: float) -> dict[str, int]:
    """Run ``USERS`` buyers for a few seconds; Locust's request count per request name."""
    workload_file = _workload_file(tmp_path, max_age_s)
    locust = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "locustfiles" / "buyer.py"),
        "--headless", "--host", stack.target_url, "--users", str(USERS), "--spawn-rate",
        str(USERS), "--run-time", "6s", "--stop-timeout", "20", "--csv", str(tmp_path / "t"),
        "--exit-code-on-error", "0", "--only-summary", "--workload", str(workload_file),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
    )
    _, stderr = await asyncio.wait_for(locust.communicate(), 90)
    assert locust.returncode == 0, stderr.decode()[-2000:]
    with (tmp_path / "t_stats.csv").open(newline="") as f:
        return {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(f)}


async def test_buyers_share_a_recent_map_and_otherwise_fetch_it_per_purchase(
        stack: StackHandle, tmp_path: Path) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    every = await _requests_by_name(stack, tmp_path / "every", 0.0)
    creates = every["create"]
    assert creates >= 2 * USERS
    assert every["seat map"] >= creates  # one look per purchase (a purchase may find no seat)

    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    shared = await _requests_by_name(stack, tmp_path / "shared", 60.0)
    assert shared["create"] >= 2 * USERS
    # Each buyer's first look may race the others' before one map is stored; then none fetches.
    assert 0 < shared["seat map"] <= USERS
