"""Off a terminal, the run's status is printed as plain lines during the load (for CI logs)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from harness.run.progress import Progress

pytestmark = pytest.mark.asyncio


def _event(kind: str, op: str, code: str | None = None) -> str:
    event = {"type": kind, "time": 1.0, "process": "h/1", "op_id": "x", "op": op,
             "customer": "c", "key": "k", "strategy": "saga", "event_id": "e", "seats": [],
             "order_id": None}
    if code:
        event["body"] = {"code": code}
    return json.dumps(event)


async def test_plain_status_lines_off_a_terminal(tmp_path: Path) -> None:
    history_dir = tmp_path / "history"
    history_dir.mkdir()
    (history_dir / "history-1.jsonl").write_text("\n".join([
        _event("ok", "finalize"), _event("ok", "finalize"),
        _event("fail", "confirm", "SEAT_UNAVAILABLE"), _event("info", "confirm"),
        _event("ok", "confirm")]) + "\n")
    faults_log = tmp_path / "faults.jsonl"
    faults_log.write_text(json.dumps({"event": "start", "label": "payments-partition",
                                      "fault": "partition", "target": "payments_api"}) + "\n")
    (tmp_path / "saga_stats_history.csv").write_text("Requests/s,Name\n12.5,Aggregated\n")
    out = io.StringIO()
    progress = Progress(out, live=False, plain_every_s=0.01)
    done = asyncio.Event()
    watch = asyncio.create_task(progress.watch(
        "saga", tmp_path / "saga", history_dir, faults_log, 600.0, done))
    for _ in range(1000):  # until two status lines are out (bounded; never a timing check)
        if out.getvalue().count("\n") >= 2:
            break
        await asyncio.sleep(0.01)
    done.set()
    await asyncio.wait_for(watch, 10)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2, lines
    first = lines[0]
    assert first.startswith("[run] saga") and "/600s" in first and "12.5 req/s" in first
    assert "sold=2 conflict=1 payment_failed=0 unknown=1" in first
    assert "fault: payments-partition→payments_api" in first


async def test_the_plain_status_stops_with_the_load(tmp_path: Path) -> None:
    out = io.StringIO()
    done = asyncio.Event()
    done.set()
    await asyncio.wait_for(Progress(out, live=False).watch(
        "lock", tmp_path / "lock", tmp_path, tmp_path / "faults.jsonl", 30.0, done), 10)
    assert out.getvalue() == ""  # a load that ended at once printed no status line
