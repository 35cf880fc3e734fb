"""The live Invariants tab's data: `harness check --json` run out of process, rate-limited.

Pure logic plus a subprocess (no Locust, no asyncio in this process: the checkers run in their
own ``harness check`` process, so gevent never meets asyncio). Guarantees: at most one check runs
at a time; a new one starts only when the last one started at least ``min_interval_s`` ago; a
check is bounded by ``timeout_s``; the rows always describe the latest finished check (or say
that none has finished yet, or why the last one failed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.contract.history import merge
from harness.paths import REPO_ROOT
from harness.ui.baseline import Baseline

Runner = Callable[[Sequence[str], float], tuple[int, str, str]]


def run_process(cmd: Sequence[str], timeout_s: float) -> tuple[int, str, str]:
    """Run ``cmd`` (bounded); (exit code, stdout, stderr)."""
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout_s,
                              cwd=REPO_ROOT, check=False)
    except subprocess.TimeoutExpired:
        return -1, "", f"`harness check` took longer than {timeout_s:.0f}s"
    return done.returncode, done.stdout, done.stderr


#: The "when it means something" column: invariants that hold at any moment of the load, and
#: those that only hold once recovery has run (a live count of these is work in flight).
ANYTIME, AFTER_RECOVERY = "any moment", "after recovery"


def rows_from_check(doc: Any, checked_at: str, *, baseline: Baseline | None = None,
                    anytime: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Table rows from a `harness check --json` document (one per invariant).

    With ``baseline`` a row counts only what broke since the session began (and says how many
    were there before). With ``anytime`` (the invariants that hold at every moment of the load)
    the others are marked ``after recovery`` and a live count of theirs reads "unsettled", since
    the session's end judges them after healing and recovery.
    """
    base = baseline or Baseline()
    items = doc.get("invariants", []) if isinstance(doc, dict) else doc
    rows = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or "name" not in item:
            continue
        name = str(item["name"])
        now = base.since(item)
        examples = now.get("examples") or []
        detail = item.get("error") or (json.dumps(examples[0], default=str) if examples else "")
        always = anytime is None or name in anytime
        if item.get("error"):
            status = "error"
        elif now.get("ok"):
            status = "holds"
        else:
            status = "VIOLATED" if always else "unsettled (judged after recovery)"
        rows.append({
            "name": name,
            "when": ANYTIME if always else AFTER_RECOVERY,
            "status": status,
            "violations": int(now.get("violations") or 0),
            "before": base.before(name),
            "example": str(detail)[:300],
            "checked": checked_at,
        })
    return rows


def message_row(text: str) -> list[dict[str, Any]]:
    return [{"name": "-", "when": "", "status": text, "violations": 0, "before": 0,
             "example": "", "checked": ""}]


class LiveInvariants:
    """Runs `harness check --json` now and then, and keeps the latest rows."""

    def __init__(
        self, *, state_dir: str | None, history_dir: Path | None, min_interval_s: float = 5.0,
        timeout_s: float = 120.0, runner: Runner = run_process,
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Callable[[], None]], None] | None = None,
        baseline: Baseline | None = None, anytime: frozenset[str] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.baseline = baseline
        self.anytime = anytime
        #: invariant -> unix time a live check first saw it VIOLATED (since the session began)
        self.first_violated: dict[str, float] = {}
        self.history_dir = history_dir
        self.min_interval_s = min_interval_s
        self.timeout_s = timeout_s
        self.runner = runner
        self.clock = clock
        self.spawn = spawn or (lambda fn: threading.Thread(target=fn, daemon=True).start())
        self._lock = threading.Lock()
        self._running = False
        self._started: float | None = None
        self._rows = message_row("not checked yet")

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def maybe_refresh(self) -> bool:
        """Start a check in the background if none runs and the last is old enough."""
        with self._lock:
            now = self.clock()
            if self._running or (self._started is not None
                                 and now - self._started < self.min_interval_s):
                return False
            self._running, self._started = True, now
        self.spawn(self._refresh)
        return True

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "harness"]
        if self.state_dir:
            cmd += ["--state-dir", self.state_dir]
        cmd += ["check", "--json"]
        merged = self._merged_history()
        if merged is not None:
            cmd += ["--history", str(merged)]
        return cmd

    def _merged_history(self) -> Path | None:
        if self.history_dir is None:
            return None
        parts = sorted(self.history_dir.glob("history-*.jsonl"))
        if not parts:
            return None
        out = self.history_dir / "live-merged.jsonl.tmp"
        merge(parts, out)
        return out

    def _refresh(self) -> None:
        try:
            code, out, err = self.runner(self.command(), self.timeout_s)
            stamp = time.strftime("%H:%M:%S")
            try:
                doc = json.loads(out) if out.strip() else None
            except ValueError:
                doc = None
            if doc is None:
                last = (err.strip().splitlines() or [f"exit {code}"])[-1]
                self._rows = message_row(f"check failed: {last}")
            else:
                rows = rows_from_check(doc, stamp, baseline=self.baseline,
                                       anytime=self.anytime)
                for row in rows:
                    if row["status"] == "VIOLATED":
                        self.first_violated.setdefault(row["name"], time.time())
                # published last: a reader (another thread) that sees a row VIOLATED also
                # finds it in first_violated (the session panel reads both)
                self._rows = rows
        except Exception as exc:  # the tab must keep working whatever happens
            self._rows = message_row(f"check failed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._running = False
