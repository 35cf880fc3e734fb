"""What a person sees while a run goes: phase lines, and a live line on a terminal.

On a terminal a rich live line shows, for the running strategy, the elapsed time, requests/s
(from Locust's ``*_stats_history.csv``), the outcomes so far (from the history files) and the
active fault (from the faults log). Off a terminal only the phase lines are printed, so CI logs
stay short. The live line only reads files; it never slows the load down.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.contract.history import HistoryEvent
from harness.contract.outcomes import OUTCOME_NAMES, outcome_of
from harness.run.load_stats import last_history_row


class Tail:
    """New complete lines of a growing file (a torn last line waits for its end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def lines(self) -> list[str]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode("utf-8", "replace").splitlines()


class LiveCounts:
    """Outcomes so far and the active faults, read incrementally from the run's files."""

    def __init__(self, history_dir: Path, faults_log: Path) -> None:
        self.history_dir = history_dir
        self.faults = Tail(faults_log)
        self.tails: dict[Path, Tail] = {}
        self.outcomes = dict.fromkeys(OUTCOME_NAMES, 0)
        self.active: dict[str, str] = {}

    def refresh(self) -> None:
        for path in sorted(self.history_dir.glob("history-*.jsonl")):
            tail = self.tails.setdefault(path, Tail(path))
            for line in tail.lines():
                outcome = _outcome(line)
                if outcome is not None:
                    self.outcomes[outcome] += 1
        for line in self.faults.lines():
            try:
                entry: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            key = f"{entry.get('label')}:{entry.get('fault')}:{entry.get('target')}"
            if entry.get("event") == "start":
                self.active[key] = f"{entry.get('label') or entry.get('fault')}" \
                                   f"→{entry.get('target')}"
            else:
                self.active.pop(key, None)


def _outcome(line: str) -> str | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or "type" not in event:
        return None
    typed: HistoryEvent = event  # type: ignore[assignment]
    return outcome_of(typed)


class Progress:
    """Phase lines always; during the load a live status line on a terminal, else the same
    status as a plain line every ``plain_every_s`` (default: a twentieth of the load, at least
    30 s), so a CI log of a long soak shows the run going."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 plain_every_s: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.console = Console(file=self.stream, highlight=False)
        self.plain_every_s = plain_every_s

    def phase(self, message: str) -> None:
        if self.live:
            self.console.print(f"[bold cyan]»[/] {message}")
        else:
            print(f"[run] {message}", file=self.stream, flush=True)

    def throttled(self, prefix: str, every_s: float = 5.0) -> Callable[[str], None]:
        """A phase printer for a long quiet step (e.g. settling): the first line at once, then
        at most one every ``every_s`` seconds, each prefixed with ``prefix``."""
        last = [float("-inf")]

        def say(message: str) -> None:
            now = time.monotonic()
            if now - last[0] >= every_s:
                last[0] = now
                self.phase(f"{prefix}{message}")

        return say

    async def watch(self, strategy: str, csv_prefix: Path, history_dir: Path,
                    faults_log: Path, duration_s: float, done: asyncio.Event) -> None:
        """Show the run's status until ``done`` is set (see the class doc)."""
        counts = LiveCounts(history_dir, faults_log)
        stats_history = Path(f"{csv_prefix}_stats_history.csv")
        started = time.monotonic()
        if not self.live:
            every = self.plain_every_s or max(30.0, duration_s / 20)
            while True:
                try:
                    await asyncio.wait_for(done.wait(), every)
                    return
                except TimeoutError:
                    counts.refresh()
                    row = last_history_row(stats_history) or {}
                    line = self._line(strategy, time.monotonic() - started, duration_s,
                                      row.get("Requests/s", "0"), counts)
                    print(f"[run] {line.plain}", file=self.stream, flush=True)
        with Live(console=self.console, refresh_per_second=4, transient=True) as live:
            while not done.is_set():
                counts.refresh()
                row = last_history_row(stats_history) or {}
                live.update(self._line(strategy, time.monotonic() - started, duration_s,
                                       row.get("Requests/s", "0"), counts))
                try:
                    await asyncio.wait_for(done.wait(), 1.0)
                except TimeoutError:
                    continue

    @staticmethod
    def _line(strategy: str, elapsed: float, duration_s: float, rps: str,
              counts: LiveCounts) -> Text:
        try:
            rate = float(rps)
        except ValueError:
            rate = 0.0
        outcomes = " ".join(f"{k}={v}" for k, v in counts.outcomes.items())
        fault = ", ".join(sorted(counts.active.values())) or "none"
        return Text.assemble(
            (f"{strategy:5} ", "bold"), f"{elapsed:5.0f}/{duration_s:.0f}s  ",
            (f"{rate:7.1f} req/s  ", "green"), f"{outcomes}  ", ("fault: ", "dim"),
            (fault, "red" if counts.active else "dim"),
        )
