"""The story of each order a violation names: its client events, the faults they met, its rows.

Pure given its inputs (the rows come from :func:`invariants.order_rows.order_rows`, the only
reader of the service's tables). An order's events are those of every operation that names it
in any event (a ``create`` learns its order id only from the answer, so its ``invoke`` counts
through the completion) or that carries the Idempotency-Key which created it (the ``orders``
row's: a create whose answer was lost names no order at all); its faults are the strategy's
fault windows that overlap the span of those events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.contract.history import HistoryEvent
from harness.report.model import FaultWindow, InvariantOutcome, OrderStory, StoryEvent
from invariants.order_rows import orders_named


def named_orders(invariants: Iterable[InvariantOutcome]) -> list[str]:
    """Every order named by an example of a violated invariant, first-named first."""
    seen: dict[str, None] = {}
    for inv in invariants:
        if inv.ok:
            continue
        for ex in inv.examples:
            for order_id in orders_named(ex):
                seen.setdefault(order_id, None)
    return list(seen)


def story_event(event: HistoryEvent, load_wall0: float) -> StoryEvent:
    """One history event in the story's form (``t_s``: seconds since the load began)."""
    body = event.get("body")
    code = body.get("code") if isinstance(body, dict) else None
    latency = event.get("latency_ms")
    return StoryEvent(
        type=event["type"], op=event["op"], op_id=event["op_id"], strategy=event["strategy"],
        time=event["time"], t_s=round(event["time"] - load_wall0, 3), key=event["key"],
        status=event.get("status"), code=str(code) if code is not None else None,
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        attempts=len(event.get("attempts") or []), error=event.get("error"))


def build_stories(order_ids: Sequence[str], events: Sequence[HistoryEvent],
                  windows: Sequence[FaultWindow], load_wall0: float,
                  rows: Mapping[str, Mapping[str, list[dict[str, Any]]]]
                  ) -> dict[str, OrderStory]:
    """order id -> its story, for every id of ``order_ids`` (see the module docstring)."""
    wanted = set(order_ids)
    created_by: dict[tuple[str, str], list[str]] = {}
    for order_id in order_ids:
        for row in rows.get(order_id, {}).get("orders", []):
            pair = (str(row.get("customer_id")), str(row.get("idempotency_key")))
            created_by.setdefault(pair, []).append(order_id)
    ops_of: dict[str, set[str]] = {o: set() for o in order_ids}
    for event in events:
        named = event.get("order_id")
        if named in wanted:
            ops_of[str(named)].add(event["op_id"])
        for creator in created_by.get((event["customer"], event["key"]), ()):
            ops_of[creator].add(event["op_id"])
    op_order: dict[str, list[str]] = {}
    for order_id, ops in ops_of.items():
        for op_id in ops:
            op_order.setdefault(op_id, []).append(order_id)
    mine: dict[str, list[StoryEvent]] = {o: [] for o in order_ids}
    for event in events:
        for order_id in op_order.get(event["op_id"], ()):
            mine[order_id].append(story_event(event, load_wall0))
    stories = {}
    for order_id in order_ids:
        history = tuple(sorted(mine[order_id], key=lambda e: e.time))
        met: tuple[FaultWindow, ...] = ()
        if history:
            first, last = history[0].t_s, history[-1].t_s
            met = tuple(w for w in windows if w.start_s <= last and w.end_s >= first)
        table_rows = rows.get(order_id, {})
        stories[order_id] = OrderStory(
            history=history, faults=met,
            rows={table: tuple(found) for table, found in table_rows.items()})
    return stories
