"""The data of a fault schedule: timed fault entries, independent of how they were made.

A :class:`ScheduledFault` is one fault kind on one target from ``start_s`` for ``duration_s``
seconds of the run (seconds since the load started); ``label`` names it in ``faults.jsonl`` and
the report (the schedule's name, e.g. ``redis-partition``). A ``Schedule`` is a list of them in
start order; entries may overlap unless they are the same fault on the same target.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        return {
            "start_s": round(self.start_s, 3), "duration_s": round(self.duration_s, 3),
            "fault": self.fault, "target": self.target, "params": dict(self.params),
            "label": self.name,
        }


Schedule = list[ScheduledFault]
