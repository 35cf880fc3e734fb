"""Pure parts of the live session and the CLI's help: baseline, fault windows, announcements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.active import ActiveFault, toxic_kind
from chaos.faults import FAULTS
from harness import live
from harness.cli import build_parser
from harness.paths import REPO_ROOT
from harness.stack.toxiproxy import Toxic
from harness.ui.baseline import Baseline
from harness.ui.fault_watch import Windows
from locustfiles.live_checks import rows_from_check

SOLD_TWICE = {"seat_id": "A-01", "event_id": "evt_small", "kind": "k", "order_id": "o1"}
OTHER = {"seat_id": "A-02", "event_id": "evt_small", "kind": "k", "order_id": "o2"}


def result(name: str, *examples: dict[str, str], count: int | None = None) -> dict[str, object]:
    n = len(examples) if count is None else count
    return {"name": name, "ok": n == 0, "violations": n, "examples": list(examples)}


def test_the_baseline_subtracts_what_was_broken_before() -> None:
    base = Baseline.from_json(Baseline.of([result("no_double_sold_seats", SOLD_TWICE),
                                           result("seat_conservation")]).to_json())
    assert base.before("no_double_sold_seats") == 1
    same = base.since(result("no_double_sold_seats", SOLD_TWICE))
    assert (same["ok"], same["violations"], same["examples"]) == (True, 0, [])
    more = base.since(result("no_double_sold_seats", SOLD_TWICE, OTHER))
    assert (more["ok"], more["violations"], more["examples"]) == (False, 1, [OTHER])
    # one old violation repaired, one new: the count alone would hide it
    swapped = base.since(result("no_double_sold_seats", OTHER))
    assert (swapped["ok"], swapped["violations"]) == (False, 1)
    errored = {"name": "seat_conservation", "ok": False, "violations": 0, "examples": [],
               "error": "boom"}
    assert base.since(errored) == errored


def test_a_capped_baseline_counts_only_the_excess() -> None:
    base = Baseline.of([result("idempotent_effects", SOLD_TWICE, count=40)])  # 1 of 40 named
    same = base.since(result("idempotent_effects", OTHER, count=40))
    assert same["ok"] and same["violations"] == 0
    assert base.since(result("idempotent_effects", OTHER, count=41))["violations"] == 1


def test_live_rows_mark_the_invariants_that_hold_only_after_recovery() -> None:
    doc = {"invariants": [result("no_double_sold_seats", SOLD_TWICE, OTHER),
                          result("seat_conservation", OTHER)]}
    base = Baseline.of([result("no_double_sold_seats", SOLD_TWICE)])
    rows = {r["name"]: r for r in rows_from_check(
        doc, "12:00:00", baseline=base, anytime=frozenset({"no_double_sold_seats"}))}
    assert rows["no_double_sold_seats"]["status"] == "VIOLATED"
    assert (rows["no_double_sold_seats"]["violations"],
            rows["no_double_sold_seats"]["before"]) == (1, 1)
    assert json.loads(rows["no_double_sold_seats"]["example"]) == OTHER
    assert rows["seat_conservation"]["when"] == "after recovery"
    assert rows["seat_conservation"]["status"] == "unsettled (judged after recovery)"


def test_fault_windows_open_and_close_with_the_snapshots() -> None:
    windows = Windows()
    latency, cut = ActiveFault("latency", "redis"), ActiveFault("partition", "payments_api")
    assert windows.see([latency], 1.0) == ([latency], [])
    assert windows.see([latency, cut], 2.0) == ([cut], [])
    assert windows.see([cut], 3.5) == ([], [latency])
    assert windows.all() == [
        {"name": "latency", "target": "redis", "start_s": 1.0, "end_s": 3.5},
        {"name": "partition", "target": "payments_api", "start_s": 2.0, "end_s": None}]
    assert windows.close_all(4.0) == [cut]
    assert windows.all()[-1]["end_s"] == 4.0


def test_a_toxic_is_named_by_the_fault_kind_that_added_it() -> None:
    def toxic(name: str, type_: str) -> Toxic:
        return Toxic(name, type_, "downstream", 1.0, {})

    assert toxic_kind(toxic("chaos-half-open-downstream-3f2a", "timeout")) == "half-open"
    assert toxic_kind(toxic("chaos-latency-upstream-1", "latency")) == "latency"
    assert toxic_kind(toxic("by-hand", "timeout")) == "timeout"


def test_announcements_of_dead_processes_are_dropped(tmp_path: Path) -> None:
    with live.announce(tmp_path, live.UI, {"url": "http://127.0.0.1:1"}) as path:
        assert live.first_url(tmp_path, live.UI) == "http://127.0.0.1:1"
        assert live.first_url(tmp_path, live.METRICS) is None
        stale = path.with_name("ui-999999999.json")
        stale.write_text(json.dumps({"url": "x", "pid": 999999999, "started": 1.0}))
        assert [e["pid"] for e in live.entries(tmp_path, live.UI)] == [os.getpid()]
        assert not stale.exists()
    assert live.entries(tmp_path, live.UI) == [] and not path.exists()


def help_of(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "harness", *args, "--help"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    return " ".join(done.stdout.split())  # argparse wraps lines


def test_run_help_names_every_default() -> None:
    text = help_of("run")
    for flag, default in (("--users", "20"), ("--duration", "60s"), ("--seed", "42"),
                          ("--strategy", "all"), ("--faults", "none"), ("--workers", "0")):
        assert f"(default: {default}, from the scenario)" in text, (flag, text)
    assert "(default: mixed)" in help_of("demo")


def test_chaos_help_lists_every_fault_with_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "chaos", "--help"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    lines = done.stdout.splitlines()
    for kind, cls in FAULTS.items():
        assert any(line.split()[:1] == [kind] and cls.doc in line for line in lines), kind


@pytest.mark.parametrize("argv", [["status"], ["run", "--users", "3"]])
def test_parsing_never_imports_the_fault_layer(argv: list[str]) -> None:
    code = ("import sys; from harness.cli import build_parser; "
            f"build_parser().parse_args({argv!r}); print('chaos.faults' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True, timeout=60)
    assert done.stdout.strip() == "False"
    assert build_parser().parse_args(argv).command == argv[0]
