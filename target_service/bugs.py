"""The seeded bugs of docs/contract.md section 6: names, and parsing of ``HARNESS_BUG``.

Each bug is a small deviation documented at the code it changes (grep for ``BUG <name>``).
None is ever on unless ``HARNESS_BUG`` names it; an unknown name refuses start-up. Which
invariant catches each bug, and with which run, is the checkers' knowledge:
``invariants.catalog.CATCHES``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bug:
    """One seeded bug: the strategy it affects (or ``all``) and what it does."""

    name: str
    strategy: str
    description: str


_ALL = (
    Bug("lock-no-fencing", "lock", "no fencing token; the seat write trusts the Redis lease"),
    Bug("lock-unsafe-release", "lock", "release deletes the key without checking the token"),
    Bug("saga-no-compensation", "saga",
        "a failed or timed-out payment step leaves the seats held and the authorization open"),
    Bug("2pc-no-recovery", "2pc", "in-doubt prepared transactions are never resolved"),
    Bug("idempotency-ignored", "all", "the Idempotency-Key is ignored"),
    Bug("capture-not-durable", "all",
        "finalize captures, then can die before the order is marked sold, with nothing to"
        " repair it"),
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
