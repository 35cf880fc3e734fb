"""Parse and validate a fault schedule given inline in a scenario file (a list of TOML tables).

    [[faults]]
    start = "10s"            # or start_s = 10.0
    duration = "15s"         # or duration_s = 15.0
    fault = "latency"        # a key of chaos.faults.FAULTS
    target = "redis"         # a proxy, a process (target, target-<n>, provider) or a failpoint
    params = { latency_ms = 300, jitter_ms = 100 }   # optional, checked against the fault's type
    label = "slow-redis"     # optional; names the window in faults.jsonl and the report
    strategy = "saga"        # optional; only during this strategy's load (default: every one)

Guarantee: :func:`parse_inline` returns a schedule whose every entry builds a valid fault, or
raises :class:`ScheduleError` naming the source, the entry (index and label) and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaos.errors import ChaosUsageError, ScheduleError
from chaos.schedule_types import Schedule, ScheduledFault
from harness.durations import parse_duration
from target_service.strategies import STRATEGIES

_FIELDS = ("start", "start_s", "duration", "duration_s", "fault", "target", "params", "label",
           "strategy")


def _where(source: str, index: int, entry: Mapping[str, Any]) -> str:
    label = entry.get("label") or entry.get("fault")
    return f"{source}: faults[{index}]" + (f" ({label})" if isinstance(label, str) else "")


def _seconds(entry: Mapping[str, Any], name: str, where: str, *, positive: bool) -> float:
    keys = [k for k in (name, f"{name}_s") if k in entry]
    if not keys:
        raise ScheduleError(f"{where}: field {name!r} is missing (e.g. {name} = \"10s\")")
    if len(keys) == 2:
        raise ScheduleError(f"{where}: give {name!r} or {name + '_s'!r}, not both")
    key = keys[0]
    raw = entry[key]
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ScheduleError(f"{where}: field {key!r} must be seconds or a duration like \"10s\"")
    try:
        value = parse_duration(raw) if isinstance(raw, str) else float(raw)
    except ValueError as exc:
        raise ScheduleError(f"{where}: field {key!r}: {exc}") from None
    if value < 0 or (positive and value == 0):
        raise ScheduleError(f"{where}: field {key!r} must be {'> 0' if positive else '>= 0'}")
    return value


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise ScheduleError(f"{where}: field {key!r} must be a non-empty string")
    return value


def _strategy(entry: Mapping[str, Any], where: str) -> str | None:
    if "strategy" not in entry:
        return None
    value = entry["strategy"]
    if value not in STRATEGIES:
        raise ScheduleError(f"{where}: field 'strategy' must be one of {', '.join(STRATEGIES)}")
    return str(value)


def parse_entry(entry: object, index: int, *, source: str) -> ScheduledFault:
    """One table -> a validated ScheduledFault (ScheduleError names entry and field)."""
    if not isinstance(entry, Mapping):
        raise ScheduleError(f"{source}: faults[{index}] must be a table, not {entry!r}")
    where = _where(source, index, entry)
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise ScheduleError(f"{where}: unknown field {unknown[0]!r}; fields: {', '.join(_FIELDS)}")
    params = entry.get("params", {})
    if not isinstance(params, Mapping):
        raise ScheduleError(f"{where}: field 'params' must be a table")
    scheduled = ScheduledFault(
        start_s=_seconds(entry, "start", where, positive=False),
        duration_s=_seconds(entry, "duration", where, positive=True),
        fault=_text(entry, "fault", where, required=True),
        target=_text(entry, "target", where, required=True),
        params=dict(params),
        label=_text(entry, "label", where, required=False),
        strategy=_strategy(entry, where),
    )
    try:
        scheduled.make()
    except ChaosUsageError as exc:
        field = {"UnknownFault": "fault", "InvalidTarget": "target"}.get(
            type(exc).__name__, "params"
        )
        raise ScheduleError(f"{where}: field {field!r}: {exc}") from None
    return scheduled


def parse_inline(entries: object, *, source: str = "scenario") -> Schedule:
    """A list of TOML tables -> a schedule sorted by start (see the module's format)."""
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise ScheduleError(f"{source}: 'faults' must be a list of tables ([[faults]])")
    schedule = [parse_entry(e, i, source=source) for i, e in enumerate(entries)]
    _reject_overlaps(schedule, source)
    return sorted(schedule, key=lambda e: e.start_s)


def _reject_overlaps(schedule: Schedule, source: str) -> None:
    """The same fault on the same target twice at once would undo itself on the first stop."""
    for i, a in enumerate(schedule):
        for j in range(i + 1, len(schedule)):
            b = schedule[j]
            same = (a.fault, a.target) == (b.fault, b.target) and (
                a.strategy is None or b.strategy is None or a.strategy == b.strategy)
            if same and a.start_s < b.end_s and b.start_s < a.end_s:
                raise ScheduleError(
                    f"{source}: faults[{j}] ({b.name}): field 'start': overlaps faults[{i}] "
                    f"({a.name}), the same {a.fault!r} on {a.target!r}"
                )
