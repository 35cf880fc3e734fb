"""The checker table and :func:`check_all`, which runs every checker and isolates their crashes.

Checkers run in :data:`LANES`, two at a time; each lane runs its checkers one after another on
its own :class:`~invariants.session.Session` (sharing what it made once), each under
``ctx.timeout_s``. A checker that raises comes back ``ok=False`` with its error; if it broke the
connections, they are reopened so the next checker still runs. If the databases cannot be
reached at all, every invariant comes back with that error.
"""

from __future__ import annotations

import asyncio
import time

from invariants import (
    acknowledged_writes_durable,
    idempotent_effects,
    no_capture_without_ticket,
    no_double_sold_seats,
    no_in_doubt_transactions,
    no_orphaned_authorizations,
    no_ticket_without_capture,
    seat_conservation,
)
from invariants.base import INVARIANT_NAMES, CheckContext, Invariant, InvariantResult
from invariants.session import Session

#: name -> declared invariant, in docs/contract.md section 4 order.
CHECKERS: dict[str, Invariant] = {
    inv.name: inv
    for inv in (
        no_double_sold_seats.INVARIANT,
        no_orphaned_authorizations.INVARIANT,
        no_capture_without_ticket.INVARIANT,
        no_ticket_without_capture.INVARIANT,
        idempotent_effects.INVARIANT,
        seat_conservation.INVARIANT,
        no_in_doubt_transactions.INVARIANT,
        acknowledged_writes_durable.INVARIANT,
    )
}

if tuple(CHECKERS) != INVARIANT_NAMES:  # pragma: no cover - a wrong table must not import
    raise ImportError(f"checker table {tuple(CHECKERS)} does not match {INVARIANT_NAMES}")


def _error_text(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]  # a checker's task group failed: name the error itself
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def crashed(inv: Invariant, exc: BaseException, seconds: float = 0.0) -> InvariantResult:
    """The result of a checker that could not finish: not ok, with its error."""
    return InvariantResult(inv.name, ok=False, violations=0, examples=[],
                           error=_error_text(exc), doc=inv.doc, seconds=seconds)


async def run_one(inv: Invariant, ctx: CheckContext, db: Session) -> InvariantResult:
    """One checker, its crash turned into a result."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(ctx.timeout_s):
            found = await inv.check(ctx, db)
    except Exception as exc:
        return crashed(inv, exc, time.perf_counter() - started)
    return InvariantResult(
        inv.name, ok=found.violations == 0, violations=found.violations,
        examples=found.examples[: ctx.max_examples], doc=inv.doc, note=found.note,
        seconds=time.perf_counter() - started,
    )


#: Checkers run in two lanes at once, each on its own session (two cores: the big scans of one
#: lane overlap the other's); within a lane they run in this order and share what their session
#: made once (mirrored slices, invariants.shared): the money checkers share one per-order
#: aggregate, the history checkers one parse of the history. The lanes weigh about the same.
LANES: tuple[tuple[str, ...], ...] = (
    ("no_double_sold_seats", "seat_conservation", "no_orphaned_authorizations",
     "no_in_doubt_transactions"),
    ("no_capture_without_ticket", "no_ticket_without_capture", "idempotent_effects",
     "acknowledged_writes_durable"),
)

if sorted(n for lane in LANES for n in lane) != sorted(INVARIANT_NAMES):  # pragma: no cover
    raise ImportError(f"the checker lanes {LANES} do not cover {INVARIANT_NAMES} exactly once")


async def _run_lane(chosen: list[Invariant], ctx: CheckContext) -> list[InvariantResult]:
    """One lane's checkers, one after another on one session (crashes isolated)."""
    db = Session(ctx.seats_dsn, ctx.payments_dsn, timeout_s=ctx.timeout_s)
    try:
        await db.open()
    except Exception as exc:
        return [crashed(inv, exc) for inv in chosen]
    results: list[InvariantResult] = []
    try:
        for inv in chosen:
            result = await run_one(inv, ctx, db)
            results.append(result)
            if result.error is not None and not db.healthy():
                try:
                    await db.reopen()
                except Exception as exc:
                    rest = chosen[len(results):]
                    results.extend(crashed(other, exc) for other in rest)
                    break
    finally:
        await db.close()
    return results


async def check_all(ctx: CheckContext, names: tuple[str, ...] = INVARIANT_NAMES
                    ) -> list[InvariantResult]:
    """Every invariant (or ``names``) on the current state, in the order asked; never raises
    for a checker's crash."""
    lanes = [[CHECKERS[n] for n in lane if n in names] for lane in LANES]
    done = await asyncio.gather(*(_run_lane(lane, ctx) for lane in lanes if lane))
    by_name = {r.name: r for results in done for r in results}
    return [by_name[name] for name in names]
