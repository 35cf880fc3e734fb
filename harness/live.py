"""What harness processes serve beside a stack right now: a UI's URL, a run's live metrics.

A process that serves something announces it with :func:`announce` (a context manager): a small
JSON file ``<state_dir>/live/<kind>-<pid>.json`` holding the process's pid and start time, removed
when the context ends. :func:`entries` lists the announcements whose process still runs (the
same pid *and* start time, so a recycled pid never revives a stale file) and deletes the others,
so `harness status` never shows the address of a process that died without cleaning up.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

#: kinds of announcement
UI = "ui"
METRICS = "metrics"


def _folder(state_dir: Path) -> Path:
    return state_dir / "live"


def _started(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


@contextlib.contextmanager
def announce(state_dir: Path, kind: str, doc: dict[str, Any]) -> Iterator[Path]:
    """Announce ``doc`` (e.g. ``{"url": ...}``) for ``kind`` while the context lasts."""
    pid = os.getpid()
    folder = _folder(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**doc, "kind": kind, "pid": pid, "started": _started(pid)}))
    os.replace(tmp, path)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def entries(state_dir: Path, kind: str) -> list[dict[str, Any]]:
    """The live announcements of ``kind``, newest first (stale files are removed)."""
    found: list[dict[str, Any]] = []
    for path in sorted(_folder(state_dir).glob(f"{kind}-*.json")):
        try:
            doc = json.loads(path.read_text())
            alive = doc.get("started") is not None and _started(int(doc["pid"])) == doc["started"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours
        if alive:
            found.append(doc)
        else:
            path.unlink(missing_ok=True)
    return sorted(found, key=lambda d: float(d.get("started") or 0.0), reverse=True)


def first_url(state_dir: Path, kind: str) -> str | None:
    """The URL of the newest live announcement of ``kind``, or None."""
    live = entries(state_dir, kind)
    return str(live[0]["url"]) if live and live[0].get("url") else None
