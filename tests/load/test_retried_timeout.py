"""A request whose answer is lost is retried with the same key: one operation, several attempts.

The `target_api` link gets a Toxiproxy ``timeout`` toxic on the downstream stream (the service
acts, the client never hears: the `target-blackhole` case) while one buyer runs. Every operation
caught by it must stay one operation with one Idempotency-Key, listing several attempts, and end
``ok`` (a replayed answer) or ``info`` (still unknown), never ``fail``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from harness.contract.history import read
from harness.paths import REPO_ROOT
from harness.stack.toxiproxy import Toxiproxy
from locustfiles.workload import RetrySettings, Workload
from target_service.seed import reset_data
from tests.conftest import StackHandle
from tests.load.helpers import assert_history_matches_locust

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]


def _completions(folder: Path) -> int:
    return sum(1 for p in folder.glob("history-*.jsonl") for e in read(p) if e["type"] != "invoke")


async def test_a_lost_answer_is_retried_as_one_operation(stack: StackHandle,
                                                         tmp_path: Path) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)
    history_dir = tmp_path / "history"
    workload = Workload(
        # One buyer with no rival, no declined card and (hot_share 0) 260 seats to choose from:
        # nothing can legitimately fail while the answers are being lost.
        strategy="saga", seed=3, users=1, decline_share=0.0, abandon_share=0.0, hot_share=0.0,
        think_time_s=(0.1, 0.2), client_timeout_s=1.0, history_dir=str(history_dir),
        retry=RetrySettings(max_attempts=10, base_s=0.1, cap_s=0.5, deadline_s=30.0),
    )
    workload_file = tmp_path / "workload.json"
    workload_file.write_text(workload.to_json())
    locust = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "locustfiles" / "buyer.py"),
        "--headless", "--host", stack.target_url, "--users", "1", "--spawn-rate", "1",
        "--run-time", "8s", "--stop-timeout", "20", "--csv", str(tmp_path / "t"),
        "--exit-code-on-error", "0", "--only-summary", "--workload", str(workload_file),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
    )
    try:
        for _ in range(100):  # the buyer is signed up and buying
            if _completions(history_dir) >= 3:
                break
            await asyncio.sleep(0.1)
        async with Toxiproxy(stack.toxiproxy_url) as toxiproxy:
            await toxiproxy.add_toxic("target_api", "timeout", name="lost_answers",
                                      stream="downstream", attributes={"timeout": 0})
            await asyncio.sleep(3.0)  # longer than the client's timeout: answers get lost
            await toxiproxy.remove_toxic("target_api", "lost_answers")
        _, stderr = await asyncio.wait_for(locust.communicate(), 90)
    finally:
        if locust.returncode is None:
            locust.kill()
            await locust.wait()
    assert locust.returncode == 0, stderr.decode()[-2000:]

    events = [e for p in history_dir.glob("history-*.jsonl") for e in read(p)]
    assert_history_matches_locust(events, tmp_path / "t_stats.csv")
    completions = [e for e in events if e["type"] != "invoke"]
    retried = [e for e in completions if len(e["attempts"]) > 1
               and e["attempts"][0]["status"] is None]
    assert retried, "no operation lost an answer"
    invokes = {e["op_id"]: e for e in events if e["type"] == "invoke"}
    for done in retried:
        assert done["type"] in ("ok", "info"), done  # a lost answer is never a failure
        assert invokes[done["op_id"]]["key"] == done["key"]
        assert sum(1 for e in events if e["op_id"] == done["op_id"]) == 2
    # The answer that finally arrived is the stored first response, replayed under the same key.
    assert any(e["type"] == "ok" and e["attempts"][-1]["replayed"] for e in retried)
