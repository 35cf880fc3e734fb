"""The report document (CONTRACT.md section 7): reading, normalising and checking its shape.

:func:`normalise` is what ``write_report`` writes: contract keys in contract order, each
strategy listing all eight invariants in contract order (one the run did not check is listed as
``ok: false`` with an ``error``, so a report never passes by omission), and the verdict
recomputed from the invariants.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from invariants.base import INVARIANT_NAMES

TOP_KEYS = ("schema", "run_id", "seed", "scenario", "bug", "faults", "started_at", "duration_s",
            "verdict", "strategies")
STRATEGY_KEYS = ("load", "faults", "invariants")
INVARIANT_KEYS = ("name", "ok", "violations", "examples", "error")
NOT_CHECKED = "not checked in this run"


class ReportError(ValueError):
    """A run folder or report document that cannot be read; the message names the file."""


def _invariants(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {e.get("name"): e for e in entries}
    out = []
    for name in INVARIANT_NAMES:
        found = by_name.get(name)
        if found is None:
            out.append({"name": name, "ok": False, "violations": 0, "examples": [],
                        "error": NOT_CHECKED})
            continue
        entry = {k: found[k] for k in INVARIANT_KEYS if k in found}
        entry.setdefault("violations", 0)
        entry.setdefault("examples", [])
        entry["ok"] = bool(found.get("ok")) and "error" not in found
        out.append(entry)
    return out


def normalise(report: dict[str, Any]) -> dict[str, Any]:
    """The contract form of ``report`` (see the module docstring)."""
    missing = [k for k in TOP_KEYS if k not in report and k != "verdict"]
    if missing:
        raise ReportError(f"report lacks {', '.join(missing)}")
    strategies = {}
    for name, entry in report["strategies"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("load"), dict):
            raise ReportError(f"strategy {name!r} has no 'load' object")
        strategies[name] = {
            "load": entry["load"],
            "faults": list(entry.get("faults", [])),
            "invariants": _invariants(list(entry.get("invariants", []))),
        }
        if isinstance(entry.get("coverage"), dict):
            strategies[name]["coverage"] = entry["coverage"]
    verdict = "pass" if strategies and all(
        inv["ok"] for s in strategies.values() for inv in s["invariants"]) else "fail"
    out = {k: report[k] for k in TOP_KEYS if k not in ("verdict", "strategies")}
    out["verdict"] = verdict
    out["strategies"] = strategies
    return {k: out[k] for k in TOP_KEYS}


def read_json(path: Path) -> dict[str, Any]:
    """A report.json; ``ReportError`` naming the file when it is missing or malformed."""
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
    return data
