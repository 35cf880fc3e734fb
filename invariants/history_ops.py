"""Client operations rebuilt from ``history.jsonl`` events, with Jepsen's three outcomes.

An operation is an ``invoke`` plus its completion (same ``op_id``). Its outcome is ``ok`` (it
happened), ``fail`` (it certainly did not happen) or ``info`` (unknown). A completion that never
came, a ``fail`` without a definite 4xx answer, and a ``fail`` whose answer only says that
another request is still doing the work (``IDEMPOTENCY_KEY_IN_USE``: the same key is in flight;
``ORDER_BUSY``: another request or the recovery sweeper is working on the order, e.g. rolling
forward this very operation's earlier, timed-out attempt) are all ``info``: that work may yet
succeed, so whatever the client wrote, nothing certain is known about the effect.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from harness.contract.history import Attempt, HistoryEvent

Outcome = Literal["ok", "fail", "info"]

#: Problem codes that answer for a *different* in-flight request, not for this operation.
NOT_DEFINITE_CODES = frozenset({"IDEMPOTENCY_KEY_IN_USE", "ORDER_BUSY"})


@dataclass(frozen=True, slots=True)
class Op:
    """One logical client operation (all attempts with one Idempotency-Key)."""

    op_id: str
    op: str
    customer: str
    key: str
    strategy: str
    event_id: str
    seats: tuple[str, ...]
    order_id: str | None
    outcome: Outcome
    status: int | None
    body: Any
    attempts: tuple[Attempt, ...]
    time: float

    @property
    def code(self) -> str | None:
        """The problem ``code`` of the final answer, if it was a problem document."""
        if isinstance(self.body, dict):
            code = self.body.get("code")
            return code if isinstance(code, str) else None
        return None

    def brief(self) -> dict[str, Any]:
        """The fields a person needs to find this operation in the history and the database."""
        return {
            "op": self.op, "op_id": self.op_id, "order_id": self.order_id,
            "customer": self.customer, "key": self.key, "strategy": self.strategy,
            "outcome": self.outcome, "status": self.status, "code": self.code,
        }


@functools.lru_cache(maxsize=1 << 18)
def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def as_uuid(value: object) -> uuid.UUID | None:
    """``value`` as a UUID, or None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    return _parse_uuid(value)


@functools.lru_cache(maxsize=1 << 18)
def _text_of(value: str) -> str:
    return str(_parse_uuid(value))


def uuid_text(value: object) -> str:
    """``str(as_uuid(value))``: a UUID's canonical text (``"None"`` when it is not one)."""
    return _text_of(value) if isinstance(value, str) else str(as_uuid(value))


def _outcome(completion: HistoryEvent | None) -> Outcome:
    if completion is None:
        return "info"
    kind = completion["type"]
    if kind == "fail":
        status = completion.get("status")
        body = completion.get("body")
        code = body.get("code") if isinstance(body, dict) else None
        if status is None or not 400 <= status < 500 or code in NOT_DEFINITE_CODES:
            return "info"
        return "fail"
    if kind == "ok":
        return "ok"
    return "info"


def operations(events: Iterable[HistoryEvent], strategy: str | None = None) -> list[Op]:
    """The operations of ``events`` in invocation order (only ``strategy``'s, when given)."""
    invokes: dict[str, HistoryEvent] = {}
    completions: dict[str, HistoryEvent] = {}
    for event in events:
        if event["type"] == "invoke":
            invokes.setdefault(event["op_id"], event)
        else:
            completions.setdefault(event["op_id"], event)
    ops = []
    for op_id in invokes.keys() | completions.keys():
        first = invokes.get(op_id) or completions[op_id]
        done = completions.get(op_id)
        if strategy is not None and first.get("strategy") != strategy:
            continue
        body = done.get("body") if done else None
        order_id = (done.get("order_id") if done else None) or first.get("order_id")
        if order_id is None and isinstance(body, dict) and isinstance(body.get("order_id"), str):
            order_id = body["order_id"]
        ops.append(Op(
            op_id=op_id,
            op=first["op"],
            customer=first["customer"],
            key=first["key"],
            strategy=first.get("strategy", ""),
            event_id=first.get("event_id", ""),
            seats=tuple(first.get("seats") or ()),
            order_id=order_id,
            outcome=_outcome(done),
            status=done.get("status") if done else None,
            body=body,
            attempts=tuple(done.get("attempts") or ()) if done else (),
            time=first["time"],
        ))
    ops.sort(key=lambda o: (o.time, o.op_id))
    return ops
