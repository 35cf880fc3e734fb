"""Let the system settle after the load: run recovery until nothing is left in flight (bounded).

After the faults are healed, :func:`settle` repeatedly asks the service to run every sweeper
(``POST /admin/recover``) and looks at the databases for unfinished work: in-doubt prepared
transactions (on both databases), sagas not done, orders rolling forward, holds past their expiry
(as the service's introspection door reports them) and (with ``wait_for_holds``) live holds of
buyers who walked away, which expire by themselves. It returns when nothing is pending or when
``timeout_s`` has passed, whichever comes first; it never raises for a service that does not answer
(that is the checkers' business), and it never waits for a hold that expires after the deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import httpx

from harness.stack import StackState
from target_service import introspection

#: Seconds between recovery rounds.
ROUND_S = 1.0
#: Timeout of one admin call / database query.
CALL_TIMEOUT_S = 10.0

@dataclass(slots=True)
class SettleResult:
    """How settling went: whether everything finished, and what was still pending."""

    settled: bool
    seconds: float
    rounds: int
    pending: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        left = ", ".join(f"{k}={v}" for k, v in self.pending.items() if v)
        state = "settled" if self.settled else f"not settled ({left or 'unknown'})"
        return f"{state} after {self.seconds:.1f}s, {self.rounds} recovery rounds"


async def recover(state: StackState) -> str | None:
    """One ``POST /admin/recover`` on the service's direct port; an error text or None."""
    url = state.url("target") + "/admin/recover"
    try:
        async with httpx.AsyncClient(timeout=CALL_TIMEOUT_S) as client:
            response = await client.post(url, headers={"X-Admin-Token": state.admin_token})
    except httpx.HTTPError as exc:
        return f"POST {url}: {type(exc).__name__}: {exc}"
    if response.status_code >= 300:
        return f"POST {url}: HTTP {response.status_code}"
    return None


async def pending_work(state: StackState, *, wait_for_holds: bool,
                       deadline_in_s: float) -> dict[str, int]:
    """Counts of unfinished work, from the service's introspection door (all zero when
    settled; the seats database's counts are one snapshot). Live holds count only with
    ``wait_for_holds`` and when the last of them expires within ``deadline_in_s``."""
    work = await introspection.pending_work(state.stores())
    pending = {"prepared": work.prepared, "sagas": work.sagas, "finalizing": work.finalizing,
               "expired_holds": work.expired_holds, "prepared_payments": work.prepared_payments}
    if wait_for_holds:  # waiting is pointless for holds that outlive the deadline
        pending["live_holds"] = (work.live_holds if work.last_hold_expiry_in_s <= deadline_in_s
                                 else 0)
    return pending


async def settle(
    state: StackState, *, timeout_s: float, wait_for_holds: bool = True,
    progress: Callable[[str], None] | None = None,
) -> SettleResult:
    """Recover until nothing is pending or ``timeout_s`` passed (see the module docstring)."""
    started = time.monotonic()
    deadline = started + timeout_s
    result = SettleResult(settled=False, seconds=0.0, rounds=0)
    max_rounds = int(timeout_s / ROUND_S) + 2
    for _ in range(max_rounds):
        result.rounds += 1
        error = await recover(state)
        if error and error not in result.errors:
            result.errors.append(error)
        try:
            result.pending = await pending_work(
                state, wait_for_holds=wait_for_holds,
                deadline_in_s=deadline - time.monotonic())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            text = f"database: {type(exc).__name__}: {exc}"
            if text not in result.errors:
                result.errors.append(text)
            result.pending = {}
        else:
            if not any(result.pending.values()):
                result.settled = True
                break
        if progress is not None:
            left = ", ".join(f"{k}={v}" for k, v in result.pending.items() if v)
            progress(f"settling: {left or 'waiting for the database'}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await asyncio.sleep(min(ROUND_S, remaining))
    result.seconds = time.monotonic() - started
    return result
