"""The console summary after a run: the verdict and, per strategy, the load and invariant counts."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text


def summary_table(report: dict[str, Any]) -> Table:
    """One row per strategy: requests, req/s, latency, outcomes, faults, invariants held."""
    table = Table(title=f"run {report['run_id']}: faults {report['faults']}, "
                        f"bug {report['bug'] or 'none'}, seed {report['seed']}")
    for column in ("strategy", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "sold",
                   "conflict", "payment_failed", "unknown", "faults", "invariants"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, entry in report["strategies"].items():
        load, invs = entry["load"], entry["invariants"]
        held = sum(1 for i in invs if i["ok"])
        colour = "green" if held == len(invs) else "red"
        latency, outcomes = load.get("latency_ms", {}), load.get("outcomes", {})
        table.add_row(
            name, str(load.get("requests", 0)), f"{load.get('rps', 0.0):.1f}",
            *(f"{latency.get(p, 0):g}" for p in ("p50", "p95", "p99")),
            *(str(outcomes.get(k, 0)) for k in ("sold", "conflict", "payment_failed", "unknown")),
            str(len(entry["faults"])), Text(f"{held}/{len(invs)} hold", style=colour),
        )
    return table


def violations_lines(report: dict[str, Any]) -> list[Text]:
    """One line per invariant that does not hold: strategy, name, count or error, an example."""
    lines = []
    for strategy, entry in report["strategies"].items():
        for inv in entry["invariants"]:
            if inv["ok"]:
                continue
            why = f"error: {inv['error']}" if "error" in inv else f"{inv['violations']} violations"
            first = inv["examples"][0] if inv["examples"] else None
            hint = f"  e.g. {first}" if first else ""
            lines.append(Text(f"  ✗ {strategy}: {inv['name']}: {why}{hint}", style="red",
                              overflow="ellipsis", no_wrap=True))
    return lines


def summary(report: dict[str, Any]) -> Group:
    """The verdict line, the table and the violations, ready for ``Console.print``."""
    verdict = report["verdict"]
    style = "bold green" if verdict == "pass" else "bold red"
    return Group(summary_table(report), *violations_lines(report),
                 Text(f"verdict: {verdict}", style=style))


def print_summary(report: dict[str, Any], console: Console | None = None) -> None:
    """Print :func:`summary` (to stdout by default)."""
    (console or Console(highlight=False)).print(summary(report))
