"""The run report: ``report.json`` (CONTRACT.md section 7), ``junit.xml`` and ``report.html``.

``write_report(run_dir, report)`` writes all three from the run loop's report document;
``render_html(run_dir)`` re-renders the HTML from the folder's files (``harness report DIR``).
Module map: ``document`` (contract form), ``junit``, ``html`` (+ ``charts``, ``timeseries``,
``templates/report.html``), ``console`` (the summary table printed after a run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.report.console import print_summary, summary, summary_table
from harness.report.document import ReportError, normalise, read_json
from harness.report.html import render
from harness.report.junit import junit_xml

__all__ = ["ReportError", "print_summary", "render_html", "summary", "summary_table",
           "write_report"]


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(run_dir: Path, report: dict[str, Any]) -> None:
    """Write ``report.json``, ``junit.xml`` and ``report.html`` into ``run_dir``."""
    run_dir = Path(run_dir)
    doc = normalise(report)
    _write(run_dir / "report.json", json.dumps(doc, indent=2, default=str) + "\n")
    _write(run_dir / "junit.xml", junit_xml(doc))
    _write(run_dir / "report.html", render(doc, run_dir))


def render_html(run_dir: Path) -> Path:
    """Re-render ``report.html`` from the folder's report.json and CSVs; returns its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a folder")
    path = run_dir / "report.json"
    try:
        doc = normalise(read_json(path))
        html = render(doc, run_dir)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}" if str(path) not in str(exc) else str(exc)) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{path}: not a valid run report: {exc!r}") from exc
    out = run_dir / "report.html"
    _write(out, html)
    return out
