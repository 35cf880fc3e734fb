"""The seeded bugs of CONTRACT.md section 6: names, and parsing of ``HARNESS_BUG``.

Each bug is a small deviation documented at the code it changes (grep for ``BUG <name>``).
None is ever on unless ``HARNESS_BUG`` names it; an unknown name refuses start-up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bug:
    """One seeded bug: the strategy it affects (or ``all``), what it does, what catches it."""

    name: str
    strategy: str
    description: str
    caught_by: tuple[str, ...]


_ALL = (
    Bug("lock-no-fencing", "lock",
        "no fencing token; the seat write trusts the Redis lease", ("no_double_sold_seats",)),
    Bug("lock-unsafe-release", "lock",
        "release deletes the key without checking the token", ("no_double_sold_seats",)),
    Bug("saga-no-compensation", "saga",
        "a failed or timed-out payment step leaves the seats held and the authorization open",
        ("no_orphaned_authorizations", "seat_conservation")),
    Bug("2pc-no-recovery", "2pc",
        "in-doubt prepared transactions are never resolved", ("no_in_doubt_transactions",)),
    Bug("idempotency-ignored", "all", "the Idempotency-Key is ignored",
        ("idempotent_effects",)),
    Bug("capture-not-durable", "all",
        "finalize captures, then can die before the order is marked sold, with nothing to"
        " repair it", ("no_capture_without_ticket",)),
)

#: bug name -> :class:`Bug`
BUGS: dict[str, Bug] = {b.name: b for b in _ALL}


def parse_bug(raw: str) -> str | None:
    """``""``/``none`` -> None; a known name -> itself; anything else raises ``ValueError``."""
    name = raw.strip()
    if not name or name == "none":
        return None
    if name not in BUGS:
        known = ", ".join(sorted(BUGS))
        raise ValueError(f"HARNESS_BUG={name!r} is not a seeded bug; known bugs: {known}")
    return name
