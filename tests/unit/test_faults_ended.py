"""A fault schedule whose stop hangs ends the run with a clear error, not a bare TimeoutError."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from harness.errors import EXIT_STACK, HarnessError
from harness.run.loop import faults_ended


@pytest.mark.asyncio
async def test_a_hanging_fault_stop_is_a_clear_error_and_the_schedule_is_cancelled(
        tmp_path: Path) -> None:
    async def hangs() -> list[dict[str, Any]]:
        await asyncio.Event().wait()
        return []

    task = asyncio.create_task(hangs())
    log = tmp_path / "faults-lock.jsonl"
    with pytest.raises(HarnessError) as err:
        await faults_ended(task, "lock", log, limit_s=0.05)
    assert err.value.exit_code == EXIT_STACK
    assert "lock: the fault schedule did not stop its faults within 0.05s" in str(err.value)
    assert str(log) in str(err.value)
    assert task.cancelled()


@pytest.mark.asyncio
async def test_the_fault_windows_come_back_when_the_schedule_ends(tmp_path: Path) -> None:
    async def ends() -> list[dict[str, Any]]:
        return [{"name": "service-pause"}]

    task = asyncio.create_task(ends())
    assert await faults_ended(task, "lock", tmp_path / "f.jsonl") == [{"name": "service-pause"}]
