"""Contention per third of a load, from a history (pure); the rolling-supply check on it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness.run.contention import contention, hot_rows, is_hot
from harness.run.scenario import SupplySection
from harness.run.supply import run_supply
from tests.load.test_rolling_supply import shortfalls


def confirm(t: float, kind: str, status: int, seats: list[str]) -> dict[str, Any]:
    return {"type": kind, "time": t, "op": "confirm", "status": status, "seats": seats,
            "op_id": f"{t}", "process": "p", "customer": "c", "key": "k", "strategy": "saga",
            "event_id": "evt_default", "order_id": None}


def test_thirds_count_conflicts_and_holds_and_hot_seats_running_dry() -> None:
    hot = hot_rows("evt_default", "FRONT")
    assert hot == {"A", "B"}
    assert is_hot("A-01", hot) and is_hot("B3-20", hot) and not is_hot("C-01", hot)
    events = [confirm(100 + t, "ok", 202, ["A-01"]) for t in (1, 2)]
    events += [confirm(100 + t, "fail", 409, ["A-02"]) for t in (25, 26, 41, 42, 55)]
    events += [confirm(150, "ok", 202, ["K-01"])]  # not hot: says nothing of the hot section
    events += [{**confirm(101.5, "invoke", 0, ["A-03"])}]  # invokes are not outcomes
    out = contention(events, start=100, duration_s=60, hot=hot)  # type: ignore[arg-type]
    assert out["thirds"][0] == {"confirms": 2, "conflict_rate": 0.0, "hold_rate": 1.0}
    assert out["thirds"][1] == {"confirms": 2, "conflict_rate": 1.0, "hold_rate": 0.0}
    assert out["thirds"][2] == {"confirms": 4, "conflict_rate": 0.75, "hold_rate": 0.25}
    assert out["hot_free_share"] == round(2 / 30, 3)  # hot seats won in 2 of 30 slices


def test_a_wave_won_in_every_slice_counts_the_whole_load() -> None:
    hot = hot_rows("evt_default", "FRONT")
    events = [confirm(100 + t + 0.5, "ok", 202, [f"A{2 + t // 10}-01"]) for t in range(0, 20, 2)]
    out = contention(events, start=100, duration_s=20, hot=hot)  # type: ignore[arg-type]
    assert out["hot_free_share"] == 1.0


def test_the_rolling_supply_check_fails_a_load_whose_hot_seats_ran_dry() -> None:
    """The check of tests/load/test_rolling_supply.py has teeth (its real run with the old
    supply is in the slow tier): hot seats won only in the first seconds fail it, a wave won in
    every slice of a steady load passes its hot-seat part."""
    hot = hot_rows("evt_default", "FRONT")
    dry = [confirm(100 + t, "ok", 202, ["A-01"]) for t in (1, 2)]
    dry += [confirm(100 + t, "fail", 409, ["A-02"]) for t in range(3, 60, 3)]
    found = shortfalls(contention(dry, start=100, duration_s=60, hot=hot))  # type: ignore[arg-type]
    assert any(s.startswith("hot seats free") for s in found), found
    assert any(s.startswith("conflict_rate drifts") for s in found), found
    steady = [confirm(100 + t + 0.5, "ok", 202, [f"A{2 + t // 10}-01"]) for t in range(0, 60, 2)]
    steady += [confirm(100 + t + 0.7, "fail", 409, ["A-02"]) for t in range(0, 60, 2)]
    assert shortfalls(contention(steady, start=100, duration_s=60, hot=hot)) == []  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_no_on_sale_opens_no_wave_and_asks_nothing() -> None:
    """``on_sale = "none"``: the timer never calls the service (no stack at all here)."""
    stop = asyncio.Event()
    stop.set()
    log = await run_supply(SupplySection(on_sale="none"), None, "evt_default",  # type: ignore[arg-type]
                           "FRONT", t0=0.0, stop=stop)
    assert log.summary()["waves_opened"] == 0 and log.calls == 0
