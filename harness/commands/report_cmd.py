"""`harness report DIR`: re-render a run's report.html from the files in its folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import EXIT_OK, UsageError
from harness.report import ReportError, render_html


def report(args: argparse.Namespace) -> int:
    run_dir = Path(args.dir)
    if not run_dir.is_dir():
        raise UsageError(f"report: {run_dir}: no such run folder")
    try:
        out = render_html(run_dir)
    except ReportError as exc:
        raise UsageError(f"report: {exc}") from exc
    print(out)
    return EXIT_OK
