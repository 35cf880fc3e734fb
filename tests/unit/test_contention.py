"""Contention per third of a load, from a history (pure)."""

from __future__ import annotations

from typing import Any

from harness.run.contention import contention, hot_rows, is_hot


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
