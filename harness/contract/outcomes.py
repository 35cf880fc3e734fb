"""The business outcome of a client operation, read from its history completion.

One vocabulary for the console, the report (docs/contract.md section 7.2), the live metrics and
the web UI:

* ``sold``: a ``finalize`` that ended ``ok``;
* ``conflict``: a completion that ended ``fail`` with ``SEAT_UNAVAILABLE`` (a seat lost to a rival);
* ``payment_failed``: a completion that ended ``fail`` with ``PAYMENT_FAILED`` (a declined card);
* ``unknown``: a completion that ended ``info`` (no answer, or a server error).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.contract.history import HistoryEvent

#: the outcome names, in the report's order
OUTCOME_NAMES = ("sold", "conflict", "payment_failed", "unknown")


def outcome_of(event: HistoryEvent) -> str | None:
    """The business outcome a completion stands for, or None (an invoke, or not counted)."""
    kind = event["type"]
    if kind == "info":
        return "unknown"
    if kind == "ok":
        return "sold" if event["op"] == "finalize" else None
    if kind == "fail":
        body = event.get("body")
        code = body.get("code") if isinstance(body, dict) else None
        if code == "SEAT_UNAVAILABLE":
            return "conflict"
        if code == "PAYMENT_FAILED":
            return "payment_failed"
    return None


def count_outcomes(events: Iterable[HistoryEvent]) -> dict[str, int]:
    """How many completions ended in each outcome (every name present, 0 when none)."""
    counts = dict.fromkeys(OUTCOME_NAMES, 0)
    for event in events:
        outcome = outcome_of(event)
        if outcome is not None:
            counts[outcome] += 1
    return counts
