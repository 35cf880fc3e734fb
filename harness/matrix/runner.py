"""Run every cell of a matrix one after another and keep its report folder up to date.

After every cell ``matrix.json``, ``junit.xml`` and ``matrix.html`` are rewritten (with
``complete: false`` until the last cell), so an interrupted matrix still leaves a readable
report of what ran. A cell that crashes is recorded as an error (a failure) and the matrix
goes on; a stack that cannot be started (:class:`~harness.errors.StackError`) stops it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.errors import StackError
from harness.matrix.cells import error_entry, run_cell
from harness.matrix.grid import matrix_document
from harness.matrix.plan import MatrixPlan
from harness.matrix.render import matrix_html, matrix_junit
from harness.matrix.shard import Shard
from harness.run import scenario as scenarios
from harness.run.loop import now_iso
from harness.run.progress import Progress
from harness.stack import Stack


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_matrix(matrix_dir: Path, doc: dict[str, Any]) -> None:
    """``matrix.json``, ``junit.xml`` and ``matrix.html`` of ``doc``."""
    _write(matrix_dir / "matrix.json", json.dumps(doc, indent=2, default=str) + "\n")
    _write(matrix_dir / "junit.xml", matrix_junit(matrix_dir, doc))
    _write(matrix_dir / "matrix.html", matrix_html(doc))


def _line(entry: dict[str, Any]) -> str:
    load = f"{entry['rps']:.1f} req/s, p99 {entry['p99_ms']} ms"
    if "error" in entry:
        return f"ERROR {entry['error']}"
    if entry["kind"] == "grid":
        what = [*entry["broken"], *entry.get("failed_thresholds", ())]
        broken = f" ({', '.join(what)})" if what else ""
        return f"{entry['verdict']}{broken}; {load}"
    if entry["caught"]:
        return (f"caught by {', '.join(entry['caught_by'])} at {entry['ttd_s']}s "
                f"({entry['detected_by']}); {load}")
    return f"MISSED (broken: {', '.join(entry['broken']) or 'nothing'}); {load}"


async def run_matrix(plan: MatrixPlan, base: scenarios.Scenario, matrix_id: str,
                     matrix_dir: Path, stack: Stack, progress: Progress,
                     shard: Shard | None = None) -> dict[str, Any]:
    """Every cell of ``plan`` (or of its ``shard``); the final ``matrix.json`` document (also
    written; a shard's names its share under ``shard``)."""
    cells = shard.cells(plan) if shard is not None else plan.cells()

    def document(complete: bool) -> dict[str, Any]:
        doc = matrix_document(matrix_id, plan, entries, started_at=started_at,
                              finished_at=now_iso(), complete=complete)
        if shard is not None:
            doc["shard"] = shard.to_json(plan)
        return doc

    started_at = now_iso()
    entries: list[dict[str, Any]] = []
    complete = False
    try:
        for index, cell in enumerate(cells, 1):
            what = (f"bug {cell.bug} ({cell.strategy} / {cell.schedule})" if cell.bug
                    else f"{cell.strategy} / {cell.schedule}")
            progress.phase(f"[matrix {index}/{len(cells)}] {what}, seed {cell.seed}")
            try:
                entry = await run_cell(cell, plan, base, matrix_dir, stack, progress)
            except StackError:
                raise
            except Exception as exc:
                entry = error_entry(cell, exc)
            entries.append(entry)
            progress.phase(f"[matrix {index}/{len(cells)}] {cell.id}: {_line(entry)}")
            write_matrix(matrix_dir, document(False))
        complete = True
    finally:
        doc = document(complete)
        write_matrix(matrix_dir, doc)
    return doc
