"""A careful client's retry policy: same Idempotency-Key, capped exponential backoff, full jitter.

Pure logic. Guarantees: at most ``max_attempts`` attempts; never a new attempt once
``deadline_s`` has passed since the first one (nor one whose backoff would end after it); every
delay lies in ``[0, min(cap_s, base_s * 2 ** (n - 1))]`` for the n-th retry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from locustfiles.outcomes import Kind


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and after how long to try an operation again."""

    max_attempts: int = 5
    base_s: float = 0.1
    cap_s: float = 2.0
    deadline_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_s < 0 or self.cap_s < 0 or self.deadline_s < 0:
            raise ValueError("retry times must not be negative")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Full-jitter delay before the ``retry_number``-th retry (1 = first retry)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, retry_number - 1))
        return rng.uniform(0.0, ceiling)

    def next_delay(
        self, kind: Kind, attempts_made: int, elapsed_s: float, rng: random.Random
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to stop with this result."""
        if kind is not Kind.RETRY or attempts_made >= self.max_attempts:
            return None
        delay = self.backoff(attempts_made, rng)
        if elapsed_s + delay >= self.deadline_s:
            return None
        return delay
