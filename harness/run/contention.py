"""Is there still something to fight over? Contention per third of a strategy's load, from its
history (pure): the confirm conflict rate and hold rate of each third, and how long the hot
section still had seats to win (measured as the time of the last successful confirm of a hot
seat: after it, every buyer of the hot section lost). Written as ``contention.json`` beside the
report; a run whose hot seats ran dry early, or whose rates drift from the first third to the
last, exercised conflicts more than purchases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.contract.history import HistoryEvent
from target_service.seed import events_for


def hot_seats(event_id: str, section: str) -> frozenset[str]:
    """The seat ids of ``section`` in the seeded event ``event_id`` (empty if unknown)."""
    for spec in events_for(event_id):
        if spec.event_id == event_id:
            return frozenset(s[0] for s in spec.seats() if s[1] == section)
    return frozenset()


def _confirms(events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    return [e for e in events if e["op"] == "confirm" and e["type"] != "invoke"]


def contention(events: Sequence[HistoryEvent], *, start: float, duration_s: float,
               hot: frozenset[str]) -> dict[str, Any]:
    """``{"thirds": [{"confirms", "conflict_rate", "hold_rate"}] * 3, "hot_free_share"}``:
    ``start`` is the load's first unix second; a confirm belongs to the third it ended in."""
    thirds: list[dict[str, Any]] = []
    done = _confirms(events)
    for i in range(3):
        lo, hi = start + i * duration_s / 3, start + (i + 1) * duration_s / 3
        mine = [e for e in done if lo <= e["time"] < hi or (i == 2 and e["time"] >= hi)]
        n = len(mine)
        conflicts = sum(1 for e in mine if e.get("status") == 409)
        holds = sum(1 for e in mine if e["type"] == "ok")
        thirds.append({"confirms": n, "conflict_rate": round(conflicts / n, 3) if n else 0.0,
                       "hold_rate": round(holds / n, 3) if n else 0.0})
    won = [e["time"] for e in done if e["type"] == "ok" and hot & set(e["seats"])]
    free = (max(won) - start) / duration_s if won else 0.0
    return {"thirds": thirds, "hot_free_share": round(min(1.0, max(0.0, free)), 3)}
