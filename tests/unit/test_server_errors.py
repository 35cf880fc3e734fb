"""The service's own errors (a 500, not a 503) are counted from the client history, and a
``server_errors`` threshold can fail a run on them."""

from __future__ import annotations

from typing import Any, cast

from harness.contract.history import HistoryEvent
from harness.contract.outcomes import SERVER_ERROR_EXAMPLES, server_errors
from harness.report.model import LoadStats, ServerErrors, ThresholdResult
from harness.run.thresholds import LoadMeasures, judge


def completion(kind: str, statuses: list[int | None], n: int = 0,
               body: Any = None) -> HistoryEvent:
    event = {"type": kind, "time": 100.0 + n, "process": "vm/1", "op_id": f"op{n}",
             "op": "finalize", "customer": "c", "key": f"k{n}", "strategy": "saga",
             "event_id": "evt_default", "seats": ["A-01"], "order_id": f"o{n}",
             "status": statuses[-1], "body": body,
             "attempts": [{"status": s, "replayed": False, "body_digest": None}
                          for s in statuses]}
    return cast(HistoryEvent, event)


def test_a_500_counts_and_a_503_or_no_answer_does_not() -> None:
    internal = {"code": "INTERNAL_ERROR", "status": 500}
    events = [
        completion("info", [500], 1, internal),  # the service failed on its own
        completion("ok", [503, None, 200], 2),  # unavailable, no answer, then done
        completion("info", [502, 504, 503], 3),  # a dependency or a proxy: retry
        completion("info", [500, 500], 4, internal),  # two answers, one operation
        completion("fail", [501], 5),
    ]
    count, examples = server_errors(events)
    assert count == 4
    assert [(e["order_id"], e["status"], e["code"]) for e in examples] == [
        ("o1", 500, "INTERNAL_ERROR"), ("o4", 500, "INTERNAL_ERROR"), ("o5", 501, None)]
    assert examples[0] == {"op": "finalize", "order_id": "o1", "key": "k1", "time": 101.0,
                           "status": 500, "code": "INTERNAL_ERROR"}


def test_the_examples_are_the_first_few() -> None:
    count, examples = server_errors([completion("info", [500], n) for n in range(12)])
    assert count == 12 and len(examples) == SERVER_ERROR_EXAMPLES
    assert [e["key"] for e in examples] == [f"k{n}" for n in range(SERVER_ERROR_EXAMPLES)]


def test_a_server_errors_threshold_of_zero_fails_a_run_on_any() -> None:
    hurt = LoadMeasures.of(LoadStats(requests=10, server_errors=ServerErrors(1)), 0, [])
    assert judge("saga", {"server_errors": 0}, hurt) == [
        ThresholdResult("saga/server_errors", 0.0, 1.0, False)]
    clean = LoadMeasures.of(LoadStats(requests=10), 0, [])
    assert judge("saga", {"server_errors": 0}, clean)[0].ok
