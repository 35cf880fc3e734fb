"""`harness ui` as a user drives it: a fresh stack, load from the web UI's API, a verdict.

Each test starts the real `harness ui` on the test stack, drives Locust through its HTTP API
(``/swarm``), injects a fault from the UI, breaks or keeps the databases, ends the session with
SIGTERM (what Ctrl-C does to the session) and reads its exit code and report.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from harness.contract.outcomes import OUTCOME_NAMES
from harness.paths import REPO_ROOT
from harness.stack.ports import port_is_free
from target_service.seed import reset_data
from tests.conftest import TEST_STATE_DIR, StackHandle
from tests.invariants.shop import Shop

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: a bounded wait: the loops below poll at most this many times, every POLL_S
POLLS, POLL_S = 240, 0.5


class UiSession:
    """A running `harness ui` and a client for its web UI."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.AsyncClient(timeout=10)

    async def get(self, path: str) -> Any:
        return (await self.client.get(self.base + path)).json()

    async def until(self, what: str, probe: Any) -> Any:
        """Poll ``probe()`` until it returns something truthy (bounded); that value."""
        for _ in range(POLLS):
            if self.proc.returncode is not None:
                raise AssertionError(f"harness ui exited ({self.proc.returncode}) before {what}")
            try:
                found = await probe()
            except (httpx.HTTPError, ValueError, KeyError):
                found = None
            if found:
                return found
            await asyncio.sleep(POLL_S)
        raise AssertionError(f"timed out waiting for {what}")

    async def invariant_rows(self) -> dict[str, dict[str, Any]]:
        stats = await self.get("/stats/requests")
        [tab] = [t for t in stats["extended_stats"] if t["key"] == "invariants"]
        return {r["name"]: r for r in tab["data"] if r["name"] != "-"}

    async def end(self) -> tuple[int, dict[str, Any]]:
        """SIGTERM the session; its exit code and report.json."""
        doc = await self.get("/harness/session")
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 180)
        report = json.loads((Path(doc["run_dir"]) / "report.json").read_text())
        return code, report


@pytest_asyncio.fixture(loop_scope="session")
async def ui_session(stack: StackHandle) -> AsyncIterator[Any]:
    """A factory: start `harness ui` on the test stack; always stopped at the end."""
    started: list[UiSession] = []

    async def start() -> UiSession:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "harness", "--state-dir", str(TEST_STATE_DIR), "ui",
            "--strategy", "saga", stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, cwd=REPO_ROOT, start_new_session=True,
            env={**os.environ, "HARNESS_UI_CHECK_INTERVAL": "1"})
        session = UiSession(proc, stack.state.ports["locust_web"])
        started.append(session)
        await session.until("the web UI", lambda: session.get("/harness/session"))
        return session

    yield start
    for session in started:
        if session.proc.returncode is None:
            os.killpg(session.proc.pid, signal.SIGKILL)
            await session.proc.wait()
        await session.client.aclose()
    await reset_data(stack.seats_dsn, stack.payments_dsn, redis_url=stack.redis_url)


async def test_a_fresh_stack_is_seeded_and_a_new_violation_fails_the_session(
        stack: StackHandle, ui_session: Any) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn, event_seed=())  # no events at all
    session = await ui_session()
    async with httpx.AsyncClient() as client:
        events = (await client.get(f"{stack.target_url}/api/events")).json()["events"]
    assert {"evt_default", "evt_small"} <= {e["event_id"] for e in events}
    swarm = await session.client.post(f"{session.base}/swarm", data={
        "user_count": 4, "spawn_rate": 4, "host": stack.target_url})
    assert swarm.json()["success"] is True

    async def seat_maps() -> dict[str, Any] | None:
        stats = (await session.get("/stats/requests"))["stats"]
        row = next((s for s in stats if s["name"] == "seat map"), None)
        return row if row is not None and row["num_requests"] >= 10 else None

    row = await session.until("10 seat map requests", seat_maps)
    assert row["num_failures"] == 0, row  # no 404 EVENT_NOT_FOUND: the event was seeded
    rows = await session.until("the live invariants", session.invariant_rows)
    assert rows["no_double_sold_seats"]["when"] == "any moment"
    assert rows["no_orphaned_authorizations"]["when"] == "after recovery"

    async with Shop(stack.seats_dsn, stack.payments_dsn) as shop:  # a double sale, mid-session
        first = await shop.order("SOLD", ["A-01"], event_id="evt_small")
        second = await shop.order("SOLD", ["A-01"], event_id="evt_small")

    async def violated() -> dict[str, Any] | None:
        row = (await session.invariant_rows())["no_double_sold_seats"]
        return row if row["status"] == "VIOLATED" else None

    row = await session.until("the live tab to see the double sale", violated)
    assert (row["violations"], row["before"]) == (1, 0)
    panel = await session.get("/harness/session")  # what the panel above Locust's UI shows
    assert (panel["strategy"], panel["bug"]) == ("saga", None)
    assert [name for name, _ in panel["outcomes"]] == list(OUTCOME_NAMES)
    assert [v["name"] for v in panel["violated"]] == ["no_double_sold_seats"]
    code, report = await session.end()
    assert code == 1
    assert report["verdict"] == "fail" and report["bug"] is None
    saga = report["strategies"]["saga"]
    broken = {i["name"]: i for i in saga["invariants"] if not i["ok"]}
    assert list(broken) == ["no_double_sold_seats"], broken
    [example] = broken["no_double_sold_seats"]["examples"]
    assert example["orders"] == sorted([first.id, second.id])
    assert saga["load"]["requests"] > 0 and saga["load"]["outcomes"]["sold"] > 0


async def test_damage_from_before_the_session_is_not_counted(
        stack: StackHandle, ui_session: Any) -> None:
    await reset_data(stack.seats_dsn, stack.payments_dsn)
    async with Shop(stack.seats_dsn, stack.payments_dsn) as shop:  # left by an earlier run
        await shop.order("SOLD", ["A-02"], event_id="evt_small")
        await shop.order("SOLD", ["A-02"], event_id="evt_small")
    session = await ui_session()

    async def checked() -> dict[str, dict[str, Any]] | None:
        rows = await session.invariant_rows()
        return rows if rows.get("no_double_sold_seats", {}).get("status") else None

    row = (await session.until("the live invariants", checked))["no_double_sold_seats"]
    assert (row["status"], row["violations"], row["before"]) == ("holds", 0, 1)
    status = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness", "--state-dir", str(TEST_STATE_DIR), "status", "--json",
        stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT)
    out, _ = await asyncio.wait_for(status.communicate(), 60)
    assert json.loads(out)["ui"] == session.base  # the UI's URL while the session runs
    bad = await session.client.post(f"{session.base}/harness/faults",
                                    json={"fault": "partition", "target": "nowhere"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["code"] == "INVALID_TARGET" and "redis" in bad.json()["detail"]
    injected = await session.client.post(f"{session.base}/harness/faults",
                                         json={"fault": "partition", "target": "redis",
                                               "for_s": 3})
    assert injected.status_code == 202, injected.text

    async def seen(active: bool) -> dict[str, Any] | None:
        doc = await session.get("/harness/session")
        now = {(f["fault"], f["target"]) for f in doc["active"]}
        return doc if (("partition", "redis") in now) == active else None

    await session.until("the injected partition among the active faults",
                        lambda: seen(True))
    doc = await session.until("the partition's end", lambda: seen(False))
    [window] = [w for w in doc["windows"] if w["target"] == "redis"]
    assert window["name"] == "partition" and window["end_s"] > window["start_s"]
    code, report = await session.end()
    assert code == 0
    assert report["verdict"] == "pass"
    baseline = json.loads((Path(report_dir(report)) / "baseline.json").read_text())
    assert baseline["no_double_sold_seats"]["violations"] == 1


def report_dir(report: dict[str, Any]) -> Path:
    return REPO_ROOT / "reports" / str(report["run_id"])


async def test_a_killed_session_leaves_no_locust_behind(
        stack: StackHandle, ui_session: Any) -> None:
    """SIGKILL of `harness ui` (no chance to stop Locust in order): Locust, in a session of its
    own, still goes with it, and the web port is free for the next session."""
    session = await ui_session()
    os.killpg(session.proc.pid, signal.SIGKILL)  # the harness's own group: not Locust's
    await session.proc.wait()
    for _ in range(POLLS):  # bounded: until Locust has exited and let its web port go
        if port_is_free(stack.state.ports["locust_web"]):
            break
        await asyncio.sleep(POLL_S)
    else:
        raise AssertionError("Locust still holds the web port after its harness was killed")
    with pytest.raises(httpx.HTTPError):
        await session.get("/harness/session")
