"""Scenarios: TOML files that say what one verification run does, validated on load.

A scenario names the strategy, the workload, the fault schedule, the seeded bug, the load size
and duration, how long the system may take to settle, how the service is tuned and the load's
thresholds (``[thresholds]``, harness/run/thresholds.py). Every field
has a default (``harness/scenarios/default.toml`` spells them out); unknown keys are errors, so a
typo never goes unnoticed. :func:`load` raises :class:`~harness.errors.UsageError` naming the
file, the line and the field (``scenario.toml:12: workload.hot_share: must be within 0..1``);
:func:`with_overrides` applies command-line flags, which win over the file.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.schedules import SCHEDULES
from harness.durations import parse_duration
from harness.errors import UsageError
from harness.run.thresholds import THRESHOLDS
from locustfiles.workload import BuyerProfile, RetrySettings
from target_service.bugs import BUGS
from target_service.strategies import STRATEGIES

SHAPES = ("ramp", "flash-sale")
DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.toml"


#: The ``[workload]`` table: the buyers' profile, shared with the Locust side.
WorkloadSection = BuyerProfile


@dataclass(frozen=True, slots=True)
class SettleSection:
    """How the run lets the system settle after the load (``[settle]``)."""

    timeout_s: float = 60.0
    wait_for_holds: bool = True


@dataclass(frozen=True, slots=True)
class SupplySection:
    """The ``[supply]`` table: ``on_sale`` ``rolling`` (new waves open while the load runs) or
    ``none`` (only the seeded seats: a long run sells out), checked every ``every_s`` seconds
    against ``low_water`` (a share of each section's seeded size)."""

    on_sale: str = "rolling"
    every_s: float = 0.5
    low_water: float = 0.5


ON_SALES = ("rolling", "none")


@dataclass(frozen=True, slots=True)
class ServiceSection:
    """Service tuning for the run (``[service]``); changing it restarts the service."""

    hold_ttl_s: float = 20.0
    saga_stale_s: float = 5.0
    target_processes: int = 2
    provider_failure_rate: float = 0.0
    provider_latency_ms: int = 0
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One verification run's description (file values, then flag overrides)."""

    name: str = "default"
    path: Path | None = None
    description: str = ""
    seed: int = 42
    strategy: str = "all"
    faults: str = "none"
    bug: str | None = None
    users: int = 20
    spawn_rate: float = 10.0
    duration_s: float = 60.0
    workers: int = 0
    workload: WorkloadSection = field(default_factory=WorkloadSection)
    retry: RetrySettings = field(default_factory=RetrySettings)
    settle: SettleSection = field(default_factory=SettleSection)
    service: ServiceSection = field(default_factory=ServiceSection)
    supply: SupplySection = field(default_factory=SupplySection)
    #: an inline schedule (``[[faults]]`` tables; then ``faults`` is ``"inline"``)
    schedule: tuple[Any, ...] | None = None
    #: ``[thresholds]``: name -> limit (harness/run/thresholds.py), judged per strategy
    thresholds: Mapping[str, float] = field(default_factory=dict)

    @property
    def strategies(self) -> tuple[str, ...]:
        return STRATEGIES if self.strategy == "all" else (self.strategy,)


# --- field checks --------------------------------------------------------------------------
class _Invalid(ValueError):
    """A field's value is wrong; the message says what is expected."""


Check = Callable[[Any], Any]


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string (got {value!r})")
    return value


def _choice(*options: str) -> Check:
    def check(value: Any) -> str:
        if value not in options:
            raise _Invalid(f"must be one of {', '.join(options)} (got {value!r})")
        return str(value)

    return check


def _int(low: int, high: int | None = None) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"must be an integer (got {value!r})")
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise _Invalid(f"must be {bound} (got {value})")
        return value

    return check


def _number(low: float, high: float | None = None, *, open_low: bool = False) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(f"must be a number (got {value!r})")
        if value < low or (open_low and value == low) or (high is not None and value > high):
            bound = (f"within {low}..{high}" if high is not None
                     else f"{'>' if open_low else '>='} {low}")
            raise _Invalid(f"must be {bound} (got {value})")
        return float(value)

    return check


def _duration(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid(f"must be a duration such as 30s (got {value!r})")
    if isinstance(value, int | float):
        if value < 0:
            raise _Invalid(f"must not be negative (got {value})")
        return float(value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise _Invalid(str(exc)) from None
    raise _Invalid(f"must be a duration such as 30s (got {value!r})")


def _positive_duration(value: Any) -> float:
    seconds = _duration(value)
    if seconds <= 0:
        raise _Invalid(f"must be longer than 0 (got {value!r})")
    return seconds


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false (got {value!r})")
    return value


def _think_time(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise _Invalid(f"must be [min, max], e.g. [\"100ms\", \"1s\"] (got {value!r})")
    low, high = _duration(value[0]), _duration(value[1])
    if low > high:
        raise _Invalid(f"min must not exceed max (got {value!r})")
    return low, high


def _bug(value: Any) -> str | None:
    name = _str(value).strip()
    if name in ("", "none"):
        return None
    if name not in BUGS:
        raise _Invalid(f"unknown bug {name!r}; known: {', '.join(sorted(BUGS))}")
    return name


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Invalid("must be a table of strings, e.g. { LOCK_LEASE_MS = \"1000\" }")
    return dict(value)


def _faults(value: Any) -> str:
    name = _str(value)
    if name not in SCHEDULES:
        raise _Invalid(f"unknown fault schedule {name!r}; known: {', '.join(SCHEDULES)}")
    return name


def _thresholds(raw: Any, fail: Callable[[str | None, str | None, str], None]
                ) -> dict[str, float]:
    """The ``[thresholds]`` table: known names (harness/run/thresholds.py), numeric limits."""
    if not isinstance(raw, dict):
        fail(None, "thresholds", "must be a table, e.g. [thresholds] p95_ms = 800")
        return {}
    out: dict[str, float] = {}
    for key, value in raw.items():
        spec = THRESHOLDS.get(key)
        if spec is None:
            fail("thresholds", key, f"unknown threshold; known: {', '.join(THRESHOLDS)}")
            continue
        try:
            out[key] = _number(0, 1)(value) if spec.share else _number(0)(value)
        except _Invalid as exc:
            fail("thresholds", key, str(exc))
    return out


# (toml key, dataclass field, check)
_TOP: tuple[tuple[str, str, Check], ...] = (
    ("name", "name", _str),
    ("description", "description", _str),
    ("seed", "seed", _int(0)),
    ("strategy", "strategy", _choice(*STRATEGIES, "all")),
    ("faults", "faults", _faults),
    ("bug", "bug", _bug),
    ("users", "users", _int(1, 100_000)),
    ("spawn_rate", "spawn_rate", _number(0, open_low=True)),
    ("duration", "duration_s", _positive_duration),
    ("workers", "workers", _int(0, 256)),
)
_SECTIONS: dict[str, tuple[type[Any], tuple[tuple[str, str, Check], ...]]] = {
    "workload": (WorkloadSection, (
        ("event_id", "event_id", _str),
        ("hot_section", "hot_section", _str),
        ("hot_share", "hot_share", _number(0, 1)),
        ("zipf_s", "zipf_s", _number(0, open_low=True)),
        ("seats_min", "seats_min", _int(1, 10)),
        ("seats_max", "seats_max", _int(1, 10)),
        ("decline_share", "decline_share", _number(0, 1)),
        ("abandon_share", "abandon_share", _number(0, 1)),
        ("think_time", "think_time_s", _think_time),
        ("client_timeout", "client_timeout_s", _positive_duration),
        ("shape", "shape", _choice(*SHAPES)),
        ("seat_map_max_age", "seat_map_max_age_s", _duration),
    )),
    "retry": (RetrySettings, (
        ("max_attempts", "max_attempts", _int(1, 50)),
        ("base", "base_s", _duration),
        ("cap", "cap_s", _duration),
        ("deadline", "deadline_s", _positive_duration),
    )),
    "settle": (SettleSection, (
        ("timeout", "timeout_s", _duration),
        ("wait_for_holds", "wait_for_holds", _bool),
    )),
    "supply": (SupplySection, (
        ("on_sale", "on_sale", _choice(*ON_SALES)),
        ("every", "every_s", _positive_duration),
        ("low_water", "low_water", _number(0, 16)),
    )),
    "service": (ServiceSection, (
        ("hold_ttl", "hold_ttl_s", _positive_duration),
        ("saga_stale", "saga_stale_s", _positive_duration),
        ("target_processes", "target_processes", _int(1, 16)),
        ("provider_failure_rate", "provider_failure_rate", _number(0, 1)),
        ("provider_latency_ms", "provider_latency_ms", _int(0, 60_000)),
        ("env", "env", _env),
    )),
}
INLINE = "inline"


# --- loading -------------------------------------------------------------------------------
def load(path: Path | str | None = None) -> Scenario:
    """The scenario in ``path`` (default: the shipped default), validated."""
    file = Path(path) if path is not None else DEFAULT_SCENARIO
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--scenario: cannot read {file}: {exc.strerror or exc}") from None
    return parse(text, file)


def parse(text: str, file: Path) -> Scenario:
    """Validate ``text`` (the contents of ``file``) into a :class:`Scenario`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_position(str(exc))
        raise UsageError(f"{file}:{line}: invalid TOML: {message}") from None

    def fail(table: str | None, key: str | None, message: str, index: int | None = None) -> None:
        line = locate(text, table, key, index)
        where = ".".join(p for p in (table if index is None else f"{table}[{index}]", key) if p)
        raise UsageError(f"{file}:{line}: {where}: {message}")

    values: dict[str, Any] = {"path": file}
    tables = {*_SECTIONS, "thresholds"}
    for key, value in data.items():
        if key in tables:
            continue
        if key == "faults" and isinstance(value, list):
            values["faults"] = INLINE
            values["schedule"] = _inline_schedule(value, text, file)
            continue
        spec = next((s for s in _TOP if s[0] == key), None)
        if spec is None:
            fail(None, key, f"unknown field; known: {', '.join(s[0] for s in _TOP)}, "
                            f"[{'], ['.join(_SECTIONS)}], [thresholds], [[faults]]")
            continue
        try:
            values[spec[1]] = spec[2](value)
        except _Invalid as exc:
            fail(None, key, str(exc))
    for table, (cls, specs) in _SECTIONS.items():
        raw = data.get(table, {})
        if not isinstance(raw, dict):
            fail(None, table, "must be a table")
        section: dict[str, Any] = {}
        for key, value in raw.items():
            spec = next((s for s in specs if s[0] == key), None)
            if spec is None:
                fail(table, key, f"unknown field; known: {', '.join(s[0] for s in specs)}")
                continue
            try:
                section[spec[1]] = spec[2](value)
            except _Invalid as exc:
                fail(table, key, str(exc))
        values[table] = cls(**section)
    values["thresholds"] = _thresholds(data.get("thresholds", {}), fail)
    workload: WorkloadSection = values["workload"]
    if workload.seats_min > workload.seats_max:
        fail("workload", "seats_max", f"must be >= seats_min ({workload.seats_min})")
    return Scenario(**values)


def _inline_schedule(entries: list[Any], text: str, file: Path) -> tuple[Any, ...]:
    """``[[faults]]`` tables, validated by the fault layer; errors point at the line."""
    from chaos.errors import ChaosUsageError
    from chaos.inline import parse_inline

    try:
        return tuple(parse_inline(entries, source=str(file)))
    except ChaosUsageError as exc:
        message = str(exc)
        index_match = re.search(r"faults\[(\d+)\]", message)
        field_match = re.search(r"field '([A-Za-z_]+)'", message)
        index = int(index_match.group(1)) if index_match else 0
        line = locate(text, "faults", field_match.group(1) if field_match else None, index)
        detail = message.removeprefix(f"{file}: ")
        raise UsageError(f"{file}:{line}: {detail}") from None


def _toml_position(message: str) -> tuple[int, str]:
    """(line, message without the position) from a tomllib error message."""
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        return int(match.group(1)), f"{message[:match.start()]} (column {match.group(2)})"
    match = re.search(r"\s*\(at end of document\)\s*$", message)
    if match:
        return 0, message[:match.start()] + " (at the end of the file)"
    return 0, message


_HEADER = re.compile(r"^\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]$")
_ARRAY_HEADER = re.compile(r"^\[\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]$")


def locate(text: str, table: str | None, key: str | None, index: int | None = None) -> int:
    """The 1-based line of ``key`` in ``[table]`` (or of the table's header); 1 if not found.

    Handles ``[table]``, ``[[table]]`` (the ``index``-th one), top-level ``key = ...`` and the
    dotted ``table.key = ...`` form; good enough to point a person at the mistake.
    """
    current: str | None = None
    current_index: int | None = None
    seen: dict[str, int] = {}
    header_line = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if array := _ARRAY_HEADER.match(line):
            current = array.group(1).strip()
            current_index = seen.get(current, 0)
            seen[current] = current_index + 1
            if current == table and current_index == index and key is None:
                return number
            if current == table and current_index == index:
                header_line = number
            continue
        if header := _HEADER.match(line):
            current, current_index = header.group(1).strip(), None
            if current == table and index is None:
                if key is None:
                    return number
                header_line = number
            continue
        if key is None:
            continue
        in_place = current == table and current_index == index
        if in_place and re.match(rf"^{re.escape(key)}\s*=", line):
            return number
        if current is None and table and re.match(rf"^{re.escape(table)}\.{re.escape(key)}\s*=",
                                                  line):
            return number
    return header_line or 1


def with_overrides(scenario: Scenario, **flags: Any) -> Scenario:
    """``scenario`` with every flag that is not None applied (flags win over the file).

    Accepted flags: strategy, faults, bug, users, duration_s, seed, workers. Bad values raise
    :class:`UsageError` naming the flag.
    """
    changes: dict[str, Any] = {}
    for name, value in flags.items():
        if value is None:
            continue
        flag = "--" + name.removesuffix("_s").replace("_", "-")
        try:
            if name == "faults":
                value = _faults(value)
            elif name == "bug":
                value = _bug(value)
            elif name == "workers":
                value = _int(0, 256)(value)
            elif name == "seed":
                value = _int(0)(value)
        except _Invalid as exc:
            raise UsageError(f"{flag}: {exc}") from None
        changes[name] = value
    return dataclasses.replace(scenario, **changes)
