"""``junit.xml``: one test case per strategy x invariant, for CI systems.

A violated invariant is a ``<failure>`` whose message gives the count and whose text lists the
examples (one JSON object per line); a checker that could not finish is an ``<error>``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any


def junit_xml(report: dict[str, Any]) -> str:
    """The JUnit XML document of a normalised report."""
    suites = ET.Element("testsuites", name=f"harness run {report['run_id']}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for strategy, entry in report["strategies"].items():
        invs = entry["invariants"]
        failures = sum(1 for i in invs if not i["ok"] and "error" not in i)
        errors = sum(1 for i in invs if "error" in i)
        suite = ET.SubElement(suites, "testsuite", name=strategy, tests=str(len(invs)),
                              failures=str(failures), errors=str(errors), skipped="0")
        props = ET.SubElement(suite, "properties")
        for key in ("run_id", "seed", "scenario", "bug", "faults", "started_at"):
            ET.SubElement(props, "property", name=key, value=str(report.get(key)))
        for inv in invs:
            case = ET.SubElement(suite, "testcase", classname=f"invariants.{strategy}",
                                 name=inv["name"])
            if "error" in inv:
                node = ET.SubElement(case, "error", type="CheckerError", message=inv["error"])
                node.text = inv["error"]
            elif not inv["ok"]:
                message = f"{inv['violations']} violations of {inv['name']}"
                node = ET.SubElement(case, "failure", type="InvariantViolated", message=message)
                node.text = "\n".join(
                    json.dumps(ex, sort_keys=True, default=str) for ex in inv["examples"])
        totals["tests"] += len(invs)
        totals["failures"] += failures
        totals["errors"] += errors
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
