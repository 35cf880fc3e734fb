"""A run's live counters in Prometheus format, found through `harness status --json`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.paths import REPO_ROOT
from tests.conftest import TEST_STATE_DIR, StackHandle
from tests.load.helpers import write_scenario

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]


async def harness(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness", "--state-dir", str(TEST_STATE_DIR), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=REPO_ROOT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def operations(found: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(v for (name, _), v in found.items() if name == "harness_operations_total")


async def test_a_run_serves_its_counters_and_status_names_the_address(
        cli_stack: StackHandle, tmp_path: Path) -> None:
    run = await asyncio.create_subprocess_exec(  # a small quick-settling scenario's run
        sys.executable, "-m", "harness", "--state-dir", str(TEST_STATE_DIR), "run",
        "--scenario", str(write_scenario(tmp_path)),
        "--strategy", "lock", "--duration", "8s", "--users", "3", "--faults", "none",
        "--out", str(REPO_ROOT / "reports" / f"test-metrics-{os.getpid()}"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=REPO_ROOT,
        start_new_session=True)
    seen: list[float] = []
    last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    try:
        url: Any = None
        for _ in range(60):  # bounded: the address appears once the run has started
            code, out = await harness("status", "--json")
            url = json.loads(out).get("harness_metrics") if code == 0 else None
            if url or run.returncode is not None:
                break
            await asyncio.sleep(0.5)
        assert url and url.startswith("http://127.0.0.1:") and url.endswith("/metrics"), url
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(240):  # bounded: about two minutes, scraping as Prometheus would
                if run.returncode is not None:
                    break
                try:
                    last = samples((await client.get(url)).text)
                except httpx.HTTPError:
                    break  # the run ended
                if operations(last) > (seen[-1] if seen else 0):
                    seen.append(operations(last))
                if len(seen) >= 3:
                    break
                await asyncio.sleep(0.5)
        assert len(seen) >= 3, seen  # the counters moved during the load
        names = {name for name, _ in last}
        assert {"harness_outcomes_total", "harness_active_faults",
                "harness_settle_backlog"} <= names, names
        assert any(name == "harness_operations_total" and ("strategy", "lock") in labels
                   for name, labels in last)
        assert await asyncio.wait_for(run.wait(), 180) in (0, 1)
    finally:
        if run.returncode is None:
            os.killpg(run.pid, signal.SIGKILL)
            await run.wait()
    code, out = await harness("status", "--json")
    assert json.loads(out)["harness_metrics"] is None  # gone with the run
