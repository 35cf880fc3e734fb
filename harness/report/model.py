"""The run report as frozen dataclasses; report.json (docs/contract.md section 7) at the edge.

A :class:`Report` is built by the run loop and read by the renderers, the matrix and the soak
through attributes (``report.strategies["saga"].load.rps``). :meth:`Report.to_json` writes the
contract form exactly; :meth:`Report.from_json` (and :func:`read_report` for a file) reads it
back, for ``harness report DIR``, the matrix and anyone who post-processes a run:

    report = read_report(run_dir / "report.json")
    for name, result in report.strategies.items():
        print(name, result.load.latency_ms.p95, [i.name for i in result.broken])

Guarantees of a :class:`Report`, whatever it was built from:

* every strategy lists all eight invariants in contract order; one the run did not check is
  ``ok=False`` with the error :data:`NOT_CHECKED`, so a report never passes by omission;
* an invariant with an ``error`` is never ``ok``;
* :attr:`Report.verdict` is computed (``fail`` when any invariant or threshold fails, or no
  strategy ran), never trusted from the input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chaos.runner import FaultWindow
from harness.contract.outcomes import OUTCOME_NAMES
from invariants import INVARIANT_NAMES

__all__ = [
    "NOT_CHECKED", "Coverage", "FaultWindow", "InvariantOutcome", "Latency", "LoadStats",
    "OrderStory", "Outcomes", "Report", "ReportError", "StoryEvent", "StrategyResult",
    "ThresholdResult", "read_report",
]

#: The error of an invariant a report does not list (the run lost or skipped its result).
NOT_CHECKED = "not checked in this run"
#: The report schema version (additions keep it; docs/contract.md section 7).
SCHEMA = 1


class ReportError(ValueError):
    """A run folder or report document that cannot be read; the message names the file/key."""


Json = dict[str, Any]


def _obj(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ReportError(f"{where}: expected an object, got {type(data).__name__}")
    return data


def _num(data: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(f"{where}.{key}: expected a number, got {value!r}")
    return float(value)


def _int(data: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ReportError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


# --- load ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Latency:
    """Latency percentiles of every request of the load, in milliseconds."""

    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Business outcomes counted from the client history (harness/run/load_stats.py)."""

    sold: int = 0
    conflict: int = 0
    payment_failed: int = 0
    unknown: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in OUTCOME_NAMES}


@dataclass(frozen=True, slots=True)
class ServerErrors:
    """Answers in which the service failed on its own (a 500, not a 503: see
    :func:`harness.contract.outcomes.server_errors`), and the first operations that got one."""

    count: int = 0
    examples: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> Json:
        return {"count": self.count, "examples": [dict(e) for e in self.examples]}

    @classmethod
    def from_json(cls, data: Any, where: str) -> ServerErrors:
        obj = _obj(data, where)
        return cls(count=_int(obj, "count", where, 0),
                   examples=tuple(_obj(e, f"{where}.examples")
                                  for e in _list(obj, "examples", where)))


@dataclass(frozen=True, slots=True)
class LoadStats:
    """What one strategy's load did: requests, requests/s, latency, outcomes, server errors."""

    requests: int = 0
    rps: float = 0.0
    latency_ms: Latency = field(default_factory=Latency)
    outcomes: Outcomes = field(default_factory=Outcomes)
    server_errors: ServerErrors = field(default_factory=ServerErrors)

    def to_json(self) -> Json:
        lat = self.latency_ms
        return {"requests": self.requests, "rps": self.rps,
                "latency_ms": {"p50": lat.p50, "p95": lat.p95, "p99": lat.p99},
                "outcomes": self.outcomes.as_dict(),
                "server_errors": self.server_errors.to_json()}

    @classmethod
    def from_json(cls, data: Any, where: str = "load") -> LoadStats:
        obj = _obj(data, where)
        lat = _obj(obj.get("latency_ms", {}), f"{where}.latency_ms")
        out = _obj(obj.get("outcomes", {}), f"{where}.outcomes")
        return cls(
            requests=_int(obj, "requests", where, 0), rps=_num(obj, "rps", where, 0.0),
            latency_ms=Latency(*(_num(lat, p, f"{where}.latency_ms", 0.0)
                                 for p in ("p50", "p95", "p99"))),
            outcomes=Outcomes(*(_int(out, k, f"{where}.outcomes", 0) for k in OUTCOME_NAMES)),
            server_errors=ServerErrors.from_json(obj.get("server_errors", {}),
                                                 f"{where}.server_errors"),
        )


def window_from_json(data: Any, where: str, open_end_s: float) -> FaultWindow:
    """A fault window; an open one (``end_s: null``) ends at ``open_end_s`` (the load's end)."""
    obj = _obj(data, where)
    end = obj.get("end_s")
    return FaultWindow(name=str(obj.get("name", "fault")), target=str(obj.get("target", "?")),
                       start_s=_num(obj, "start_s", where),
                       end_s=open_end_s if end is None else _num(obj, "end_s", where))


# --- invariants, coverage ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InvariantOutcome:
    """The verdict on one invariant for one strategy: every example the checker returned."""

    name: str
    ok: bool
    violations: int = 0
    examples: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None

    def to_json(self) -> Json:
        out: Json = {"name": self.name, "ok": self.ok, "violations": self.violations,
                     "examples": [dict(e) for e in self.examples]}
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> InvariantOutcome:
        obj = _obj(data, where)
        error = obj.get("error")
        examples = tuple(_obj(e, f"{where}.examples") for e in _list(obj, "examples", where))
        return cls(name=str(obj.get("name")), ok=bool(obj.get("ok")) and error is None,
                   violations=_int(obj, "violations", where, 0), examples=examples,
                   error=None if error is None else str(error))


def complete_invariants(found: Sequence[InvariantOutcome]) -> tuple[InvariantOutcome, ...]:
    """All eight invariants in contract order (a missing one: not ok, :data:`NOT_CHECKED`)."""
    by_name = {i.name: i for i in found}
    out = []
    for name in INVARIANT_NAMES:
        inv = by_name.get(name) or InvariantOutcome(name, ok=False, error=NOT_CHECKED)
        out.append(replace(inv, ok=False) if inv.ok and inv.error is not None else inv)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Coverage:
    """The dangerous situations a strategy's run produced (``harness coverage`` names them)."""

    reached: Mapping[str, int]
    missing: tuple[str, ...] = ()
    vacuous: bool = False

    def to_json(self) -> Json:
        return {"reached": dict(self.reached), "missing": list(self.missing),
                "vacuous": self.vacuous}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Coverage:
        obj = _obj(data, where)
        reached = _obj(obj.get("reached", {}), f"{where}.reached")
        return cls(reached={str(k): _int(reached, k, f"{where}.reached") for k in reached},
                   missing=tuple(str(m) for m in _list(obj, "missing", where)),
                   vacuous=bool(obj.get("vacuous", False)))


@dataclass(frozen=True, slots=True)
class StrategyResult:
    """One strategy's load, fault windows, invariants and (when computed) coverage."""

    load: LoadStats
    faults: tuple[FaultWindow, ...] = ()
    invariants: tuple[InvariantOutcome, ...] = ()
    coverage: Coverage | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "invariants", complete_invariants(self.invariants))

    @property
    def broken(self) -> tuple[InvariantOutcome, ...]:
        """The invariants that do not hold (violated or not checked)."""
        return tuple(i for i in self.invariants if not i.ok)

    @property
    def held(self) -> int:
        return sum(1 for i in self.invariants if i.ok)

    def invariant(self, name: str) -> InvariantOutcome:
        return next(i for i in self.invariants if i.name == name)

    def to_json(self) -> Json:
        out: Json = {"load": self.load.to_json(), "faults": [w.to_json() for w in self.faults],
                     "invariants": [i.to_json() for i in self.invariants]}
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any, where: str, duration_s: float) -> StrategyResult:
        obj = _obj(data, where)
        if "load" not in obj:
            raise ReportError(f"{where}: has no 'load' object")
        coverage = obj.get("coverage")
        return cls(
            load=LoadStats.from_json(obj["load"], f"{where}.load"),
            faults=tuple(window_from_json(w, f"{where}.faults", duration_s)
                         for w in _list(obj, "faults", where)),
            invariants=tuple(InvariantOutcome.from_json(i, f"{where}.invariants")
                             for i in _list(obj, "invariants", where)),
            coverage=None if coverage is None else Coverage.from_json(
                coverage, f"{where}.coverage"),
        )


# --- the order's story ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StoryEvent:
    """One client event of an order, from ``history.jsonl`` (times: unix and since load start).

    ``type`` is ``invoke`` / ``ok`` / ``fail`` / ``info``; a completion carries the final
    ``status`` (None: no answer), the problem ``code``, the ``latency_ms`` of the operation and
    how many HTTP ``attempts`` it took (retries share the Idempotency-Key ``key``).
    """

    type: str
    op: str
    op_id: str
    strategy: str
    time: float
    t_s: float
    key: str
    status: int | None = None
    code: str | None = None
    latency_ms: float | None = None
    attempts: int = 0
    error: str | None = None

    def to_json(self) -> Json:
        return {"type": self.type, "op": self.op, "op_id": self.op_id,
                "strategy": self.strategy, "time": self.time, "t_s": self.t_s, "key": self.key,
                "status": self.status, "code": self.code, "latency_ms": self.latency_ms,
                "attempts": self.attempts, "error": self.error}

    @classmethod
    def from_json(cls, data: Any, where: str) -> StoryEvent:
        obj = _obj(data, where)
        status, latency = obj.get("status"), obj.get("latency_ms")
        return cls(
            type=str(obj.get("type")), op=str(obj.get("op")), op_id=str(obj.get("op_id")),
            strategy=str(obj.get("strategy", "")), time=_num(obj, "time", where),
            t_s=_num(obj, "t_s", where), key=str(obj.get("key", "")),
            status=status if isinstance(status, int) else None,
            code=None if obj.get("code") is None else str(obj.get("code")),
            latency_ms=float(latency) if isinstance(latency, int | float) else None,
            attempts=_int(obj, "attempts", where, 0),
            error=None if obj.get("error") is None else str(obj.get("error")))


@dataclass(frozen=True, slots=True)
class OrderStory:
    """One order named by a violation: its client events, the faults they met, its rows."""

    history: tuple[StoryEvent, ...] = ()
    faults: tuple[FaultWindow, ...] = ()
    rows: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    @property
    def strategy(self) -> str | None:
        """The order's strategy (from its events, else its ``orders`` row)."""
        for event in self.history:
            if event.strategy:
                return event.strategy
        for row in self.rows.get("orders", ()):
            if row.get("strategy"):
                return str(row["strategy"])
        return None

    @property
    def last_t_s(self) -> float | None:
        """When (seconds since its strategy's load began) the order's last event happened."""
        return max((e.t_s for e in self.history), default=None)

    def to_json(self) -> Json:
        return {"history": [e.to_json() for e in self.history],
                "faults": [w.to_json() for w in self.faults],
                "rows": {t: [dict(r) for r in rows] for t, rows in self.rows.items()}}

    @classmethod
    def from_json(cls, data: Any, where: str, duration_s: float) -> OrderStory:
        obj = _obj(data, where)
        rows = _obj(obj.get("rows", {}), f"{where}.rows")
        return cls(
            history=tuple(StoryEvent.from_json(e, f"{where}.history")
                          for e in _list(obj, "history", where)),
            faults=tuple(window_from_json(w, f"{where}.faults", duration_s)
                         for w in _list(obj, "faults", where)),
            rows={str(t): tuple(_obj(r, f"{where}.rows.{t}") for r in _list(rows, t, where))
                  for t in rows},
        )


# --- thresholds ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """One scenario threshold judged on one strategy's load (``name`` is ``strategy/key``)."""

    name: str
    limit: float
    value: float
    ok: bool

    def to_json(self) -> Json:
        return {"name": self.name, "limit": self.limit, "value": self.value, "ok": self.ok}

    @classmethod
    def from_json(cls, data: Any, where: str) -> ThresholdResult:
        obj = _obj(data, where)
        return cls(name=str(obj.get("name")), limit=_num(obj, "limit", where),
                   value=_num(obj, "value", where), ok=bool(obj.get("ok")))


# --- the report ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReplayLink:
    """The run a replay ran again (``harness replay``): its id, and its folder relative to the
    replay's folder."""

    run_id: str
    path: str

    def to_json(self) -> Json:
        return {"run_id": self.run_id, "path": self.path}


@dataclass(frozen=True, slots=True)
class Report:
    """One run's report (see the module docstring for its guarantees)."""

    run_id: str
    seed: int
    scenario: str
    bug: str | None
    faults: str
    started_at: str
    duration_s: float
    strategies: Mapping[str, StrategyResult]
    orders: Mapping[str, OrderStory] = field(default_factory=dict)
    thresholds: tuple[ThresholdResult, ...] = ()
    replay_of: ReplayLink | None = None

    @property
    def verdict(self) -> str:
        """``pass`` when some strategy ran and every invariant and threshold holds."""
        ok = bool(self.strategies) and all(
            not r.broken for r in self.strategies.values()) and all(
            t.ok for t in self.thresholds)
        return "pass" if ok else "fail"

    @property
    def failed_thresholds(self) -> tuple[ThresholdResult, ...]:
        return tuple(t for t in self.thresholds if not t.ok)

    def to_json(self) -> Json:
        """The contract form (keys in contract order; additions only when present)."""
        out: Json = {
            "schema": SCHEMA, "run_id": self.run_id, "seed": self.seed,
            "scenario": self.scenario, "bug": self.bug, "faults": self.faults,
            "started_at": self.started_at, "duration_s": self.duration_s,
            "verdict": self.verdict,
            "strategies": {n: r.to_json() for n, r in self.strategies.items()},
        }
        if self.orders:
            out["orders"] = {o: s.to_json() for o, s in self.orders.items()}
        if self.thresholds:
            out["thresholds"] = [t.to_json() for t in self.thresholds]
        if self.replay_of is not None:
            out["replay_of"] = self.replay_of.to_json()
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> Report:
        """A report from its contract form; :class:`ReportError` names what is wrong."""
        obj = _obj(data, "report")
        missing = [k for k in ("run_id", "seed", "scenario", "bug", "faults", "started_at",
                               "duration_s", "strategies") if k not in obj]
        if missing:
            raise ReportError(f"report lacks {', '.join(missing)}")
        duration = _num(obj, "duration_s", "report")
        strategies = _obj(obj["strategies"], "strategies")
        orders = _obj(obj.get("orders", {}), "orders")
        link = obj.get("replay_of")
        replay_of = None
        if link is not None:
            link = _obj(link, "replay_of")
            replay_of = ReplayLink(str(link.get("run_id")), str(link.get("path")))
        return cls(
            run_id=str(obj["run_id"]), seed=_int(obj, "seed", "report"),
            scenario=str(obj["scenario"]),
            bug=None if obj["bug"] is None else str(obj["bug"]), faults=str(obj["faults"]),
            started_at=str(obj["started_at"]), duration_s=duration,
            strategies={str(n): StrategyResult.from_json(e, f"strategies.{n}", duration)
                        for n, e in strategies.items()},
            orders={str(o): OrderStory.from_json(s, f"orders.{o}", duration)
                    for o, s in orders.items()},
            thresholds=tuple(ThresholdResult.from_json(t, "thresholds")
                             for t in _list(obj, "thresholds", "report")),
            replay_of=replay_of,
        )


def read_report(path: Path) -> Report:
    """The report in ``path`` (a report.json); :class:`ReportError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: line {exc.lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("strategies"), dict):
        raise ReportError(f"{path}: not a run report (no 'strategies' object)")
    try:
        return Report.from_json(data)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from None
