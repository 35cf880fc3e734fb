"""The business outcome of a client operation, read from its history completion.

One vocabulary for the console, the report (docs/contract.md section 7.2), the live metrics and
the web UI:

* ``sold``: a ``finalize`` that ended ``ok``;
* ``conflict``: a completion that ended ``fail`` with ``SEAT_UNAVAILABLE`` (a seat lost to a rival);
* ``payment_failed``: a completion that ended ``fail`` with ``PAYMENT_FAILED`` (a declined card);
* ``unknown``: a completion that ended ``info`` (no answer, or a server error).

Apart from them, :func:`server_errors` finds the answers in which the service failed on its own
(a 500 ``INTERNAL_ERROR``): a defect whatever the invariants say, reported beside them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


#: 5xx answers that mean "a dependency is unavailable: retry" (the service's 503, a proxy's
#: 502 or 504); every other 5xx is the service failing on its own
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
#: how many server errors the report lists in full
SERVER_ERROR_EXAMPLES = 5


def is_server_error(status: int | None) -> bool:
    """Whether an answer's ``status`` is the service failing on its own (a 500, not a 503)."""
    return status is not None and status >= 500 and status not in UNAVAILABLE_STATUSES


def server_errors(events: Iterable[HistoryEvent]) -> tuple[int, list[dict[str, Any]]]:
    """How many answers (attempts) were server errors, and the first operations that got one:
    op, order, Idempotency-Key, time, and the final answer's status and problem code."""
    count, examples = 0, list[dict[str, Any]]()
    for event in events:
        if event["type"] == "invoke":
            continue
        bad = sum(1 for a in event.get("attempts", ()) if is_server_error(a["status"]))
        if not bad and is_server_error(event.get("status")):
            bad = 1  # a completion without its attempts
        if not bad:
            continue
        count += bad
        if len(examples) < SERVER_ERROR_EXAMPLES:
            body = event.get("body")
            examples.append({"op": event["op"], "order_id": event["order_id"],
                             "key": event["key"], "time": event["time"],
                             "status": event.get("status"),
                             "code": body.get("code") if isinstance(body, dict) else None})
    return count, examples
