"""Invariant checks during the load, with violations confirmed before they count.

Mid-run the system is not settled: work is in flight, faults may be active, and a checker that
reads two databases (or the history, then a database) can see one half of a purchase that
completed between its reads. So a violation seen mid-run counts only once it is **confirmed**:
the same example (same order / payment / seat / gid and kind) is seen again at least
``confirm_s`` later. A transient artefact vanishes on the recheck; a real violation stays
(nothing repairs a double sale, a free ticket or a duplicated effect).

Which invariants may be checked mid-run at all (:func:`midrun_safe`):

* ``no_double_sold_seats`` (every strategy): two live owners of a seat are never in flight;
* ``idempotent_effects`` (every strategy): an effect is recorded with its key atomically,
  and an operation still in flight has not been replayed yet;
* ``no_ticket_without_capture`` (lock, saga): tickets are issued only after the capture
  committed; not for 2pc, whose commit applies the seats database first, so between the two
  ``COMMIT PREPARED`` a ticket legitimately exists before its capture.

The others only hold after recovery (an authorization waits for its void, a capture for its
tickets, a prepared transaction for its second phase, a hold for its expiry, an acknowledged
failure for its compensation) and are checked at the end of the run only. For the time to
detection of a seeded bug, :class:`PeriodicChecker` may still watch such an invariant with a
long ``confirm_s`` (a violation that outlives the service's own recovery deadlines).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract import history as hist
from harness.contract.history import HistoryEvent
from harness.run.loop import MonitorContext

#: Invariants that may be checked during the load, for every strategy.
MIDRUN_ALWAYS: tuple[str, ...] = ("no_double_sold_seats", "idempotent_effects")
#: ... and for these strategies only.
MIDRUN_BY_STRATEGY: dict[str, tuple[str, ...]] = {
    "lock": ("no_ticket_without_capture",), "saga": ("no_ticket_without_capture",),
    "2pc": (),
}
#: Example fields that identify what a violation is about (the first present ones are used).
_KEY_FIELDS = ("gid", "payment_id", "order_id", "seat_id", "op_id", "customer_id",
               "idempotency_key", "event_id")


def midrun_safe(strategy: str) -> tuple[str, ...]:
    """The invariants that hold at any moment of ``strategy``'s load (see the module doc)."""
    return MIDRUN_ALWAYS + MIDRUN_BY_STRATEGY.get(strategy, ())


def example_key(name: str, example: dict[str, Any]) -> str:
    """A stable identity of one violation example (its invariant, kind and row ids)."""
    ids = {k: example[k] for k in _KEY_FIELDS if k in example}
    if not ids:
        ids = example
    return json.dumps([name, example.get("kind"), ids], sort_keys=True, default=str)


@dataclass(slots=True)
class Observation:
    """One mid-run check of one invariant at ``t`` seconds after the load started."""

    t: float
    name: str
    ok: bool
    violations: int
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": round(self.t, 3), "name": self.name, "ok": self.ok,
                               "violations": self.violations}
        if self.error:
            out["error"] = self.error
        return out


@dataclass(slots=True)
class Confirmed:
    """A violation seen at ``first_seen`` and again at ``confirmed_at`` (seconds of load)."""

    name: str
    first_seen: float
    confirmed_at: float
    example: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "first_seen_s": round(self.first_seen, 3),
                "confirmed_at_s": round(self.confirmed_at, 3), "example": self.example}


@dataclass(slots=True)
class Tracker:
    """Pure bookkeeping of suspicions and confirmations (no I/O; unit-testable)."""

    confirm_s: dict[str, float]
    suspects: dict[str, tuple[float, str, dict[str, Any]]] = field(default_factory=dict)
    confirmed: list[Confirmed] = field(default_factory=list)
    confirmed_keys: set[str] = field(default_factory=set)

    def see(self, t: float, name: str, examples: Sequence[dict[str, Any]]) -> list[Confirmed]:
        """Record one check's examples of ``name``; the violations this check confirmed.

        A suspect of ``name`` not seen in this check is dropped (it was transient).
        """
        seen = {example_key(name, ex): ex for ex in examples}
        for key in [k for k, (_, n, _) in self.suspects.items() if n == name and k not in seen]:
            del self.suspects[key]
        new: list[Confirmed] = []
        for key, ex in seen.items():
            if key in self.confirmed_keys:
                continue
            first = self.suspects.setdefault(key, (t, name, ex))[0]
            if t - first >= self.confirm_s.get(name, 0.0):
                del self.suspects[key]
                self.confirmed_keys.add(key)
                new.append(Confirmed(name, first, t, ex))
        self.confirmed.extend(new)
        return new

    def next_recheck(self) -> float | None:
        """When the earliest suspect can be confirmed (seconds of load), or None."""
        due = [first + self.confirm_s.get(name, 0.0) for first, name, _ in self.suspects.values()]
        return min(due) if due else None


def read_history(history_dir: Path) -> list[HistoryEvent]:
    """Every complete history line written so far (torn last lines are skipped)."""
    return [e for path in sorted(history_dir.glob("history-*.jsonl")) for e in hist.read(path)]


class PeriodicChecker:
    """A run-loop monitor: checks ``names`` every ``every_s`` seconds during the load.

    ``confirm_s`` says, per invariant, how long a violation must persist to count (default
    ``default_confirm_s``); a suspect triggers an earlier recheck. Results per strategy:
    :attr:`observations`, :attr:`trackers` (confirmed violations) and :attr:`errors`.
    """

    def __init__(self, names: dict[str, tuple[str, ...]] | None = None, *, every_s: float,
                 default_confirm_s: float = 5.0, confirm_s: dict[str, float] | None = None,
                 max_examples: int = 50, log: Any = None) -> None:
        self.names = names
        self.every_s = max(0.5, every_s)
        self.default_confirm_s = default_confirm_s
        self.confirm_overrides = dict(confirm_s or {})
        self.max_examples = max_examples
        self.log = log
        self.observations: dict[str, list[Observation]] = {}
        self.trackers: dict[str, Tracker] = {}
        self.checks: dict[str, int] = {}

    def names_for(self, strategy: str) -> tuple[str, ...]:
        if self.names is None:
            return midrun_safe(strategy)
        return self.names.get(strategy, midrun_safe(strategy))

    async def __call__(self, ctx: MonitorContext) -> None:
        import invariants

        names = self.names_for(ctx.strategy)
        tracker = Tracker({n: self.confirm_overrides.get(n, self.default_confirm_s)
                           for n in names})
        self.trackers[ctx.strategy] = tracker
        observations = self.observations.setdefault(ctx.strategy, [])
        next_due = self.every_s
        for _ in range(1_000_000):  # bounded; ends with the load
            now = time.monotonic() - ctx.t0
            recheck = tracker.next_recheck()
            due = min(next_due, recheck) if recheck is not None else next_due
            try:
                await asyncio.wait_for(ctx.stop.wait(), max(0.0, due - now))
                return
            except TimeoutError:
                pass
            t = time.monotonic() - ctx.t0
            if t >= next_due:
                next_due = t + self.every_s
            events = await asyncio.to_thread(read_history, ctx.history_dir)
            check_ctx = invariants.CheckContext(
                ctx.state.dsn("seats"), ctx.state.dsn("payments"), history=events,
                strategy=ctx.strategy, max_examples=self.max_examples, timeout_s=60.0)
            results = await invariants.check_all(check_ctx, names)
            self.checks[ctx.strategy] = self.checks.get(ctx.strategy, 0) + 1
            for r in results:
                observations.append(Observation(t, r.name, r.ok, r.violations, r.error))
                if r.error is None:
                    before = {c.name for c in tracker.confirmed}
                    new = tracker.see(t, r.name, r.examples)
                    if new and r.name not in before and self.log is not None:
                        self.log(f"{ctx.strategy}: {r.name} violated at {t:.0f}s (first seen "
                                 f"{min(c.first_seen for c in new):.0f}s, {len(new)} examples)")

    def summary(self, strategy: str) -> dict[str, Any]:
        """One strategy's checks: counts, every observation, the confirmed violations."""
        tracker = self.trackers.get(strategy)
        return {
            "checks": self.checks.get(strategy, 0),
            "invariants": list(self.names_for(strategy)),
            "observations": [o.to_json() for o in self.observations.get(strategy, [])],
            "confirmed": [c.to_json() for c in tracker.confirmed] if tracker else [],
        }
