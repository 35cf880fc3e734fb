"""``junit.xml``: one test case per strategy x invariant, and one per threshold, for CI systems.

A violated invariant is a ``<failure>`` whose message gives the count and whose text lists the
examples (one JSON object per line); a checker that could not finish is an ``<error>``. A
scenario's thresholds form the suite ``thresholds``: a failed one is a ``<failure>`` naming its
value and limit.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from harness.report.model import Report


def _threshold_suite(parent: ET.Element, report: Report) -> tuple[int, int]:
    failed = report.failed_thresholds
    suite = ET.SubElement(parent, "testsuite", name="thresholds",
                          tests=str(len(report.thresholds)), failures=str(len(failed)),
                          errors="0", skipped="0")
    for t in report.thresholds:
        strategy, _, key = t.name.partition("/")
        case = ET.SubElement(suite, "testcase", classname=f"thresholds.{strategy}", name=key)
        if not t.ok:
            message = f"{t.name} = {t.value:g}, limit {t.limit:g}"
            ET.SubElement(case, "failure", type="ThresholdFailed", message=message).text = message
    return len(report.thresholds), len(failed)


def junit_xml(report: Report) -> str:
    """The JUnit XML document of a report."""
    suites = ET.Element("testsuites", name=f"harness run {report.run_id}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for strategy, result in report.strategies.items():
        invs = result.invariants
        failures = sum(1 for i in invs if not i.ok and i.error is None)
        errors = sum(1 for i in invs if i.error is not None)
        suite = ET.SubElement(suites, "testsuite", name=strategy, tests=str(len(invs)),
                              failures=str(failures), errors=str(errors), skipped="0")
        props = ET.SubElement(suite, "properties")
        for key, value in (("run_id", report.run_id), ("seed", report.seed),
                           ("scenario", report.scenario), ("bug", report.bug),
                           ("faults", report.faults), ("started_at", report.started_at)):
            ET.SubElement(props, "property", name=key, value=str(value))
        for inv in invs:
            case = ET.SubElement(suite, "testcase", classname=f"invariants.{strategy}",
                                 name=inv.name)
            if inv.error is not None:
                node = ET.SubElement(case, "error", type="CheckerError", message=inv.error)
                node.text = inv.error
            elif not inv.ok:
                message = f"{inv.violations} violations of {inv.name}"
                node = ET.SubElement(case, "failure", type="InvariantViolated", message=message)
                node.text = "\n".join(
                    json.dumps(ex, sort_keys=True, default=str) for ex in inv.examples)
        totals["tests"] += len(invs)
        totals["failures"] += failures
        totals["errors"] += errors
    if report.thresholds:
        tests, failed = _threshold_suite(suites, report)
        totals["tests"] += tests
        totals["failures"] += failed
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
