"""Which run catches each seeded bug (CONTRACT.md section 6): the one table everyone imports.

``harness bugs`` prints it; the end-to-end tests run ``harness run --strategy S --faults F
--bug B`` from it and expect exit 1 with ``invariants`` violated, and exit 0 without the bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BugCatch:
    """How to catch one seeded bug: the strategy and fault schedule to run, what breaks, why."""

    bug: str
    strategy: str
    faults: str
    invariants: tuple[str, ...]  # at least one of these is violated
    why: str


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
