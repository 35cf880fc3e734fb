"""`harness check` on the test stack's databases, and `harness bugs` with the catching runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.schedules import SCHEDULES
from harness.paths import REPO_ROOT
from invariants import INVARIANT_NAMES
from invariants.catalog import CATCHES
from target_service.bugs import BUGS
from target_service.strategies import STRATEGIES
from tests.conftest import StackHandle
from tests.invariants.shop import History, Shop

on_stack = pytest.mark.asyncio(loop_scope="session")


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120, check=False)


@on_stack
async def test_check_exit_codes_and_json(stack: StackHandle, shop: Shop, tmp_path: Path
                                         ) -> None:
    state_dir = str(stack.stack.state_dir)
    clean = harness("--state-dir", state_dir, "check", "--json")
    assert clean.returncode == 0, clean.stderr
    doc = json.loads(clean.stdout)
    assert doc["verdict"] == "pass"
    assert [i["name"] for i in doc["invariants"]] == list(INVARIANT_NAMES)

    failed = await shop.order("FAILED", ["A-03"])
    payment = await shop.payment(failed, "AUTHORIZED")  # an authorization left open
    broken = harness("--state-dir", state_dir, "check", "--json")
    assert broken.returncode == 1, broken.stderr
    doc = json.loads(broken.stdout)
    assert doc["verdict"] == "fail"
    bad = {i["name"]: i for i in doc["invariants"] if not i["ok"]}
    assert list(bad) == ["no_orphaned_authorizations"]
    assert bad["no_orphaned_authorizations"]["examples"][0]["payment_id"] == payment

    table = harness("--state-dir", state_dir, "check")
    assert table.returncode == 1 and "no_orphaned_authorizations" in table.stdout
    assert "verdict: fail" in table.stdout


@on_stack
async def test_check_with_a_history(stack: StackHandle, shop: Shop, tmp_path: Path) -> None:
    pending = await shop.order("PENDING", ["B-05"])
    h = History()
    h.op("confirm", pending, "ok", 202, {"order_id": pending.id, "status": "AUTHORIZED"})
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in h.events))
    done = harness("--state-dir", str(stack.stack.state_dir), "check", "--json",
                   "--history", str(path))
    assert done.returncode == 1, done.stderr
    bad = {i["name"]: i for i in json.loads(done.stdout)["invariants"] if not i["ok"]}
    assert list(bad) == ["acknowledged_writes_durable"]
    assert bad["acknowledged_writes_durable"]["examples"][0]["order_id"] == pending.id


def test_check_refuses_a_missing_history_and_a_stopped_stack(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    done = harness("--state-dir", str(tmp_path), "check", "--history", str(missing))
    assert done.returncode == 2 and str(missing) in done.stderr
    done = harness("--state-dir", str(tmp_path / "no-stack"), "check")
    assert done.returncode == 3 and "not running" in done.stderr


def test_every_seeded_bug_has_a_catching_run() -> None:
    assert set(CATCHES) == set(BUGS)
    for name, catch in CATCHES.items():
        assert catch.bug == name
        assert catch.strategy in STRATEGIES
        assert catch.faults in SCHEDULES
        assert catch.invariants and set(catch.invariants) <= set(INVARIANT_NAMES)
        assert BUGS[name].strategy in ("all", catch.strategy)


def test_harness_bugs_prints_one_line_per_bug() -> None:
    done = harness("bugs")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(BUGS)
    for name, line in zip(BUGS, lines, strict=True):
        catch = CATCHES[name]
        assert line.startswith(name)
        assert f"--strategy {catch.strategy}" in line and f"--faults {catch.faults}" in line
        assert all(inv in line for inv in catch.invariants)
