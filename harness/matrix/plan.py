"""What a matrix runs: the cells (strategy x schedule x seed, and bug x seed), validated.

A **grid cell** runs one strategy under one fault schedule with one seed, without a bug: it
must pass. A **bug cell** runs one seeded bug with its catching strategy and schedule
(``invariants.catalog.CATCHES``) with one seed: one of the catching invariants must break.
Every name is validated before anything runs; a bad one is a :class:`UsageError` naming the
flag (exit 2). Bug cells are ordered by bug, so the service restarts once per bug.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos.schedules import SCHEDULES, applies
from harness.errors import UsageError
from invariants.catalog import CATCHES
from target_service.strategies import STRATEGIES

#: Load per cell when --duration is not given: the issue's "within 30 seconds of load".
DEFAULT_DURATION_S = 30.0
#: How often a bug cell checks its catching invariants during the load.
DEFAULT_CHECK_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class Cell:
    """One run of the matrix."""

    strategy: str
    schedule: str
    seed: int
    bug: str | None = None
    #: a bug cell: the invariants of which at least one must break
    expect: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        if self.bug is not None:
            return f"bug-{self.bug}-s{self.seed}"
        return f"{self.strategy}-{self.schedule}-s{self.seed}"

    @property
    def kind(self) -> str:
        return "bug" if self.bug is not None else "grid"


@dataclass(frozen=True, slots=True)
class MatrixPlan:
    """The matrix's dimensions and per-cell load."""

    strategies: tuple[str, ...]
    schedules: tuple[str, ...]
    bugs: tuple[str, ...]
    seeds: tuple[int, ...]
    duration_s: float
    users: int | None
    check_every_s: float

    def cells(self) -> list[Cell]:
        """Grid cells (seed, strategy, schedule order; only schedules that can break the
        strategy), then bug cells (bug, seed order)."""
        grid = [Cell(strategy, schedule, seed) for seed in self.seeds
                for strategy in self.strategies for schedule in self.schedules
                if applies(schedule, strategy)]
        bugs = [Cell(CATCHES[bug].strategy, CATCHES[bug].faults, seed, bug,
                     CATCHES[bug].invariants) for bug in self.bugs for seed in self.seeds]
        return grid + bugs

    def settings(self) -> dict[str, Any]:
        """The plan as ``matrix.json``'s ``settings`` lists it."""
        return {"strategies": list(self.strategies), "schedules": list(self.schedules),
                "bugs": list(self.bugs), "seeds": list(self.seeds),
                "duration_s": float(self.duration_s), "users": self.users,
                "check_every_s": float(self.check_every_s)}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MatrixPlan:
        """The plan a ``matrix.json``'s settings describe (KeyError/TypeError/ValueError when
        malformed)."""
        return cls(
            strategies=tuple(settings["strategies"]), schedules=tuple(settings["schedules"]),
            bugs=tuple(settings["bugs"]), seeds=tuple(int(s) for s in settings["seeds"]),
            duration_s=float(settings["duration_s"]),
            users=None if settings["users"] is None else int(settings["users"]),
            check_every_s=float(settings["check_every_s"]))


def _names(flag: str, text: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """The comma-separated names of ``flag`` (None: every known one; empty: none), validated."""
    if text is None:
        return known
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for name in names:
        if name not in known:
            raise UsageError(f"{flag}: unknown name {name!r}; known: {', '.join(known)}")
    return names


def plan_from(*, strategies: str | None, schedules: str | None, bugs: str | None, seeds: int,
              first_seed: int, duration_s: float | None, users: int | None,
              check_every_s: float | None) -> MatrixPlan:
    """The plan of the flags (``--bugs none`` and an empty ``--schedules`` skip a part)."""
    if seeds < 1:
        raise UsageError(f"--seeds: must be >= 1 (got {seeds})")
    if first_seed < 0:
        raise UsageError(f"--seed: must be >= 0 (got {first_seed})")
    duration = DEFAULT_DURATION_S if duration_s is None else duration_s
    if duration <= 0:
        raise UsageError(f"--duration: must be longer than 0 (got {duration:g}s)")
    check_every = DEFAULT_CHECK_EVERY_S if check_every_s is None else check_every_s
    if check_every <= 0:
        raise UsageError(f"--check-every: must be longer than 0 (got {check_every:g}s)")
    bug_names = () if bugs is not None and bugs.strip() == "none" else _names(
        "--bugs", bugs, tuple(CATCHES))
    plan = MatrixPlan(
        strategies=_names("--strategies", strategies, STRATEGIES),
        schedules=_names("--schedules", schedules, tuple(SCHEDULES)),
        bugs=bug_names,
        seeds=tuple(range(first_seed, first_seed + seeds)),
        duration_s=duration, users=users, check_every_s=check_every,
    )
    if not plan.cells():
        raise UsageError("--schedules/--bugs: nothing to run (no grid cell and no bug cell)")
    return plan
