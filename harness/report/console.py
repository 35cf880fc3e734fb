"""The console summary after a run: the verdict, per strategy the load and invariant counts,
every broken invariant, the service's own errors, every threshold, and coverage when
computed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from harness.contract.outcomes import OUTCOME_NAMES
from harness.report.model import Report


def summary_table(report: Report) -> Table:
    """One row per strategy: requests, req/s, latency, outcomes, faults, invariants held."""
    table = Table(title=f"run {report.run_id}: faults {report.faults}, "
                        f"bug {report.bug or 'none'}, seed {report.seed}")
    for column in ("strategy", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms",
                   *OUTCOME_NAMES, "faults", "invariants"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, result in report.strategies.items():
        load, total = result.load, len(result.invariants)
        colour = "green" if result.held == total else "red"
        outcomes = load.outcomes.as_dict()
        table.add_row(
            name, str(load.requests), f"{load.rps:.1f}",
            *(f"{getattr(load.latency_ms, p):g}" for p in ("p50", "p95", "p99")),
            *(str(outcomes[k]) for k in OUTCOME_NAMES),
            str(len(result.faults)), Text(f"{result.held}/{total} hold", style=colour),
        )
    return table


def example_text(example: Mapping[str, Any]) -> str:
    """An invariant's example as one readable line: its kind first, then ``key=value`` with
    lists joined by commas (every order id whole: the user looks them up)."""
    def value(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

    rest = " ".join(f"{k}={value(v)}" for k, v in example.items()
                    if k != "kind" and v not in (None, "", [], ()))
    kind = example.get("kind")
    return f"{kind}: {rest}" if kind else rest


def violations_lines(report: Report) -> list[Text]:
    """Per invariant that does not hold: strategy, name, count or error, then its first
    example whole on the next line (wrapped, never cut: it names the orders to look up)."""
    lines = []
    for strategy, result in report.strategies.items():
        for inv in result.broken:
            why = f"error: {inv.error}" if inv.error is not None else (
                f"{inv.violations} violations")
            orders = sum(1 for o in report.orders.values() if o.strategy == strategy)
            lines.append(Text(f"  ✗ {strategy}: {inv.name}: {why}"
                              f"{f' ({orders} orders in the report)' if orders else ''}",
                              style="red"))
            if inv.examples:
                lines.append(Text(f"      e.g. {example_text(inv.examples[0])}",
                                  style="red", overflow="fold"))
    return lines


def server_error_lines(report: Report) -> list[Text]:
    """Per strategy whose service failed on its own (a 500): how often, and the first
    operation that got one (a defect whatever the invariants say; the verdict stays theirs)."""
    lines = []
    for strategy, result in report.strategies.items():
        errors = result.load.server_errors
        if not errors.count:
            continue
        lines.append(Text(f"  ! {strategy}: the service answered {errors.count} server "
                          f"error{'s' if errors.count != 1 else ''} (5xx other than 502-504)",
                          style="yellow"))
        if errors.examples:
            first = {k: v for k, v in errors.examples[0].items() if k != "time"}
            lines.append(Text(f"      e.g. {example_text(first)}", style="yellow",
                              overflow="fold"))
    return lines


def threshold_lines(report: Report) -> list[Text]:
    """One line per threshold: ✓ or ✗, its value and limit."""
    return [Text(f"  {'✓' if t.ok else '✗'} threshold {t.name}: {t.value:g} "
                 f"(limit {t.limit:g})", style="green" if t.ok else "red")
            for t in report.thresholds]


def coverage_lines(report: Report) -> list[Text]:
    """Per strategy with coverage: the dangerous situations reached, missing, vacuous."""
    lines = []
    for strategy, result in report.strategies.items():
        cov = result.coverage
        if cov is None:
            continue
        reached = ", ".join(f"{k} {v}" for k, v in cov.reached.items() if v) or "nothing"
        missing = f"; missing: {', '.join(cov.missing)}" if cov.missing else ""
        lines.append(Text(f"  coverage {strategy}: {reached}{missing}"
                          f"{' (VACUOUS: no danger reached)' if cov.vacuous else ''}",
                          style="yellow" if cov.vacuous or cov.missing else ""))
    return lines


def summary(report: Report) -> Group:
    """The verdict line, the table, violations, thresholds, coverage: for ``Console.print``."""
    verdict = report.verdict
    style = "bold green" if verdict == "pass" else "bold red"
    return Group(summary_table(report), *violations_lines(report), *server_error_lines(report),
                 *threshold_lines(report), *coverage_lines(report),
                 Text(f"verdict: {verdict}", style=style))


def print_summary(report: Report, console: Console | None = None) -> None:
    """Print :func:`summary` (to stdout by default)."""
    (console or Console(highlight=False)).print(summary(report))
