"""The checkers' shared interface: what a checker is given, what it returns, and its declaration.

A checker is an async function ``check(ctx, db) -> Findings`` with a one-line docstring saying
what the invariant protects, declared once as an :class:`Invariant`. It reads the databases
through ``db`` (a :class:`invariants.session.Session`) and the client history through
``ctx.history``; it never writes to the service's tables. :func:`invariants.check_all` turns
``Findings`` (or a crash) into an :class:`InvariantResult`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.contract.history import HistoryEvent
from target_service.strategies import STRATEGIES

if TYPE_CHECKING:
    from invariants.session import Session

#: The eight invariants of docs/contract.md section 4, in contract order.
INVARIANT_NAMES: tuple[str, ...] = (
    "no_double_sold_seats",
    "no_orphaned_authorizations",
    "no_capture_without_ticket",
    "no_ticket_without_capture",
    "idempotent_effects",
    "seat_conservation",
    "no_in_doubt_transactions",
    "acknowledged_writes_durable",
)

#: How many example rows a result carries by default.
MAX_EXAMPLES = 5
#: How many a run's report asks for: every example in practice (a report lists them all and
#: links each order's story); the bound only keeps a runaway violation from growing a
#: report.json without limit. An invariant's ``violations`` always counts every violation.
ALL_EXAMPLES = 100_000


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checkers look at.

    ``strategy`` limits order-level checks to that strategy's orders (a problem that involves
    several strategies' orders, or that cannot be attributed to one, is reported for each).
    ``grace_s`` is how long after its expiry a hold may still wait for the sweeper; run right
    after ``POST /admin/recover``, the default (the sweeper's period, with margin) suffices.
    """

    seats_dsn: str
    payments_dsn: str
    history: Sequence[HistoryEvent] | None = None
    strategy: str | None = None
    grace_s: float = 5.0
    max_examples: int = MAX_EXAMPLES
    timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES} or None: {self.strategy!r}")
        if self.max_examples < 1:
            raise ValueError("max_examples must be >= 1")


@dataclass(slots=True)
class Findings:
    """What one checker found: the number of violations and a few concrete examples."""

    violations: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


@dataclass(slots=True)
class InvariantResult:
    """The verdict on one invariant; ``to_json`` is its docs/contract.md section 7.2 form."""

    name: str
    ok: bool
    violations: int
    examples: list[dict[str, Any]]
    error: str | None = None
    doc: str = ""
    note: str | None = None  # e.g. "no history given": what the result did not cover
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "ok": self.ok,
            "violations": self.violations,
            "examples": self.examples,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


CheckFn = Callable[[CheckContext, "Session"], Awaitable[Findings]]


@dataclass(frozen=True, slots=True)
class Invariant:
    """One declared invariant: its contract name and its checker (whose docstring is ``doc``)."""

    name: str
    check: CheckFn

    def __post_init__(self) -> None:
        if self.name not in INVARIANT_NAMES:
            raise ValueError(
                f"invariant {self.name!r} is not one of docs/contract.md section 4: "
                f"{INVARIANT_NAMES}"
            )
        doc = (self.check.__doc__ or "").strip()
        if not doc or "\n" in doc:
            raise ValueError(
                f"the checker of {self.name!r} needs a one-line docstring saying what it protects"
            )

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()
