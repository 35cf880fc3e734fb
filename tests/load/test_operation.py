"""One operation with retries becomes invoke + exactly one completion in the history (pure)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from harness.contract.history import HistoryEvent
from locustfiles.operation import OperationRunner, OperationSpec
from locustfiles.outcomes import AttemptResult
from locustfiles.retry import RetryPolicy

SPEC = OperationSpec("confirm", "cust-1", "key-1", "saga", "evt_default", ("A-01",), "ord-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def runner(events: list[HistoryEvent], clock: Clock, attempts: int = 4) -> OperationRunner:
    return OperationRunner(
        policy=RetryPolicy(max_attempts=attempts, base_s=0.1, cap_s=0.5, deadline_s=30),
        jitter=random.Random(0), emit=events.append, process="host/1",
        sleep=clock.sleep, clock=clock, monotonic=clock,
    )


def scripted(*results: AttemptResult) -> Iterator[AttemptResult]:
    return iter(results)


def test_a_timeout_then_success_is_one_ok_operation_with_two_attempts() -> None:
    events: list[HistoryEvent] = []
    clock = Clock()
    answers = scripted(AttemptResult(None, error="Timeout"),
                       AttemptResult(202, {"order_id": "ord-1", "status": "AUTHORIZED"},
                                     replayed=True))
    done = runner(events, clock).perform(SPEC, lambda: next(answers))
    assert done.type == "ok"
    assert [e["type"] for e in events] == ["invoke", "ok"]
    invoke, ok = events
    assert invoke["op_id"] == ok["op_id"] and invoke["key"] == ok["key"] == "key-1"
    assert [a["status"] for a in ok["attempts"]] == [None, 202]
    assert ok["attempts"][1]["replayed"] is True
    assert ok["status"] == 202 and ok["body"]["status"] == "AUTHORIZED"
    assert ok["time"] > invoke["time"]


def test_timeouts_until_the_bound_end_as_info_never_fail() -> None:
    events: list[HistoryEvent] = []
    calls = 0

    def send() -> AttemptResult:
        nonlocal calls
        calls += 1
        return AttemptResult(None, error="Timeout")

    done = runner(events, Clock(), attempts=4).perform(SPEC, send)
    assert calls == 4
    assert done.type == "info"
    assert [e["type"] for e in events] == ["invoke", "info"]
    assert events[1]["status"] is None and len(events[1]["attempts"]) == 4
    assert "gave up" in events[1]["error"]


def test_a_definite_rejection_is_fail_without_retry() -> None:
    events: list[HistoryEvent] = []
    answers = scripted(AttemptResult(409, {"code": "SEAT_UNAVAILABLE"}))
    done = runner(events, Clock()).perform(SPEC, lambda: next(answers))
    assert done.type == "fail"
    assert [e["type"] for e in events] == ["invoke", "fail"]
    assert events[1]["body_digest"] is not None


def test_a_503_is_retried_and_a_final_500_is_info() -> None:
    events: list[HistoryEvent] = []
    answers = scripted(AttemptResult(503, {"code": "DEPENDENCY_UNAVAILABLE"}),
                       AttemptResult(500, {"code": "INTERNAL_ERROR"}))
    done = runner(events, Clock()).perform(SPEC, lambda: next(answers))
    assert done.type == "info" and done.attempts == 2


def test_an_interrupted_operation_still_completes_as_info() -> None:
    events: list[HistoryEvent] = []

    class Stopped(BaseException):
        pass

    def send() -> AttemptResult:
        raise Stopped

    with pytest.raises(Stopped):
        runner(events, Clock()).perform(SPEC, send)
    assert [e["type"] for e in events] == ["invoke", "info"]
    assert events[1]["error"] == "interrupted: Stopped"


def test_create_ok_carries_the_new_order_id() -> None:
    events: list[HistoryEvent] = []
    spec = OperationSpec("create", "cust-1", "key-2", "lock", "evt_default", ("A-01",))
    answers = scripted(AttemptResult(201, {"order_id": "ord-9", "status": "PENDING"}))
    runner(events, Clock()).perform(spec, lambda: next(answers))
    assert events[0]["order_id"] is None and events[1]["order_id"] == "ord-9"
