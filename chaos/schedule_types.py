"""The data of a fault schedule: timed fault entries, independent of how they were made.

A :class:`ScheduledFault` is one fault kind on one target from ``start_s`` for ``duration_s``
seconds of the run (seconds since the load started); ``label`` names it in ``faults.jsonl`` and
the report (the schedule's name, e.g. ``redis-partition``). A ``Schedule`` is a list of them in
start order; entries may overlap unless they are the same fault on the same target.
``strategy`` (optional) limits an entry to that strategy's load: a replayed run of several
strategies gives each its own recorded timeline (see :func:`for_strategy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaos.faults import AnyFault, make


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """One timed fault of a schedule."""

    start_s: float
    duration_s: float
    fault: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    strategy: str | None = None

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def name(self) -> str:
        """The label, or the fault kind when there is none."""
        return self.label or self.fault

    def make(self) -> AnyFault:
        """A fresh fault object for this entry (validated)."""
        return make(self.fault, self.target, self.params)

    def to_json(self) -> dict[str, Any]:
        out = {
            "start_s": round(self.start_s, 3), "duration_s": round(self.duration_s, 3),
            "fault": self.fault, "target": self.target, "params": dict(self.params),
            "label": self.name,
        }
        if self.strategy is not None:
            out["strategy"] = self.strategy
        return out


Schedule = list[ScheduledFault]


def for_strategy(schedule: Sequence[ScheduledFault], strategy: str) -> Schedule:
    """The entries of ``schedule`` that apply to ``strategy``'s load (no ``strategy``: all)."""
    return [e for e in schedule if e.strategy in (None, strategy)]
