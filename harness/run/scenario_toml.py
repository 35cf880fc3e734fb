"""A :class:`~harness.run.scenario.Scenario` written back as a scenario TOML file.

Guarantee: ``scenario.parse(dump(s), path)`` gives ``s`` again (but for ``path``), so a run that
records its effective scenario as ``scenario.toml`` can be run again exactly
(``harness replay``), and a shrunk scenario (``min.toml``) runs with ``harness run --scenario``.
The keys come from the loader's own field tables, so a field added there is written here too.
An inline schedule becomes ``[[faults]]`` tables (``faults = []`` when it is empty), the
scenario's limits a ``[thresholds]`` table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chaos.schedule_types import ScheduledFault
from harness.run.scenario import _SECTIONS, _TOP, INLINE, Scenario


def value(v: Any) -> str:
    """One TOML value (strings, numbers, booleans, arrays and inline tables of those)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {value(x)}" for k, x in v.items()) + " }" if v \
            else "{}"
    if isinstance(v, Sequence):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {v!r}")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def faults_tables(schedule: Iterable[ScheduledFault]) -> list[str]:
    """``[[faults]]`` tables of an inline schedule (seconds as numbers, params inline)."""
    out = []
    for e in schedule:
        lines = ["[[faults]]", f"start_s = {value(round(e.start_s, 3))}",
                 f"duration_s = {value(round(e.duration_s, 3))}", f"fault = {value(e.fault)}",
                 f"target = {value(e.target)}"]
        if e.params:
            lines.append(f"params = {value(dict(e.params))}")
        if e.label:
            lines.append(f"label = {value(e.label)}")
        if e.strategy is not None:
            lines.append(f"strategy = {value(e.strategy)}")
        out.append("\n".join(lines))
    return out


def dump(scenario: Scenario, *, header: str = "") -> str:
    """The TOML text of ``scenario`` (``header``: comment lines put first)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    inline = scenario.faults == INLINE and scenario.schedule is not None
    for key, attr, _ in _TOP:
        v = getattr(scenario, attr)
        if key == "faults" and inline:
            if not scenario.schedule:
                lines.append("faults = []")
            continue
        if key == "bug" and v is None:
            v = "none"
        lines.append(f"{key} = {value(v)}")
    for table, (_, specs) in _SECTIONS.items():
        section = getattr(scenario, table)
        lines.append("")
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {value(getattr(section, attr))}" for key, attr, _ in specs)
    if scenario.thresholds:
        lines.extend(["", "[thresholds]"])
        lines.extend(f"{_key(k)} = {value(v)}" for k, v in scenario.thresholds.items())
    if inline and scenario.schedule:
        for text in faults_tables(scenario.schedule):
            lines.extend(["", text])
    return "\n".join(lines) + "\n"
