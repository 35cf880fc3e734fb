"""`harness run --strategy S --faults F --bug B` (the catching run of `harness bugs`) exits 1
and marks the bug's invariant false with examples (at the first seed, or at the second when the
first missed: see ``SEEDS``); the same run without the bug exits 0, at its one seed.

Tiers: that each bug breaks its catching invariant, and that the correct service keeps every
invariant in the same situation, is proven directly by ``tests/invariants/test_seeded_bugs.py``
(and the service side by ``tests/service/test_seeded_bugs.py``). These 30-second campaigns add
that the catalog's fault schedule reaches the bug under load, so they are the slow tier
(``make test-all``), except a short run of :data:`FAST_CATCH`, which keeps in ``make test``
one whole `harness run` that catches a bug: exit 1, verdict fail, examples in the JSON and the
HTML.
Bugs whose catalog run does not catch them within 30 s would be in ``KNOWN_MISSES`` (each is
still caught by its directed scenario).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from invariants.catalog import CATCHES
from invariants.order_rows import orders_named
from tests.conftest import StackHandle
from tests.load.helpers import harness_cli

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: bug -> why its catalog run does not reliably catch it in 30 s (empty: none; the figures are
#: in docs/measurements.md)
KNOWN_MISSES: dict[str, str] = {}
CAUGHT = [b for b in CATCHES if b not in KNOWN_MISSES]
#: The catching run kept in the fast tier: its fault is a failpoint crash between capture and
#: SOLD, so the catch needs no race; and the run settles by itself (the other bugs' leftovers,
#: holds or prepared transactions, keep the run settling until its timeout).
FAST_CATCH = "capture-not-durable"
#: ... in a shorter run: its schedule is one crash window at any length, so 12 s of load catch
#: it as the 30 s of the catalog run (which is in the slow tier with the other bugs')
FAST_CATCH_DURATION = "12s"


def run(out: Path, strategy: str, faults: str, bug: str | None,
        seed: int = 1, duration: str = "30s") -> tuple[int, dict[str, object]]:
    args = ["run", "--strategy", strategy, "--faults", faults, "--duration", duration,
            "--seed", str(seed), "--out", str(out)]
    if bug:
        args += ["--bug", bug]
    done = harness_cli(*args, timeout=420)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    return done.returncode, report


#: seeded runs a bug gets: its catch is a race of real processes (a round of the
#: lock-takeover-relay schedule shows nothing when the successor's buyer walks away), so one
#: seed may miss where two together rarely do. A miss of the first is printed.
SEEDS = (1, 2)


@pytest.mark.parametrize("bug,duration", [
    *(pytest.param(b, "30s", marks=pytest.mark.slow) for b in CAUGHT),
    pytest.param(FAST_CATCH, FAST_CATCH_DURATION, id=f"{FAST_CATCH}-short")])
async def test_the_catching_run_catches_the_bug(cli_stack: StackHandle, tmp_path: Path,
                                                bug: str, duration: str) -> None:
    catch = CATCHES[bug]
    misses: list[str] = []
    for seed in SEEDS:
        out = tmp_path / f"run-{seed}"
        code, report = run(out, catch.strategy, catch.faults, bug, seed=seed, duration=duration)
        if (code, report["verdict"]) == (1, "fail"):
            break
        # on a miss, say what the faults saw (e.g. each round of lock-takeover-relay)
        misses.append(f"seed {seed}: exit {code}\n" + (out / "faults.jsonl").read_text()[-6000:])
        print(f"{bug} missed at seed {seed}:\n{misses[-1]}")
    assert (code, report["verdict"], report["bug"]) == (1, "fail", bug), "\n".join(misses)
    invs = {i["name"]: i for i in report["strategies"][catch.strategy]["invariants"]}  # type: ignore[index]
    caught = [invs[n] for n in catch.invariants if not invs[n]["ok"]]
    assert caught, {n: i["ok"] for n, i in invs.items()}
    assert all(i["violations"] > 0 and i["examples"] for i in caught)
    named = {o for i in caught for ex in i["examples"] for o in orders_named(ex)}
    orders = report.get("orders") or {}  # each named order's story (docs/load.md)
    assert isinstance(orders, dict) and named <= set(orders)
    html = (out / "report.html").read_text()
    assert ">FAIL</span>" in html and caught[0]["name"] in html


@pytest.mark.slow
@pytest.mark.parametrize("strategy,faults", [
    (s, f) for s, f in sorted({(CATCHES[b].strategy, CATCHES[b].faults) for b in CAUGHT})])
async def test_the_same_run_without_a_bug_passes(cli_stack: StackHandle, tmp_path: Path,
                                                 strategy: str, faults: str) -> None:
    code, report = run(tmp_path / "run", strategy, faults, None)
    invs = report["strategies"][strategy]["invariants"]  # type: ignore[index]
    assert [(i["name"], i.get("error"), i["examples"]) for i in invs if not i["ok"]] == []
    assert (code, report["verdict"]) == (0, "pass")
