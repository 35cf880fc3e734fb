"""The retry policy and the meaning of each attempt (pure)."""

from __future__ import annotations

import random

import pytest

from locustfiles.outcomes import AttemptResult, Kind, classify, history_type, locust_failure
from locustfiles.retry import RetryPolicy
from locustfiles.shape_plan import flash_sale_tick


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        (AttemptResult(201, {"order_id": "x"}), Kind.OK),
        (AttemptResult(None, error="timeout"), Kind.RETRY),
        (AttemptResult(503, {"code": "DEPENDENCY_UNAVAILABLE"}), Kind.RETRY),
        (AttemptResult(409, {"code": "IDEMPOTENCY_KEY_IN_USE"}), Kind.RETRY),
        (AttemptResult(409, {"code": "SEAT_UNAVAILABLE"}), Kind.REJECTED),
        (AttemptResult(409, {"code": "ORDER_BUSY"}), Kind.UNKNOWN),
        (AttemptResult(402, {"code": "PAYMENT_FAILED"}), Kind.REJECTED),
        (AttemptResult(422, {"code": "IDEMPOTENCY_KEY_MISMATCH"}), Kind.INVALID),
        (AttemptResult(404, {"code": "ORDER_NOT_FOUND"}), Kind.INVALID),
        (AttemptResult(500, {"code": "INTERNAL_ERROR"}), Kind.UNKNOWN),
    ],
)
def test_each_answer_has_one_meaning(result: AttemptResult, kind: Kind) -> None:
    assert classify(result) is kind


def test_a_timeout_is_never_fail() -> None:
    assert history_type(classify(AttemptResult(None, error="timeout"))) == "info"
    assert history_type(Kind.UNKNOWN) == "info"
    assert history_type(Kind.REJECTED) == "fail"
    assert history_type(Kind.OK) == "ok"


def test_losing_a_seat_is_not_a_locust_failure() -> None:
    assert locust_failure(AttemptResult(409, {"code": "SEAT_UNAVAILABLE"})) is None
    assert locust_failure(AttemptResult(402, {"code": "PAYMENT_FAILED"})) is None
    assert locust_failure(AttemptResult(409, {"code": "IDEMPOTENCY_KEY_IN_USE"})) is None
    assert locust_failure(AttemptResult(409, {"code": "ORDER_BUSY"})) is None


def test_a_busy_order_is_unknown_not_fail() -> None:
    # another request is working on the order and may still sell it: never a definite failure
    assert history_type(classify(AttemptResult(409, {"code": "ORDER_BUSY"}))) == "info"
    assert locust_failure(AttemptResult(None, error="timeout")) is not None
    assert locust_failure(AttemptResult(503, {"code": "DEPENDENCY_UNAVAILABLE"})) is not None
    assert locust_failure(AttemptResult(400, {"code": "BAD_REQUEST"})) is not None


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, base_s=0.1, cap_s=1.0, deadline_s=100)
    rng = random.Random(1)
    for retry in range(1, 10):
        ceiling = min(1.0, 0.1 * 2 ** (retry - 1))
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole window


def test_retries_stop_at_the_attempt_bound_and_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=0.1, cap_s=0.1, deadline_s=10)
    rng = random.Random(0)
    assert policy.next_delay(Kind.RETRY, 1, 0.0, rng) is not None
    assert policy.next_delay(Kind.RETRY, 3, 0.0, rng) is None
    assert policy.next_delay(Kind.RETRY, 1, 10.0, rng) is None
    for kind in (Kind.OK, Kind.REJECTED, Kind.INVALID, Kind.UNKNOWN):
        assert policy.next_delay(kind, 1, 0.0, rng) is None


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(cap_s=-1)


def test_flash_sale_opens_to_everyone_at_once() -> None:
    assert flash_sale_tick(0.0, 50, 100.0) == (5, 5.0)
    assert flash_sale_tick(20.0, 50, 100.0) == (50, 50.0)
    assert flash_sale_tick(100.0, 50, 100.0) is None
    assert flash_sale_tick(0.0, 3, 10.0) == (1, 1.0)
