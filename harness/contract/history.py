"""The client history: one JSON line per event of every logical operation a client performed.

Jepsen's rules: each operation is an ``invoke`` followed by exactly one completion:
``ok`` (it happened), ``fail`` (it certainly did not happen: a definite 4xx) or ``info`` (unknown:
a timeout, a dropped connection, a 5xx, retries exhausted). A timeout is never ``fail``. Retries
with the same Idempotency-Key are one operation; each attempt's response is listed in
``attempts`` so replays can be compared with the first response.

Each Locust process appends its own ``history-<pid>.jsonl``; :func:`merge` joins them in time order.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

EventType = Literal["invoke", "ok", "fail", "info"]
Operation = Literal["create", "confirm", "finalize"]


class Attempt(TypedDict):
    """One HTTP attempt of an operation."""

    status: int | None  # None: no response (timeout, connection error)
    replayed: bool  # the response carried ``Idempotent-Replayed: true``
    body_digest: str | None
    error: NotRequired[str]


class HistoryEvent(TypedDict):
    """One line of ``history.jsonl``."""

    type: EventType
    time: float  # unix seconds
    process: str  # "<host>/<pid>"
    op_id: str  # unique per logical operation; the invoke and its completion share it
    op: Operation
    customer: str
    key: str  # the Idempotency-Key
    strategy: str
    event_id: str
    seats: list[str]
    order_id: str | None
    status: NotRequired[int | None]  # final HTTP status (completions)
    body: NotRequired[Any]  # final response body (completions with a response)
    body_digest: NotRequired[str | None]
    attempts: NotRequired[list[Attempt]]
    latency_ms: NotRequired[float]
    error: NotRequired[str]


def body_digest(body: Any) -> str:
    """SHA-256 of a JSON body in canonical form (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class HistoryWriter:
    """Appends events to one file, one line each, flushed per line (a crash loses at most one)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def write(self, event: HistoryEvent) -> None:
        self._file.write(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read(path: Path) -> Iterator[HistoryEvent]:
    """Events of one history file; a torn last line (a killed writer) is skipped."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def merge(paths: Iterable[Path], out: Path) -> int:
    """Merge per-process histories into ``out`` in time order; returns the number of events."""
    streams = [read(p) for p in sorted(paths)]
    count = 0
    with out.open("w", encoding="utf-8") as fh:
        for event in heapq.merge(*streams, key=lambda e: e["time"]):
            fh.write(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n")
            count += 1
    return count
