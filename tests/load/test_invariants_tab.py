"""The web UI's Invariants tab: rate-limited out-of-process checks, and the tab in a live UI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest

from harness.paths import REPO_ROOT
from locustfiles.live_checks import LiveInvariants, rows_from_check
from tests.conftest import TEST_STATE_DIR, StackHandle

CHECK_DOC = {"verdict": "fail", "invariants": [
    {"name": "no_double_sold_seats", "ok": True, "violations": 0, "examples": []},
    {"name": "seat_conservation", "ok": False, "violations": 2,
     "examples": [{"seat_id": "A-01"}]},
    {"name": "idempotent_effects", "ok": False, "violations": 0, "examples": [],
     "error": "boom"},
]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def live(runner: Callable[[Sequence[str], float], tuple[int, str, str]],
         clock: FakeClock, history_dir: Path | None = None) -> LiveInvariants:
    return LiveInvariants(state_dir="/s", history_dir=history_dir, min_interval_s=5.0,
                          runner=runner, clock=clock, spawn=lambda fn: fn())


def test_rows_say_what_holds_what_is_violated_and_what_failed() -> None:
    rows = rows_from_check(CHECK_DOC, "12:00:00")
    assert [(r["name"], r["status"], r["violations"]) for r in rows] == [
        ("no_double_sold_seats", "holds", 0), ("seat_conservation", "VIOLATED", 2),
        ("idempotent_effects", "error", 0)]
    assert rows[1]["example"] == '{"seat_id": "A-01"}' and rows[2]["example"] == "boom"


def test_checks_are_rate_limited_and_keep_the_latest_rows(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def runner(cmd: Sequence[str], timeout_s: float) -> tuple[int, str, str]:
        calls.append(list(cmd))
        return 1, json.dumps(CHECK_DOC), ""

    clock = FakeClock()
    (tmp_path / "history-1.jsonl").write_text(json.dumps({"time": 1.0, "type": "invoke"}) + "\n")
    checker = live(runner, clock, tmp_path)
    assert checker.rows()[0]["status"] == "not checked yet"
    assert checker.maybe_refresh() is True
    assert len(checker.rows()) == 3
    clock.now = 4.9
    assert checker.maybe_refresh() is False
    clock.now = 5.0
    assert checker.maybe_refresh() is True
    assert len(calls) == 2
    assert calls[0][-4:-2] == ["check", "--json"] and calls[0][-2] == "--history"
    assert calls[0][calls[0].index("--state-dir") + 1] == "/s"


def test_a_failed_check_is_shown_not_raised() -> None:
    checker = live(lambda cmd, t: (3, "", "harness: error: the stack is not running\n"),
                   FakeClock())
    checker.maybe_refresh()
    assert checker.rows()[0]["status"] == "check failed: harness: error: the stack is not running"

    def crash(cmd: Sequence[str], timeout_s: float) -> tuple[int, str, str]:
        raise OSError("no python")

    checker = live(crash, FakeClock())
    checker.maybe_refresh()
    assert checker.rows()[0]["status"] == "check failed: OSError: no python"
    assert checker.maybe_refresh() is False  # rate limit still applies after a failure


def test_a_violation_is_recorded_before_its_row_is_shown() -> None:
    """The session panel reads ``first_violated`` while the tab's rows come from another
    thread: a row shown VIOLATED is always in ``first_violated`` already."""
    checker = live(lambda cmd, t: (1, json.dumps(CHECK_DOC), ""), FakeClock())
    shown_when_recorded: list[list[str]] = []

    class Spy(dict[str, float]):
        def setdefault(self, key: str, default: float) -> float:
            shown_when_recorded.append([r["status"] for r in checker.rows()])
            return super().setdefault(key, default)

    checker.first_violated = Spy()
    checker.maybe_refresh()
    assert shown_when_recorded == [["not checked yet"]]
    assert list(checker.first_violated) == ["seat_conservation"]
    assert [r["status"] for r in checker.rows()] == ["holds", "VIOLATED", "error"]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.stack
async def test_the_web_ui_serves_the_invariants_tab(stack: StackHandle) -> None:
    port = stack.state.ports["locust_web"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness", "--state-dir", str(TEST_STATE_DIR), "ui",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=REPO_ROOT,
        env={**os.environ, "HARNESS_UI_CHECK_INTERVAL": "1"}, start_new_session=True,
    )
    rows: list[dict[str, object]] = []
    page = ""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(120):  # bounded: at most ~60 s
                await asyncio.sleep(0.5)
                try:
                    stats = (await client.get(f"http://127.0.0.1:{port}/stats/requests")).json()
                except httpx.HTTPError:
                    continue
                [tab] = [t for t in stats.get("extended_stats", []) if t["key"] == "invariants"]
                rows = tab["data"]
                if len(rows) == 8:
                    page = (await client.get(f"http://127.0.0.1:{port}/")).text
                    break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert [r["name"] for r in rows][:1] == ["no_double_sold_seats"], rows
    assert {r["status"] for r in rows} <= {"holds", "VIOLATED", "error"}
    assert '"title": "Invariants"' in page
