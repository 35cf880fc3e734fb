"""Coverage: the dangerous situations a run actually produced ("sometimes" properties).

The one table of situations (:data:`SITUATIONS`): each names a moment in which a strategy can go
wrong, and the strategies it applies to. The service counts one in the ``coverage`` table of
the seats database at the moment it happens (:class:`CoverageRecorder`, best effort: a count
is never worth failing the request or the sweep it sits in, so a situation met while the seats
database is unreachable may go uncounted). ``reset_data`` clears the counts; the harness reads
them through the introspection door (:func:`read_counts`), once per strategy's run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from target_service.failpoints import FAILPOINT_STRATEGIES, default_action
from target_service.strategies import STRATEGIES

log = logging.getLogger(__name__)

_ALL = frozenset(STRATEGIES)
_SAGAS = frozenset({"lock", "saga"})


@dataclass(frozen=True, slots=True)
class Situation:
    """One dangerous situation: its name, the strategies it applies to, what it means."""

    name: str
    strategies: frozenset[str]
    doc: str


def _crash_situations() -> list[Situation]:
    return [Situation(f"crash:{fp}", strategies, f"a service process crashed at {fp}")
            for fp, strategies in sorted(FAILPOINT_STRATEGIES.items())
            if default_action(fp) == "crash" and not fp.startswith("provider-")]


#: name -> situation; ``crash:<failpoint>`` for every crash failpoint of the service.
SITUATIONS: dict[str, Situation] = {s.name: s for s in [
    Situation("lease-expired-in-critical-section", frozenset({"lock"}),
              "a seat lock's lease ran out while its holder was still inside the critical"
              " section (paused, stalled or slow)"),
    Situation("lease-taken-over", frozenset({"lock"}),
              "a buyer acquired a seat lock whose previous holder's lease had expired"
              " without a release"),
    Situation("takeover-fenced-live-holder", frozenset({"lock"}),
              "a holder's claim or seat write was refused by a newer fencing token"),
    Situation("compensation-retried", _SAGAS,
              "a compensation (void or refund) that could not be finished was re-driven"),
    Situation("stale-confirm-compensated", _SAGAS,
              "the sweeper compensated a confirm abandoned by a dead or stalled request"),
    Situation("stale-finalize-rolled-forward", _SAGAS,
              "the sweeper rolled forward a finalize abandoned by a dead or stalled request"),
    Situation("void-found-capture", _SAGAS,
              "a void found the payment already captured (refunded instead)"),
    Situation("in-doubt-committed-by-recovery", frozenset({"2pc"}),
              "2PC recovery committed a prepared transaction its coordinator left in doubt"),
    Situation("in-doubt-aborted-by-recovery", frozenset({"2pc"}),
              "2PC recovery aborted a prepared transaction its coordinator left in doubt"),
    Situation("idempotent-replay", _ALL,
              "a retry with the same Idempotency-Key got the stored answer (the first was lost)"),
    Situation("idempotency-key-resumed", _ALL,
              "a retry took over the Idempotency-Key of a request that died or hung"),
    Situation("hold-expired-while-authorized", _ALL,
              "a buyer came to finalize an order whose hold had expired with its payment"
              " authorization outstanding (the expiry raced the buyer)"),
    *_crash_situations(),
]}


def hold_lapsed(order: Any) -> bool:
    """Whether ``order`` (a finalize just arrived for it) lost its hold to the expiry while
    authorized: EXPIRED, or AUTHORIZED past its hold and not finalizing."""
    if order.status == "EXPIRED":
        return True
    return (order.status == "AUTHORIZED" and order.finalize_started_at is None
            and order.hold_expires_at is not None
            and order.hold_expires_at <= datetime.now(UTC))


def situations_for(strategy: str) -> tuple[str, ...]:
    """The situation names that apply to ``strategy``, in table order."""
    return tuple(n for n, s in SITUATIONS.items() if strategy in s.strategies)


_UPSERT = ("INSERT INTO coverage (situation, count) VALUES ($1, 1) ON CONFLICT (situation)"
           " DO UPDATE SET count = coverage.count + 1, last_at = now()")
#: a count waits at most this long for the database (it sits in a request's path)
RECORD_TIMEOUT_S = 1.0


class CoverageRecorder:
    """Counts situations in the seats database of one service process (never raises)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def hit(self, situation: str) -> None:
        """Count one ``situation`` (a name of :data:`SITUATIONS`)."""
        if situation not in SITUATIONS:
            raise ValueError(f"unknown coverage situation {situation!r}")
        try:
            await self._pool.execute(_UPSERT, situation, timeout=RECORD_TIMEOUT_S)
        except Exception as exc:  # best effort, see the module docstring
            log.warning("coverage %s not recorded: %s", situation, exc)

    async def failpoint_fired(self, name: str, action: str) -> None:
        """A failpoint fired: count crashes (a pause or delay is counted by what it causes)."""
        if action == "crash" and f"crash:{name}" in SITUATIONS:
            await self.hit(f"crash:{name}")


async def read_counts(seats_dsn: str) -> dict[str, int]:
    """Every situation counted since the last reset: name -> count (none yet: {})."""
    conn = await asyncpg.connect(seats_dsn, timeout=10)
    try:
        rows = await conn.fetch("SELECT situation, count FROM coverage", timeout=10)
    except asyncpg.UndefinedTableError:
        return {}
    finally:
        await conn.close()
    return {str(r["situation"]): int(r["count"]) for r in rows}
