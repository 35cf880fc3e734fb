"""One logical operation with retries, recorded as history events.

Pure logic: the HTTP attempt, the sleep and the event sink are passed in, so the whole retry loop
is unit-tested without Locust or a network. Guarantees, whatever ``send`` does:

* ``emit`` receives exactly one ``invoke`` before the first attempt and exactly one completion
  (``ok`` / ``fail`` / ``info``) after the last, both with the same ``op_id``; also when the
  attempt or the sleep raises (a stopped Locust user): then the completion is ``info`` and the
  exception propagates.
* Every attempt uses the same Idempotency-Key (the caller's ``send`` closes over it) and is listed
  in ``attempts``; the loop makes at most ``policy.max_attempts`` attempts.
* A missing response is never ``fail``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.contract.history import Attempt, HistoryEvent, Operation, body_digest
from locustfiles.outcomes import AttemptResult, Kind, classify, history_type
from locustfiles.retry import RetryPolicy

Emit = Callable[[HistoryEvent], None]


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """What the operation is about (the fields every history line of it carries)."""

    op: Operation
    customer: str
    key: str
    strategy: str
    event_id: str
    seats: tuple[str, ...]
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """How the operation ended: the history type, the last attempt and its kind."""

    type: str
    kind: Kind
    last: AttemptResult | None
    attempts: int

    @property
    def body(self) -> Any:
        return self.last.body if self.last else None


@dataclass(slots=True)
class OperationRunner:
    """Runs operations for one simulated buyer; ``emit`` receives the history events."""

    policy: RetryPolicy
    jitter: Any  # random.Random
    emit: Emit
    process: str
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    _count: int = field(default=0)

    def perform(self, spec: OperationSpec, send: Callable[[], AttemptResult]) -> Completion:
        """Invoke, attempt until the policy says stop, complete (see the module guarantees)."""
        op_id = uuid.uuid4().hex
        self.emit(self._event("invoke", spec, op_id))
        attempts: list[Attempt] = []
        last: AttemptResult | None = None
        started = self.monotonic()
        try:
            for number in range(1, self.policy.max_attempts + 1):
                last = send()
                attempts.append(_attempt(last))
                delay = self.policy.next_delay(
                    classify(last), number, self.monotonic() - started, self.jitter
                )
                if delay is None:
                    break
                self.sleep(delay)
        except BaseException as exc:
            reason = f"interrupted: {type(exc).__name__}"
            self.emit(self._completion("info", spec, op_id, last, attempts, started, reason))
            raise
        kind = classify(last) if last is not None else Kind.RETRY
        kind_type = history_type(kind)
        error = None
        if kind is Kind.RETRY:
            error = f"gave up after {len(attempts)} attempts"
        elif kind is Kind.UNKNOWN:
            error = f"HTTP {last.status if last else None}: outcome unknown"
        self.emit(self._completion(kind_type, spec, op_id, last, attempts, started, error))
        return Completion(kind_type, kind, last, len(attempts))

    def _event(self, type_: str, spec: OperationSpec, op_id: str) -> HistoryEvent:
        return {
            "type": type_,  # type: ignore[typeddict-item]
            "time": self.clock(),
            "process": self.process,
            "op_id": op_id,
            "op": spec.op,
            "customer": spec.customer,
            "key": spec.key,
            "strategy": spec.strategy,
            "event_id": spec.event_id,
            "seats": list(spec.seats),
            "order_id": spec.order_id,
        }

    def _completion(
        self, type_: str, spec: OperationSpec, op_id: str, last: AttemptResult | None,
        attempts: list[Attempt], started: float, error: str | None,
    ) -> HistoryEvent:
        event = self._event(type_, spec, op_id)
        event["attempts"] = attempts
        event["latency_ms"] = round((self.monotonic() - started) * 1000.0, 3)
        event["status"] = last.status if last else None
        if last is not None and last.status is not None:
            event["body"] = last.body
            event["body_digest"] = body_digest(last.body)
            if spec.order_id is None and isinstance(last.body, dict) and type_ == "ok":
                order_id = last.body.get("order_id")
                event["order_id"] = str(order_id) if order_id else None
        if error is not None:
            event["error"] = error
        elif last is not None and last.error:
            event["error"] = last.error
        return event


def _attempt(result: AttemptResult) -> Attempt:
    attempt: Attempt = {
        "status": result.status,
        "replayed": result.replayed,
        "body_digest": body_digest(result.body) if result.status is not None else None,
    }
    if result.error:
        attempt["error"] = result.error
    return attempt
