"""A tiny real matrix and a tiny real soak against the test stack (through the CLI)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import StackHandle
from tests.load.helpers import QUICK_BUYERS, QUICK_SETTLE, harness_cli

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: Quick to settle: holds expire in 3 s.
TINY = """
name = "tiny"
users = 6
spawn_rate = 6
""" + QUICK_BUYERS + QUICK_SETTLE


def _scenario(tmp_path: Path) -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return str(path)


async def test_a_tiny_matrix_writes_both_grids_and_its_exit_code(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    out = tmp_path / "matrix"
    result = harness_cli(
        "matrix", "--scenario", _scenario(tmp_path), "--strategies", "saga",
        "--schedules", "none,payments-partition", "--seeds", "1", "--seed", "3",
        "--bugs", "idempotency-ignored", "--duration", "6s", "--check-every", "3s",
        "--out", str(out), timeout=300)
    doc = json.loads((out / "matrix.json").read_text())
    assert result.returncode == (0 if doc["verdict"] == "pass" else 1), result.stderr[-2000:]
    assert doc["complete"] is True
    assert [c["id"] for c in doc["cells"]] == [
        "saga-none-s3", "saga-payments-partition-s3", "bug-idempotency-ignored-s3"]
    grid = doc["grid"]["table"]["saga"]
    assert set(grid) == {"none", "payments-partition"}
    for cell in grid.values():
        assert cell["runs"] == 1 and cell["rps"] > 0 and cell["p99_ms"] > 0
    bug = doc["bugs"]["table"]["idempotency-ignored"]
    assert (bug["strategy"], bug["schedule"], bug["runs"]) == ("saga", "target-blackhole", 1)
    bug_cell = doc["cells"][2]
    if bug_cell["caught"]:
        assert bug_cell["ttd_s"] is not None and bug_cell["ttd_s"] > 0
        assert bug_cell["detected_by"] in ("periodic", "final")
    # the verdict follows the cells: any failed correct cell or missed bug fails the matrix; a
    # vacuous cell (a pass that reached no danger, as every cell under `none`) is no pass and
    # no failure
    assert doc["cells"][0]["verdict"] == "vacuous"
    failed = (doc["grid"]["passed"] + doc["grid"]["vacuous"] < doc["grid"]["runs"]
              or doc["bugs"]["caught"] < doc["bugs"]["runs"])
    assert doc["verdict"] == ("fail" if failed else "pass")
    for cell in doc["cells"]:
        assert (out / "cells" / cell["id"] / "report.json").exists()
    html = (out / "matrix.html").read_text()
    assert 'data-cell="saga/payments-partition"' in html
    assert 'data-cell="idempotency-ignored/3"' in html
    junit = (out / "junit.xml").read_text()
    assert 'name="saga-none-s3"' in junit and 'name="bugs"' in junit


async def test_a_bad_matrix_flag_is_exit_2_naming_it(tmp_path: Path) -> None:
    result = harness_cli("matrix", "--schedules", "nope", "--out", str(tmp_path / "m"))
    assert result.returncode == 2
    assert "--schedules" in result.stderr


async def test_a_tiny_soak_samples_and_checks_during_the_load(
    cli_stack: StackHandle, tmp_path: Path
) -> None:
    out = tmp_path / "soak"
    result = harness_cli(
        "soak", "--scenario", _scenario(tmp_path), "--strategy", "saga", "--duration", "32s",
        "--check-every", "10s", "--sample-every", "2s", "--out", str(out), timeout=240)
    soak = json.loads((out / "soak.json").read_text())
    assert result.returncode == (0 if soak["verdict"] == "pass" else 1), result.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["faults"] == "mixed"
    periodic = soak["strategies"]["saga"]["periodic"]
    assert periodic["checks"] >= 2
    times = sorted({o["t"] for o in periodic["observations"]})
    assert times and times[0] < 32
    assert {o["name"] for o in periodic["observations"]} == set(periodic["invariants"])
    # no false alarm: a correct service never has a confirmed mid-run violation
    assert periodic["confirmed"] == []
    with (out / "samples.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    metrics = {r["metric"] for r in rows}
    assert {"rss_mb", "fds", "pg_conns", "backlog"} <= metrics
    components = {r["component"] for r in rows if r["metric"] == "rss_mb"}
    assert {"postgres", "redis", "toxiproxy", "provider", "target-0"} <= components
    assert len({r["t"] for r in rows}) >= 8
    # a 32 s soak cannot tell a leak from a warm-up: insufficient, never failed
    assert {t["verdict"] for t in soak["strategies"]["saga"]["trends"]} == {"insufficient"}
    html = (out / "report.html").read_text()
    assert 'id="section-50-soak"' in html and "Memory (RSS" in html
