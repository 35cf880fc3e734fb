"""What was already broken when a live session began, so the session shows only what it broke.

A used stack keeps the damage of earlier runs (a seeded bug's double sales, a crashed run's
orphaned authorization). :class:`Baseline` holds, per invariant, the violation count and the
identities of the examples found at the session's start; :meth:`Baseline.since` turns a later
result into "since the start": the count above the baseline, and only examples not seen then.
Counts are compared (a checker names a bounded number of examples); an example not seen at the
start also counts when the baseline named all of its examples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.soak.periodic import example_key


@dataclass(frozen=True, slots=True)
class Baseline:
    """Violation counts and example identities per invariant at the session's start."""

    counts: dict[str, int] = field(default_factory=dict)
    keys: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, results: Iterable[dict[str, Any]]) -> Baseline:
        """From check results in the report's form (a checker that failed counts nothing)."""
        counts: dict[str, int] = {}
        keys: dict[str, frozenset[str]] = {}
        for r in results:
            name = str(r["name"])
            if r.get("error"):
                continue
            counts[name] = int(r.get("violations") or 0)
            keys[name] = frozenset(example_key(name, ex) for ex in r.get("examples") or ())
        return cls(counts, keys)

    def to_json(self) -> dict[str, Any]:
        return {name: {"violations": n, "keys": sorted(self.keys.get(name, ()))}
                for name, n in self.counts.items()}

    @classmethod
    def from_json(cls, doc: Any) -> Baseline:
        if not isinstance(doc, dict):
            return cls()
        return cls({str(k): int(v.get("violations") or 0) for k, v in doc.items()},
                   {str(k): frozenset(v.get("keys") or ()) for k, v in doc.items()})

    def before(self, name: str) -> int:
        return self.counts.get(name, 0)

    def since(self, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` (report form) limited to what broke after the baseline was taken."""
        name = str(result["name"])
        if result.get("error"):
            return dict(result)
        old = self.keys.get(name, frozenset())
        examples = [ex for ex in result.get("examples") or () if example_key(name, ex) not in old]
        violations = max(0, int(result.get("violations") or 0) - self.before(name))
        if len(old) == self.before(name):  # the baseline named every example: new ones count
            violations = max(violations, len(examples))
        if violations and not examples:
            examples = list(result.get("examples") or ())  # new ones beyond the examples' cap
        return {**result, "ok": violations == 0, "violations": violations,
                "examples": examples if violations else []}
