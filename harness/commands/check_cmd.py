"""`harness check [--json] [--history FILE]`: the invariants on the running stack's databases.

Exit 0 every invariant holds, 1 one is violated (or its checker failed), 2 a bad ``--history``
file, 3 the stack (or its Postgres) is not running.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness import interrupt
from harness.contract import history as hist
from harness.errors import EXIT_OK, EXIT_VIOLATION, StackError, UsageError
from harness.stack import Stack
from invariants import CheckContext, InvariantResult, check_all


def _history(path_text: str | None) -> list[hist.HistoryEvent] | None:
    if path_text is None:
        return None
    path = Path(path_text)
    try:
        events = list(hist.read(path))
    except FileNotFoundError:
        raise UsageError(f"--history: {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--history: {path}: cannot read: {exc}") from exc
    for number, event in enumerate(events, 1):
        if not isinstance(event, dict) or not {"type", "op_id", "op", "customer", "key"} <= set(
                event):
            raise UsageError(f"--history: {path}: event {number} is not a history event")
    return events


def _table(results: list[InvariantResult]) -> Table:
    table = Table(title="invariants on the current state")
    for column in ("invariant", "holds", "violations", "first example / error"):
        table.add_column(column)
    for r in results:
        detail = r.error or (json.dumps(r.examples[0], default=str) if r.examples else "")
        if r.note:
            detail = f"{detail}  ({r.note})" if detail else f"({r.note})"
        table.add_row(r.name, "[green]yes[/]" if r.ok else "[red]no[/]", str(r.violations),
                      detail)
    return table


def check(args: argparse.Namespace) -> int:
    history = _history(args.history)
    state = Stack(args.state_dir).require_state()
    ctx = CheckContext(state.dsn("seats"), state.dsn("payments"), history=history)
    results = interrupt.run(check_all(ctx))
    if all(r.error is not None for r in results) and len({r.error for r in results}) == 1:
        raise StackError(f"the stack's databases cannot be checked: {results[0].error}")
    verdict = "pass" if all(r.ok for r in results) else "fail"
    if args.json:
        doc: dict[str, Any] = {"verdict": verdict, "invariants": [r.to_json() for r in results]}
        print(json.dumps(doc, indent=2, default=str))
    else:
        console = Console(highlight=False)
        console.print(_table(results))
        colour = "green" if verdict == "pass" else "red"
        console.print(f"verdict: [bold {colour}]{verdict}[/]")
    return EXIT_OK if verdict == "pass" else EXIT_VIOLATION
