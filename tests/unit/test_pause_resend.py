"""A pause holds against a stray SIGCONT: another fault's heal that continues every stopped
process (an exploration window ending just then) continued a freshly paused process, and the
pause gave up with "did not stop on SIGSTOP" (a mixed run ended with exit 3). Real processes,
no stack: the pause's signal sending is pointed at a child of this test."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from chaos.faults import pause as pause_mod
from chaos.processes import is_stopped

pytestmark = pytest.mark.asyncio


def _send(pid: int, sig: signal.Signals, ctx: Any) -> bool:
    """``chaos.processes.send`` without its stack check: False when the process is gone (a
    killed child may die and be reaped by asyncio's child watcher between the pause's look at
    it and its SIGSTOP)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


async def test_a_pause_sends_sigstop_again_after_a_stray_continue(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pause_mod, "send", _send)
    child = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        os.kill(child.pid, signal.SIGSTOP)

        async def stray_continue() -> None:  # the other fault's heal, right after the stop
            await asyncio.sleep(0.2)
            os.kill(child.pid, signal.SIGCONT)

        stray = asyncio.create_task(stray_continue())
        assert await pause_mod.Pause._stays_stopped(None, child.pid)  # type: ignore[arg-type]
        assert stray.done()  # the continue came while the pause watched, and was undone
        assert is_stopped(child.pid)
    finally:
        child.kill()
        await child.wait()


async def test_a_pause_reports_a_target_that_died_instead_of_stopping(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pause_mod, "send", _send)
    child = await asyncio.create_subprocess_exec("sleep", "60")
    child.kill()  # crashed by another fault just as the pause came (a zombie until reaped)
    try:
        assert not await pause_mod.Pause._stays_stopped(None, child.pid)  # type: ignore[arg-type]
    finally:
        await child.wait()
