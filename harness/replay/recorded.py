"""What a finished run recorded, read back so that it can be run again.

A run folder holds ``report.json`` (seed, bug, strategies, load duration, verdict),
``scenario.toml`` (the effective scenario: file and flags) and ``faults.jsonl`` (every fault's
start, with its params and scheduled offsets, and stop). :func:`replay_scenario` turns them into
a scenario whose fault schedule is that timeline given inline, at the same offsets, each entry
limited to the strategy whose load it broke. Anything missing or malformed is a
:class:`~harness.errors.UsageError` naming the file (exit 2).

:func:`read_report` is the one place that reads a run's ``report.json`` for replay and shrink.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.inline import parse_inline
from chaos.schedule_types import ScheduledFault
from harness.errors import UsageError
from harness.report.model import ReportError
from harness.report.model import read_report as read_typed_report
from harness.run import scenario as scenarios


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """The parts of a run's report that replay and shrink need."""

    run_dir: Path
    run_id: str
    seed: int
    bug: str | None
    duration_s: float
    verdict: str
    #: strategy -> names of its violated invariants, in the run's strategy order
    broken: dict[str, tuple[str, ...]]

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(self.broken)


def read_report(run_dir: Path) -> RecordedRun:
    """``run_dir/report.json`` reduced to :class:`RecordedRun` (UsageError naming the file)."""
    path = run_dir / "report.json"
    try:
        report = read_typed_report(path)
        broken = {name: tuple(i.name for i in result.invariants if not i.ok)
                  for name, result in report.strategies.items()}
        return RecordedRun(
            run_dir=run_dir, run_id=report.run_id, seed=report.seed, bug=report.bug or None,
            duration_s=report.duration_s, verdict=report.verdict, broken=broken)
    except ReportError as exc:
        raise UsageError(f"RUN_DIR: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"RUN_DIR: {path}: not a run report ({exc!r})") from None


def recorded_scenario(run_dir: Path) -> scenarios.Scenario:
    """The effective scenario the run recorded (``scenario.toml``)."""
    path = run_dir / "scenario.toml"
    if not path.is_file():
        raise UsageError(f"RUN_DIR: {path}: missing (runs record it since `harness replay` "
                         "exists; an older run cannot be replayed)")
    return scenarios.load(path)


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise UsageError(f"RUN_DIR: {path}:{number}: not a JSON line") from None
        if not isinstance(entry, dict):
            raise UsageError(f"RUN_DIR: {path}:{number}: not a JSON object")
        out.append(entry)
    return out


def timeline(run_dir: Path, duration_s: float) -> tuple[ScheduledFault, ...]:
    """The faults the run applied (``faults.jsonl``), as schedule entries of their strategy.

    Each start is paired with the next stop of the same strategy, label, fault and target.
    Offsets are the scheduled ones the start line records, or else the observed ``t`` of start
    and stop; a fault never stopped (an interrupted run) lasts to the end of the load.
    """
    path = run_dir / "faults.jsonl"
    if not path.is_file():
        raise UsageError(f"RUN_DIR: {path}: missing")
    open_: dict[tuple[Any, ...], list[tuple[dict[str, Any], int]]] = {}
    entries: list[ScheduledFault | None] = []
    for number, line in enumerate(_lines(path), 1):
        key = (line.get("strategy"), line.get("label"), line.get("fault"), line.get("target"))
        event = line.get("event")
        try:
            if event == "start":
                open_.setdefault(key, []).append((line, len(entries)))
                entries.append(_entry(line, None, duration_s))
            elif event == "stop" and open_.get(key):
                start, index = open_[key].pop(0)
                if "duration_s" not in start:
                    entries[index] = _entry(start, float(line["t"]), duration_s)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"RUN_DIR: {path}: line {number}: not a fault event ({exc!r})"
                             ) from None
    found = [e.to_json() for e in entries if e is not None]
    for entry in found:
        if entry.get("strategy") is None:
            entry.pop("strategy", None)
    # validated as a scenario's [[faults]] are (exit 2 naming this file and the entry)
    return tuple(parse_inline(found, source=str(path)))


def _entry(start: dict[str, Any], stop_t: float | None, duration_s: float) -> ScheduledFault:
    begin = float(start.get("start_s", start["t"]))
    if "duration_s" in start:
        length = float(start["duration_s"])
    else:
        length = (stop_t if stop_t is not None else duration_s) - float(start["t"])
    return ScheduledFault(
        start_s=round(begin, 3), duration_s=round(max(length, 0.001), 3),
        fault=str(start["fault"]), target=str(start["target"]),
        params=dict(start.get("params") or {}), label=str(start.get("label") or ""),
        strategy=start.get("strategy"))


def replay_scenario(run: RecordedRun) -> scenarios.Scenario:
    """The recorded scenario with the run's seed, bug, strategies and load, its fault timeline
    given inline (entries keep their strategy only when the run had several)."""
    base = recorded_scenario(run.run_dir)
    strategy = run.strategies[0] if len(run.strategies) == 1 else "all"
    schedule = timeline(run.run_dir, run.duration_s)
    if strategy != "all":
        schedule = tuple(dataclasses.replace(e, strategy=None) for e in schedule
                         if e.strategy in (None, strategy))
    scenario = scenarios.with_overrides(
        base, strategy=strategy, bug=run.bug or "none", seed=run.seed, duration_s=run.duration_s)
    return dataclasses.replace(scenario, faults=scenarios.INLINE, schedule=schedule)
