"""Which invariants catch each seeded bug, and with which run (docs/contract.md section 6).

The one bug-to-invariant table: the seeded bugs are the service's (``target_service.bugs``),
the invariant names are ours, so the table lives here and imports the bug names. ``harness
bugs`` prints it, the matrix builds its bug cells from it, and the end-to-end tests run
``harness run --strategy S --faults F --bug B`` from it and expect exit 1 with one of
``invariants`` violated, and exit 0 without the bug. ``faults`` names a schedule of
``chaos.schedules.SCHEDULES`` (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from invariants.base import INVARIANT_NAMES
from target_service.bugs import BUGS
from target_service.strategies import STRATEGIES


@dataclass(frozen=True, slots=True)
class BugCatch:
    """How to catch one seeded bug: the strategy and fault schedule to run, what breaks, why."""

    bug: str
    strategy: str
    faults: str
    invariants: tuple[str, ...]  # at least one of these is violated
    why: str


#: bug name -> how to catch it; one entry per seeded bug.
CATCHES: dict[str, BugCatch] = {
    c.bug: c
    for c in (
        BugCatch("lock-no-fencing", "lock", "lock-takeover-relay", ("no_double_sold_seats",),
                 "a paused holder's lease expires, a rival buys the seat, the holder wakes and "
                 "writes over it unfenced"),
        BugCatch("lock-unsafe-release", "lock", "lock-takeover-relay", ("no_double_sold_seats",),
                 "the woken holder deletes its successor's lock, letting a third buyer in "
                 "beside the successor; its write lands on the seat the successor sold"),
        BugCatch("saga-no-compensation", "saga", "payments-blackhole",
                 ("no_orphaned_authorizations", "seat_conservation"),
                 "authorizations whose answers were lost are never voided and their seats "
                 "stay held"),
        BugCatch("2pc-no-recovery", "2pc", "coordinator-crash", ("no_in_doubt_transactions",),
                 "the coordinator dies between prepare and commit and nobody resolves the "
                 "prepared transactions"),
        BugCatch("idempotency-ignored", "saga", "target-blackhole", ("idempotent_effects",),
                 "clients that never heard the answer retry with the same key and create a "
                 "second order"),
        BugCatch("capture-not-durable", "saga", "coordinator-crash",
                 ("no_capture_without_ticket",),
                 "the service dies between capture and SOLD (failpoint finalize-after-capture) "
                 "and nothing rolls the sale forward: money taken, no ticket"),
    )
}

if set(CATCHES) != set(BUGS):  # pragma: no cover - a wrong table must not import
    raise ImportError(f"invariants.catalog covers {sorted(CATCHES)}, the service seeds "
                      f"{sorted(BUGS)}")
for _catch in CATCHES.values():  # pragma: no cover
    if (_catch.strategy not in STRATEGIES
            or BUGS[_catch.bug].strategy not in ("all", _catch.strategy)
            or not _catch.invariants or not set(_catch.invariants) <= set(INVARIANT_NAMES)):
        raise ImportError(f"invariants.catalog: the catching run of {_catch.bug!r} is not "
                          f"a known strategy, its bug's strategy or known invariants: {_catch}")
