"""Is there still something to fight over? Contention per third of a strategy's load, from its
history (pure): the confirm conflict rate and hold rate of each third, and the share of the
load time in which the hot section still had seats to win (``hot_free_share``: the share of
the load's ``SLICE_S``-second slices in which some buyer won a hot seat; after the hot seats
run dry, every buyer of the hot section loses and the slices stay empty). Written as
``contention.json`` beside the report; a run whose hot seats ran dry early, or whose rates
drift from the first third to the last, exercised conflicts more than purchases. Seats of the
rows that rolling on-sales open later (``A2-01``: a wave of row ``A``) count as their row's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from harness.contract.history import HistoryEvent
from target_service.on_sale import base_row
from target_service.seed import events_for

#: The slice of load time in which a hot seat must be won to count as "still had seats".
SLICE_S = 2.0


def hot_rows(event_id: str, section: str) -> frozenset[str]:
    """The seeded row labels of ``section`` in the seeded event ``event_id`` (empty if
    unknown)."""
    for spec in events_for(event_id):
        if spec.event_id == event_id:
            return frozenset(row for sec in spec.sections if sec.name == section
                             for row in sec.rows)
    return frozenset()


def is_hot(seat_id: str, rows: frozenset[str]) -> bool:
    """Whether ``seat_id`` (``<row>-<number>``, the row maybe a later wave's) is in ``rows``."""
    return base_row(seat_id.partition("-")[0]) in rows


def _confirms(events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    return [e for e in events if e["op"] == "confirm" and e["type"] != "invoke"]


def contention(events: Sequence[HistoryEvent], *, start: float, duration_s: float,
               hot: frozenset[str]) -> dict[str, Any]:
    """``{"thirds": [{"confirms", "conflict_rate", "hold_rate"}] * 3, "hot_free_share"}``:
    ``start`` is the load's first unix second, ``hot`` the hot section's seeded rows; a
    confirm belongs to the third (and slice) it ended in."""
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
    slices = max(1, math.ceil(duration_s / SLICE_S))
    won = {min(slices - 1, int((e["time"] - start) // SLICE_S)) for e in done
           if e["type"] == "ok" and e["time"] >= start
           and any(is_hot(s, hot) for s in e["seats"])}
    return {"thirds": thirds, "hot_free_share": round(len(won) / slices, 3)}
