"""What one HTTP attempt means, for the client, for Locust's statistics and for the history.

Pure logic. The rules (Jepsen's three outcomes, docs/contract.md sections 7.5 and 8):

============================================  ==========  ================  =============
attempt                                       kind        Locust            history if final
============================================  ==========  ================  =============
2xx                                           OK          success           ok
402 / 409 SEAT_UNAVAILABLE / other 409        REJECTED    success           fail
  (a business answer: losing a seat or a
  declined card is not a request failure)
400 / 401 / 403 / 404 / 422 / other 4xx       INVALID     failure           fail
no response (timeout, dropped connection),    RETRY       failure           info
  503 / 502 / 504                                         (409 in flight:
409 IDEMPOTENCY_KEY_IN_USE (still in flight)               success)
409 ORDER_BUSY (another request works on      UNKNOWN     success           info
  the order: it may still succeed)
500 and any other 5xx                         UNKNOWN     failure           info
============================================  ==========  ================  =============

A timeout is never ``fail``: a request without an answer may have happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

IN_FLIGHT_CODE = "IDEMPOTENCY_KEY_IN_USE"
BUSY_CODE = "ORDER_BUSY"
RETRY_STATUSES = frozenset({502, 503, 504})


class Kind(enum.Enum):
    """The meaning of one attempt's result."""

    OK = "ok"
    REJECTED = "rejected"
    INVALID = "invalid"
    RETRY = "retry"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """One HTTP attempt as the client saw it (``status`` None: no response at all)."""

    status: int | None
    body: Any = None
    replayed: bool = False
    error: str | None = None

    @property
    def code(self) -> str | None:
        """The problem document's ``code``, when the body is one."""
        if isinstance(self.body, dict):
            code = self.body.get("code")
            return str(code) if code is not None else None
        return None


def classify(result: AttemptResult) -> Kind:
    """The :class:`Kind` of one attempt (see the module table)."""
    status = result.status
    if status is None:
        return Kind.RETRY
    if 200 <= status < 300:
        return Kind.OK
    if status in RETRY_STATUSES:
        return Kind.RETRY
    if status == 409 and result.code == IN_FLIGHT_CODE:
        return Kind.RETRY
    if status == 409 and result.code == BUSY_CODE:
        return Kind.UNKNOWN
    if status in (402, 409):
        return Kind.REJECTED
    if 400 <= status < 500:
        return Kind.INVALID
    return Kind.UNKNOWN


def locust_failure(result: AttemptResult) -> str | None:
    """Why Locust should count this attempt as a failure, or None for a success."""
    kind = classify(result)
    if kind in (Kind.OK, Kind.REJECTED):
        return None
    if result.status == 409 and kind in (Kind.RETRY, Kind.UNKNOWN):
        return None  # the protocol working: another request on the key or order is running
    if result.status is None:
        return f"no response: {result.error or 'connection failed'}"
    return f"HTTP {result.status} {result.code or ''}".strip()


def history_type(final: Kind) -> str:
    """The history completion type of an operation whose last attempt was ``final``."""
    if final is Kind.OK:
        return "ok"
    if final in (Kind.REJECTED, Kind.INVALID):
        return "fail"
    return "info"
