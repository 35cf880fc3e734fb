"""The run report: ``report.json`` (docs/contract.md section 7), ``junit.xml`` and the HTML.

The report is a :class:`~harness.report.model.Report` (frozen dataclasses) everywhere; JSON
exists only in files. ``write_report(run_dir, report)`` writes ``report.json``, ``junit.xml``,
``report.html`` and ``violations.html``; ``render_html(run_dir)`` re-renders both pages from the
folder's files (``harness report DIR``); ``read_report(path)`` reads a report.json back.
Module map: ``model`` (the dataclasses, ``to_json`` / ``from_json``), ``junit``, ``html``
(+ ``charts``, ``timeseries``, ``templates/``), ``console`` (the summary printed after a run).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.report.console import print_summary, summary, summary_table
from harness.report.html import VIOLATIONS_PAGE, render, render_violations
from harness.report.junit import junit_xml
from harness.report.model import Report, ReportError, read_report

__all__ = ["Report", "ReportError", "print_summary", "read_report", "render_html", "summary",
           "summary_table", "write_report"]

#: The files :func:`write_report` writes, in the order a reader wants them.
FILES = ("report.html", VIOLATIONS_PAGE, "report.json", "junit.xml")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(run_dir: Path, report: Report) -> list[str]:
    """Write :data:`FILES` into ``run_dir``; their names."""
    run_dir = Path(run_dir)
    _write(run_dir / "report.json", report.dumps())
    _write(run_dir / "junit.xml", junit_xml(report))
    _write(run_dir / "report.html", render(report, run_dir))
    _write(run_dir / VIOLATIONS_PAGE, render_violations(report, run_dir))
    return list(FILES)


def render_html(run_dir: Path) -> Path:
    """Re-render ``report.html`` (and ``violations.html``) from the folder's report.json and
    CSVs; returns the path of ``report.html``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a folder")
    path = run_dir / "report.json"
    report = read_report(path)
    try:
        html, violations = render(report, run_dir), render_violations(report, run_dir)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{path}: not a valid run report: {exc!r}") from exc
    out = run_dir / "report.html"
    _write(out, html)
    _write(run_dir / VIOLATIONS_PAGE, violations)
    return out
