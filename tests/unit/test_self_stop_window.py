"""A shared self-stop failpoint stops its process only on a firing answered within
``SELF_STOP_WINDOW_S``: an answer read late (e.g. after this very process was frozen by another
request's self-stop and continued) may predate a disarm, and would freeze the process again with
nobody left to continue it (issue 17's "did not continue")."""

from __future__ import annotations

import asyncio

import pytest

from target_service import failpoints as fp

pytestmark = pytest.mark.asyncio

NAME = "lock-pause-before-write"


async def hit_with_answer_after(delay_s: float, monkeypatch: pytest.MonkeyPatch,
                                remaining: int | None = 5) -> list[int]:
    """Hit the armed self-stop with a consumer answering after ``delay_s``; the signals sent."""
    sent: list[int] = []
    monkeypatch.setattr(fp.os, "kill", lambda pid, sig: sent.append(sig))
    points = fp.Failpoints(frozenset())
    points.update_shared({NAME: remaining})
    asked: list[str] = []

    async def consume(name: str) -> bool:
        asked.append(name)
        await asyncio.sleep(delay_s)
        return True

    points.set_consumer(consume)
    await points.hit(NAME)
    assert asked == [NAME]  # the table was asked, counted or not
    return sent


async def test_a_firing_answered_at_once_stops_the_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert await hit_with_answer_after(0.0, monkeypatch) == [fp.signal.SIGSTOP]


async def test_an_unlimited_self_stop_asks_the_table_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the polled copy: that one lags a disarm by a poll period, or by a whole pause."""
    assert await hit_with_answer_after(0.0, monkeypatch, remaining=None) == [fp.signal.SIGSTOP]


async def test_a_firing_answered_late_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await hit_with_answer_after(fp.SELF_STOP_WINDOW_S + 0.2, monkeypatch) == []
