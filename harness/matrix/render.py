"""The matrix's ``junit.xml`` and ``matrix.html``, built from the cells' own run reports.

``junit.xml`` takes each grid cell's test suite from the report package's
:func:`~harness.report.junit.junit_xml` (one case per invariant, renamed after the cell) and
adds a ``bugs`` suite with one case per bug x seed (a miss is a failure). ``matrix.html`` is
one self-contained page: both grids, linked to every cell's ``report.html``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jinja2

from harness.report.junit import junit_xml
from harness.report.model import read_report

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.matrix", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)


def _cell_suites(matrix_dir: Path, cell: dict[str, Any]) -> list[ET.Element]:
    path = matrix_dir / "cells" / cell["id"] / "report.json"
    try:
        doc = read_report(path)
    except Exception:
        return []
    # our own junit_xml output, not outside input
    suites = ET.fromstring(junit_xml(doc).split("?>", 1)[1])  # noqa: S314
    out = []
    for suite in suites.findall("testsuite"):
        suite.set("name", f"{cell['id']}")
        out.append(suite)
    return out


def matrix_junit(matrix_dir: Path, doc: dict[str, Any]) -> str:
    """The JUnit XML of the whole matrix."""
    root = ET.Element("testsuites", name=f"harness matrix {doc['matrix_id']}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for cell in doc["cells"]:
        if cell["kind"] != "grid":
            continue
        suites = _cell_suites(matrix_dir, cell)
        if not suites:
            suite = ET.SubElement(root, "testsuite", name=cell["id"], tests="1", failures="0",
                                  errors="1", skipped="0")
            case = ET.SubElement(suite, "testcase", classname=f"matrix.{cell['strategy']}",
                                 name=f"{cell['schedule']} seed {cell['seed']}")
            message = cell.get("error", "the cell has no report")
            ET.SubElement(case, "error", type="CellError", message=message).text = message
            suites = [suite]
        for suite in suites:
            root.append(suite)
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
    bug_cells = [c for c in doc["cells"] if c["kind"] == "bug"]
    if bug_cells:
        missed = sum(1 for c in bug_cells if not c["caught"])
        suite = ET.SubElement(root, "testsuite", name="bugs", tests=str(len(bug_cells)),
                              failures=str(missed), errors="0", skipped="0")
        for c in bug_cells:
            case = ET.SubElement(suite, "testcase", classname=f"bugs.{c['bug']}",
                                 name=f"seed {c['seed']}")
            if not c["caught"]:
                message = (f"{c['bug']} missed: none of {', '.join(c['expect'])} broke "
                           f"({c['strategy']} under {c['schedule']})")
                node = ET.SubElement(case, "failure", type="BugMissed", message=message)
                node.text = json.dumps({k: c.get(k) for k in ("broken", "error")}, default=str)
        totals["tests"] += len(bug_cells)
        totals["failures"] += missed
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def matrix_html(doc: dict[str, Any]) -> str:
    """The matrix page of a ``matrix.json`` document."""
    return _ENV.get_template("matrix.html").render(doc=doc)
