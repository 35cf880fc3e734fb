"""A real run with a seeded bug: report.json tells each broken order's story, the HTML shows it.

``idempotency-ignored`` under target blackholes (inline, as ``target-blackhole`` does): clients
that never heard the answer retry with the same Idempotency-Key and create a second order, so
``idempotent_effects`` names both orders of each key; the first one's create lost its answer, so
only its key ties it to the history.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from harness.report import read_report
from invariants.order_rows import orders_named
from tests.conftest import StackHandle
from tests.load.helpers import QUICK_SETTLE, harness_cli, write_scenario

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack, pytest.mark.slow]

SCHEMA = json.loads((Path(__file__).parent / "report_schema.json").read_text())

#: Buyers that reuse their seat map (so most requests in flight are purchases) under three
#: target blackholes: each one's end closes the connections, and the buyers retry.
BLACKHOLE = """
[[faults]]
start = "{start}s"
duration = "4s"
fault = "half-open"
target = "target_api"
params = {{ stream = "downstream" }}
label = "target-blackhole"
"""
RETRYING_BUYERS = """
name = "retrying-buyers"
seed = 1
users = 10
spawn_rate = 10
duration = "24s"

[workload]
seat_map_max_age = "30s"
""" + QUICK_SETTLE + "".join(BLACKHOLE.format(start=s) for s in (3, 10, 17))


async def test_a_seeded_bug_run_tells_the_story_of_every_broken_order(
        cli_stack: StackHandle, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = harness_cli("run", "--scenario", str(write_scenario(tmp_path, RETRYING_BUYERS)),
                       "--strategy", "saga", "--bug", "idempotency-ignored",
                       "--out", str(run_dir), timeout=420)
    assert done.returncode == 1, done.stderr[-3000:]
    doc = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    report = read_report(run_dir / "report.json")
    broken = report.strategies["saga"].invariant("idempotent_effects")
    assert not broken.ok and broken.violations > 0
    assert len(broken.examples) == broken.violations  # every example, not the first five

    named = {o for inv in report.strategies["saga"].broken for ex in inv.examples
             for o in orders_named(ex)}
    assert named and set(report.orders) == named
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    blackhole = [w for w in report.strategies["saga"].faults if w.name == "target-blackhole"]
    assert blackhole
    for order_id, story in report.orders.items():
        (row,) = story.rows["orders"]  # the service's own row of the order
        assert row["order_id"] == order_id and row["strategy"] == "saga"
        assert story.rows["order_seats"] and all(
            r["order_id"] == order_id for r in story.rows["order_seats"])
        # its client operations: every event of the history with its op_id, in time order
        assert story.history, order_id
        ops = {e.op_id for e in story.history}
        assert sorted((e["op_id"], e["type"]) for e in history if e["op_id"] in ops) == sorted(
            (e.op_id, e.type) for e in story.history)
        assert [e.time for e in story.history] == sorted(e.time for e in story.history)
        create = [e for e in story.history if e.op == "create" and e.type != "invoke"]
        assert create and create[0].key == row["idempotency_key"]
        # the faults its operations overlapped
        first, last = story.history[0].t_s, story.history[-1].t_s
        assert list(story.faults) == [w for w in report.strategies["saga"].faults
                                      if w.start_s <= last and w.end_s >= first]
    # the orders of one key share the create operation that retried into a second order
    pairs = [orders_named(ex) for ex in broken.examples if ex.get("orders")]
    assert any(len(p) == 2 for p in pairs)
    assert any(report.orders[a].faults for a, _ in pairs)

    html = (run_dir / "report.html").read_text()
    shown = min(5, broken.violations)
    assert re.search(rf"Showing <b>\d+ of {broken.violations}</b>", html)
    first_pair = pairs[0]
    for order_id in first_pair:
        assert f'href="#order-{order_id}"' in html and f'id="order-{order_id}"' in html
    assert html.count('<g class="violation-mark"') >= 2 * shown  # throughput and latency
    full = (run_dir / "violations.html").read_text()
    for order_id in named:
        assert f'id="order-{order_id}"' in full
