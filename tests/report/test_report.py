"""The report files: report.json against the contract's schema, junit.xml, and report.html."""

from __future__ import annotations

import copy
import csv
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from harness.paths import REPO_ROOT
from harness.report import Report, ReportError, print_summary, render_html, write_report
from harness.report.charts import LEFT, RIGHT, WIDTH
from invariants import INVARIANT_NAMES

SCHEMA = json.loads((Path(__file__).parent / "report_schema.json").read_text())
T0 = 1_700_000_000.0
HEADER = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", "50%", "66%",
          "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
          "Total Request Count", "Total Failure Count", "Total Median Response Time",
          "Total Average Response Time", "Total Min Response Time", "Total Max Response Time",
          "Total Average Content Size"]
DOUBLE_SALE = {"event_id": "evt_default", "seat_id": "A-07",
               "kind": "seat in several live orders",
               "orders": ["0d9c7a52-1111-4b6e-9a0e-5b7c1f00aa01",
                          "0d9c7a52-2222-4b6e-9a0e-5b7c1f00aa02"]}


def invariants(**broken: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in INVARIANT_NAMES:
        out.append(broken.get(name) or {"name": name, "ok": True, "violations": 0,
                                        "examples": []})
    return out


def load(requests: int) -> dict[str, Any]:
    return {"requests": requests, "rps": requests / 60.0,
            "latency_ms": {"p50": 12.0, "p95": 80.5, "p99": 140.0},
            "outcomes": {"sold": 40, "conflict": 7, "payment_failed": 2, "unknown": 1}}


def sample_report() -> dict[str, Any]:
    return {
        "schema": 1, "run_id": "20250101-120000-default-all-s42", "seed": 42,
        "scenario": "default", "bug": "lock-no-fencing", "faults": "service-pause",
        "started_at": "2025-01-01T12:00:00+00:00", "duration_s": 60.0, "verdict": "fail",
        "strategies": {
            "lock": {
                "load": load(1200),
                "faults": [{"name": "service-pause", "target": "target-0", "start_s": 10.0,
                            "end_s": 25.0}],
                "invariants": invariants(no_double_sold_seats={
                    "name": "no_double_sold_seats", "ok": False, "violations": 3,
                    "examples": [DOUBLE_SALE]}),
            },
            "saga": {
                "load": load(900), "faults": [],
                "invariants": invariants(no_in_doubt_transactions={
                    "name": "no_in_doubt_transactions", "ok": False, "violations": 0,
                    "examples": [], "error": "TimeoutError"}),
            },
        },
    }


def write_stats_history(path: Path, seconds: int) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for s in range(seconds):
            for name in ("create order", "Aggregated"):
                row = dict.fromkeys(HEADER, "0")
                row.update({"Timestamp": str(int(T0) + s), "User Count": "20", "Name": name,
                            "Type": "" if name == "Aggregated" else "POST",
                            "Requests/s": f"{20 + s % 5}", "Failures/s": "0.5" if 10 <= s < 25
                            else "0", "50%": "N/A" if s == 0 else "12", "95%": "80",
                            "99%": "140"})
                out.writerow([row[h] for h in HEADER])


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    write_stats_history(tmp_path / "lock_stats_history.csv", 60)
    write_stats_history(tmp_path / "saga_stats_history.csv", 60)
    # the fault runner logs t (seconds since the load's t0) and wall (unix): t0 = wall - t
    (tmp_path / "faults.jsonl").write_text("\n".join(json.dumps(e) for e in (
        {"event": "start", "label": "service-pause", "fault": "pause", "target": "target-0",
         "t": 10.0, "wall": T0 + 10.0, "strategy": "lock"},
        {"event": "stop", "label": "service-pause", "fault": "pause", "target": "target-0",
         "t": 25.0, "wall": T0 + 25.0, "strategy": "lock"},
    )) + "\n")
    return tmp_path


def test_report_json_follows_the_contract_schema(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(sample_report()))
    doc = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["verdict"] == "fail"
    for entry in doc["strategies"].values():
        assert [i["name"] for i in entry["invariants"]] == list(INVARIANT_NAMES)
    assert doc["strategies"]["lock"]["invariants"][0]["examples"] == [DOUBLE_SALE]


def test_the_schema_rejects_what_the_contract_forbids() -> None:
    good = sample_report()
    jsonschema.validate(good, SCHEMA)
    missing = copy.deepcopy(good)
    missing["strategies"]["lock"]["invariants"].pop()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, SCHEMA)
    lying = copy.deepcopy(good)
    lying["strategies"]["saga"]["invariants"][0].update(violations=2)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(lying, SCHEMA)


def test_a_report_never_passes_by_omission(run_dir: Path) -> None:
    report = sample_report()
    for entry in report["strategies"].values():
        entry["invariants"] = invariants()
    report["strategies"]["saga"]["invariants"].pop(3)  # the run lost one result
    report["verdict"] = "pass"
    report["extra"] = "not in the contract"
    write_report(run_dir, Report.from_json(report))
    doc = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["verdict"] == "fail"
    lost = doc["strategies"]["saga"]["invariants"][3]
    assert lost == {"name": "no_ticket_without_capture", "ok": False, "violations": 0,
                    "examples": [], "error": "not checked in this run"}
    report["strategies"]["saga"]["invariants"] = invariants()
    write_report(run_dir, Report.from_json(report))
    assert json.loads((run_dir / "report.json").read_text())["verdict"] == "pass"


def test_junit_has_one_case_per_strategy_and_invariant(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(sample_report()))
    root = ET.parse(run_dir / "junit.xml").getroot()  # noqa: S314 - our own file
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 2 * 8
    assert {(c.get("classname"), c.get("name")) for c in cases} == {
        (f"invariants.{s}", n) for s in ("lock", "saga") for n in INVARIANT_NAMES}
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("16", "1", "1")
    failed = root.find("./testsuite[@name='lock']/testcase[@name='no_double_sold_seats']")
    assert failed is not None
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == "3 violations of no_double_sold_seats"
    assert json.loads(failure.text or "") == DOUBLE_SALE
    errored = root.find("./testsuite[@name='saga']/testcase[@name='no_in_doubt_transactions']")
    assert errored is not None and errored.find("error") is not None
    assert errored.find("error").get("message") == "TimeoutError"  # type: ignore[union-attr]
    passing = root.find("./testsuite[@name='saga']/testcase[@name='seat_conservation']")
    assert passing is not None and list(passing) == []


def test_html_puts_the_verdict_first_and_shows_violations(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(sample_report()))
    html = (run_dir / "report.html").read_text()
    verdict = html.index('id="verdict"')
    assert html[verdict:verdict + 40].split(">", 1)[1].startswith("FAIL")
    assert verdict < html.index("Strategies side by side") < html.index("Load over time")
    section = html[html.index('id="v-lock-no_double_sold_seats"'):]
    section = section[:section.index("</section>")]
    for text in ("3 violations", "A-07", *DOUBLE_SALE["orders"], "seat in several live orders"):
        assert text in section
    assert "checker error" in html and "TimeoutError" in html
    assert "1200" in html and "80.5" in html  # lock's requests and p95 side by side


def test_html_shades_the_fault_window_where_it_happened(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(sample_report()))
    html = (run_dir / "report.html").read_text()
    rects = re.findall(r'<rect class="fault" data-fault="([^"]+)" x="([\d.]+)" y="\d+"'
                       r' width="([\d.]+)"', html)
    assert len(rects) == 2  # throughput and latency charts of the lock strategy
    plot_w = WIDTH - LEFT - RIGHT
    for label, x, width in rects:
        assert label == "service-pause (target-0)"
        assert float(x) == pytest.approx(LEFT + plot_w * 10 / 60, abs=0.1)
        assert float(width) == pytest.approx(plot_w * 15 / 60, abs=0.1)
    lines = re.findall(r'<polyline class="line" fill="none" stroke="#2563eb" points="([^"]+)"',
                       html)
    assert [len(p.split()) for p in lines] == [60, 60]  # only the Aggregated rows, per second


def test_html_is_self_contained(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(sample_report()))
    html = (run_dir / "report.html").read_text()
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) == {"http://www.w3.org/2000/svg"}
    for needle in ("<script", "<link", "src=", "@import", "url(", "//cdn"):
        assert needle not in html


def test_a_passing_report_says_so(run_dir: Path) -> None:
    report = sample_report()
    for entry in report["strategies"].values():
        entry["invariants"] = invariants()
    write_report(run_dir, Report.from_json(report))
    html = (run_dir / "report.html").read_text()
    assert ">PASS</span>" in html and "Every invariant holds" in html
    assert 'class="violation"' not in html


def test_render_html_rebuilds_the_page_from_the_folder(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(sample_report()))
    first = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    assert render_html(run_dir) == run_dir / "report.html"
    assert (run_dir / "report.html").read_text() == first


def test_render_html_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"report\.json: no such file"):
        render_html(tmp_path)
    (tmp_path / "report.json").write_text('{"schema": 1,\n "run_id": }')
    with pytest.raises(ReportError, match="line 2: not JSON"):
        render_html(tmp_path)


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=60, check=False)


def test_harness_report_command(run_dir: Path, tmp_path_factory: pytest.TempPathFactory
                                ) -> None:
    write_report(run_dir, Report.from_json(sample_report()))
    (run_dir / "report.html").unlink()
    done = harness("report", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert (run_dir / "report.html").exists()
    missing = tmp_path_factory.mktemp("x") / "no-such-run"
    done = harness("report", str(missing))
    assert done.returncode == 2 and str(missing) in done.stderr
    broken = tmp_path_factory.mktemp("broken")
    (broken / "report.json").write_text("[1, 2")
    done = harness("report", str(broken))
    assert done.returncode == 2 and str(broken / "report.json") in done.stderr


def test_console_summary_shows_verdict_and_counts() -> None:
    console = Console(record=True, width=200, color_system=None)
    print_summary(Report.from_json(sample_report()), console)
    text = console.export_text()
    lock = next(line for line in text.splitlines() if line.startswith("│ lock"))
    for cell in ("1200", "20.0", "12", "80.5", "140", "40", "7/8 hold"):
        assert cell in lock
    assert "lock: no_double_sold_seats: 3 violations" in text
    assert "saga: no_in_doubt_transactions: error: TimeoutError" in text
    assert text.rstrip().endswith("verdict: fail")


def test_console_names_an_examples_orders_whole_even_on_a_narrow_terminal() -> None:
    console = Console(record=True, width=60, color_system=None)
    print_summary(Report.from_json(sample_report()), console)
    text = "".join(console.export_text().split())  # the example folds over lines: join them
    assert ("e.g.seatinseveralliveorders:event_id=evt_defaultseat_id=A-07"
            "orders=0d9c7a52-1111-4b6e-9a0e-5b7c1f00aa01,0d9c7a52-2222-4b6e-9a0e-5b7c1f00aa02"
            ) in text


DEADLOCKED = {"op": "finalize", "order_id": "d48faab0-400d-4ca1-af1b-6639f7ef8de0",
              "key": "688deb9d", "time": T0 + 30.2, "status": 500, "code": "INTERNAL_ERROR"}


def with_server_error() -> dict[str, Any]:
    """The sample report, its saga service having answered one 500."""
    report = sample_report()
    report["strategies"]["saga"]["load"]["server_errors"] = {"count": 1,
                                                             "examples": [DEADLOCKED]}
    return report


def test_the_services_own_errors_are_shown_beside_the_invariants(run_dir: Path) -> None:
    """A 500 is a defect whatever the invariants say: the console names the operation and its
    order, the HTML counts it per strategy, report.json keeps it; the verdict stays theirs."""
    console = Console(record=True, width=200, color_system=None)
    print_summary(Report.from_json(with_server_error()), console)
    text = console.export_text()
    assert "! saga: the service answered 1 server error (5xx other than 502-504)" in text
    assert ("e.g. op=finalize order_id=d48faab0-400d-4ca1-af1b-6639f7ef8de0 key=688deb9d"
            " status=500 code=INTERNAL_ERROR") in text
    assert "! lock" not in text  # none there
    write_report(run_dir, Report.from_json(with_server_error()))
    doc = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["strategies"]["saga"]["load"]["server_errors"] == {
        "count": 1, "examples": [DEADLOCKED]}
    assert doc["strategies"]["lock"]["load"]["server_errors"] == {"count": 0, "examples": []}
    page = (run_dir / "report.html").read_text()
    row = re.search(r"<tr><td>server errors.*?</tr>", page, re.S)
    assert row is not None
    assert 'class="bad">1<br><span class="small">finalize d48faab0' in row.group(0)
    assert 'class="ok">0</td>' in row.group(0)


# --- additions: coverage, thresholds, order stories --------------------------------------
ORDER_A = "0d9c7a52-1111-4b6e-9a0e-5b7c1f00aa01"
ORDER_B = "0d9c7a52-2222-4b6e-9a0e-5b7c1f00aa02"
KEY = "k-0d9c7a52"


def story(order_id: str, start: float) -> dict[str, Any]:
    """An order's create (ok) and confirm (info: no answer) during a service-pause."""
    def event(kind: str, op: str, op_id: str, t: float, **more: Any) -> dict[str, Any]:
        return {"type": kind, "op": op, "op_id": op_id, "strategy": "lock", "time": T0 + t,
                "t_s": t, "key": f"{KEY}-{op}", "status": None, "code": None,
                "latency_ms": None, "attempts": 0, "error": None, **more}
    return {
        "history": [
            event("invoke", "create", f"{order_id}-c", start),
            event("ok", "create", f"{order_id}-c", start + 0.2, status=201, latency_ms=200.0,
                  attempts=1),
            event("invoke", "confirm", f"{order_id}-f", start + 1.0),
            event("info", "confirm", f"{order_id}-f", start + 6.0, latency_ms=5000.0,
                  attempts=3, error="timeout"),
        ],
        "faults": [{"name": "service-pause", "target": "target-0", "start_s": 10.0,
                    "end_s": 25.0}],
        "rows": {"orders": [{"order_id": order_id, "status": "AUTHORIZED", "strategy": "lock",
                             "created_at": "2025-01-01T12:00:10.123456+00:00"}],
                 "order_seats": [{"order_id": order_id, "seat_id": "A-07"}]},
    }


def report_with_stories() -> dict[str, Any]:
    """A failing report: a double sale (one example) and 12 seat_conservation examples, 4 of
    them of ORDER_A; both orders' stories; two thresholds (one failed); lock's coverage."""
    report = sample_report()
    lock = report["strategies"]["lock"]
    conservation = [{"kind": "seat still HELD by a EXPIRED order", "seat_id": f"A-0{n}",
                     "holder_order_id": ORDER_A} for n in range(4)]
    conservation += [{"kind": "capacity mismatch", "event_id": f"evt_{n}"} for n in range(8)]
    lock["invariants"] = invariants(
        no_double_sold_seats={"name": "no_double_sold_seats", "ok": False, "violations": 1,
                              "examples": [DOUBLE_SALE]},
        seat_conservation={"name": "seat_conservation", "ok": False, "violations": 12,
                           "examples": conservation})
    lock["coverage"] = {"reached": {"lease_expired_while_paused": 3},
                        "missing": ["fence_rejected"], "vacuous": False}
    report["orders"] = {ORDER_A: story(ORDER_A, 12.0), ORDER_B: story(ORDER_B, 20.0)}
    report["thresholds"] = [
        {"name": "lock/p95_ms", "limit": 800.0, "value": 80.5, "ok": True},
        {"name": "lock/unknown_share", "limit": 0.0, "value": 0.01, "ok": False}]
    return report


def test_report_json_keeps_coverage_orders_and_thresholds(run_dir: Path) -> None:
    sample = report_with_stories()
    write_report(run_dir, Report.from_json(sample))
    doc = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert {k: doc[k] for k in ("orders", "thresholds")} == {
        k: sample[k] for k in ("orders", "thresholds")}
    assert doc["strategies"]["lock"]["coverage"] == sample["strategies"]["lock"]["coverage"]
    assert "coverage" not in doc["strategies"]["saga"]  # not computed: absent, not empty
    assert Report.from_json(doc) == Report.from_json(sample)  # from_json reads to_json back
    bad = copy.deepcopy(doc)
    bad["thresholds"][0]["ok"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_a_failed_threshold_fails_the_verdict_and_is_a_junit_case(run_dir: Path) -> None:
    sample = report_with_stories()
    for entry in sample["strategies"].values():
        entry["invariants"] = invariants()
    report = Report.from_json(sample)
    assert report.verdict == "fail"
    write_report(run_dir, report)
    assert json.loads((run_dir / "report.json").read_text())["verdict"] == "fail"
    root = ET.parse(run_dir / "junit.xml").getroot()  # noqa: S314 - our own file
    cases = root.findall("./testsuite[@name='thresholds']/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("thresholds.lock", "p95_ms"), ("thresholds.lock", "unknown_share")]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "lock/unknown_share = 0.01, limit 0"
    assert (root.get("tests"), root.get("failures")) == ("18", "1")
    html = (run_dir / "report.html").read_text()
    assert 'id="thresholds"' in html and "lock/unknown_share" in html and "FAILED" in html
    console = Console(record=True, width=200, color_system=None)
    print_summary(report, console)
    text = console.export_text()
    assert "✗ threshold lock/unknown_share: 0.01 (limit 0)" in text
    assert "✓ threshold lock/p95_ms: 80.5 (limit 800)" in text
    passing = copy.deepcopy(sample)
    passing["thresholds"][1].update(value=0.0, ok=True)
    assert Report.from_json(passing).verdict == "pass"


def test_html_shows_the_first_examples_and_links_every_order(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(report_with_stories()))
    html = (run_dir / "report.html").read_text()
    section = html[html.index('id="v-lock-seat_conservation"'):]
    section = section[:section.index("</section>")]
    # ORDER_A's 4 rows collapse into one, then 4 of the 8 capacity rows: 8 examples of 12
    assert "Showing <b>8 of 12</b>" in section
    assert "+3 more rows of this order" in section
    assert 'href="violations.html#v-lock-seat_conservation"' in section
    assert section.count("<tr>") == 1 + 5
    assert f'href="#order-{ORDER_A}"' in section
    # the order's story: its timeline, the faults it met, every invariant it broke
    story_html = html[html.index(f'id="order-{ORDER_A}"'):]
    story_html = story_html[:story_html.index("</section>")]
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="timeline"' in story_html
    assert story_html.count('<g class="op ') == 2  # create and confirm
    assert 'class="op op-info"' in story_html and 'class="op op-ok"' in story_html
    assert "service-pause on target-0" in story_html
    assert ('href="#v-lock-no_double_sold_seats"' in story_html
            and 'href="#v-lock-seat_conservation"' in story_html)
    # the charts mark each (invariant, order) at the order's last event (18 s and 26 s)
    marks = set(re.findall(r'<g class="violation-mark" data-t="([\d.]+)"', html))
    assert marks == {"18", "26"}
    # the second page: every example and both stories
    full = (run_dir / "violations.html").read_text()
    for n in range(8):
        assert f"evt_{n}" in full
    assert f'id="order-{ORDER_A}"' in full and f'id="order-{ORDER_B}"' in full
    for page in (html, full):
        assert "<script" not in page
    # `harness report DIR` re-renders both pages the same
    first = (html, full)
    (run_dir / "violations.html").unlink()
    render_html(run_dir)
    assert ((run_dir / "report.html").read_text(),
            (run_dir / "violations.html").read_text()) == first


def test_coverage_shows_when_computed(run_dir: Path) -> None:
    write_report(run_dir, Report.from_json(report_with_stories()))
    html = (run_dir / "report.html").read_text()
    row = html[html.index("coverage (dangerous situations reached)"):]
    row = row[:row.index("</tr>")]
    assert "1/2" in row and "missing: fence_rejected" in row and "&ndash;" in row  # saga: none
    console = Console(record=True, width=200, color_system=None)
    print_summary(Report.from_json(report_with_stories()), console)
    assert "coverage lock: lease_expired_while_paused 3; missing: fence_rejected" in (
        console.export_text())


def test_a_violation_no_order_dates_is_marked_at_the_check(run_dir: Path) -> None:
    (run_dir / "settle.json").write_text(json.dumps({
        "lock": {"settled": True, "seconds": 4.5, "pending": {}, "errors": []},
        "saga": {"settled": True, "seconds": 2.0, "pending": {}, "errors": []}}))
    write_report(run_dir, Report.from_json(sample_report()))  # no order stories: no times
    html = (run_dir / "report.html").read_text()
    marks = re.findall(r'<g class="violation-mark" data-t="([\d.]+)"><a href="([^"]+)">', html)
    # lock's double sale, at load (60 s) + settling (4.5 s), on both charts; saga's checker
    # error is no violation and gets no mark
    assert marks == [("64.5", "#v-lock-no_double_sold_seats")] * 2


def test_coverage_is_kept_in_the_report_and_shown_with_a_vacuous_pass(run_dir: Path) -> None:
    report = sample_report()
    report["strategies"]["lock"]["coverage"] = {
        "reached": {"lease-expired-in-critical-section": 3}, "missing": ["lease-taken-over"],
        "vacuous": False}
    report["strategies"]["saga"]["coverage"] = {
        "reached": {}, "missing": ["idempotent-replay"], "vacuous": True}
    write_report(run_dir, Report.from_json(report))
    doc = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["strategies"]["lock"]["coverage"]["reached"] == {
        "lease-expired-in-critical-section": 3}
    assert doc["strategies"]["saga"]["coverage"]["vacuous"] is True
    html = (run_dir / "report.html").read_text()
    assert "VACUOUS" in html and "lease-expired-in-critical-section x3" in html
    bad = copy.deepcopy(doc)
    bad["strategies"]["lock"]["coverage"]["reached"]["lease-taken-over"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)
