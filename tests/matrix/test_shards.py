"""A tiny real matrix run in 2 shards and merged equals the unsharded plan, in the same form
as the unsharded run (through the CLI, against the test stack); bad --shard values are exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StackHandle
from tests.load.helpers import QUICK_BUYERS, QUICK_SETTLE, harness_cli

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack, pytest.mark.slow]

TINY = """
name = "tiny"
users = 4
spawn_rate = 4
""" + QUICK_BUYERS + QUICK_SETTLE

#: two correct cells and a bug cell: the shares differ (the bug cell costs more)
PLAN = ("--strategies", "saga", "--schedules", "none,target-blackhole", "--seeds", "1",
        "--seed", "5", "--bugs", "idempotency-ignored", "--duration", "6s",
        "--check-every", "3s")


def _keys(value: Any) -> Any:
    """The form of a JSON document: its nested keys (not its values, which vary by run)."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    return None


def _cells_shape(doc: dict[str, Any]) -> dict[str, Any]:
    return {c["id"]: sorted(c) for c in doc["cells"]}


async def test_two_shards_merged_are_the_unsharded_matrix(cli_stack: StackHandle,
                                                          tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    shards = []
    for i in (1, 2):
        out = tmp_path / f"shard-{i}"
        done = harness_cli("matrix", "--scenario", str(scenario), *PLAN, "--shard", f"{i}/2",
                           "--out", str(out), timeout=300)
        assert done.returncode in (0, 1), done.stderr[-2000:]
        shards.append(out)
    one, two = (json.loads((s / "matrix.json").read_text()) for s in shards)
    ids_one, ids_two = ([c["id"] for c in d["cells"]] for d in (one, two))
    assert ids_one and ids_two and not set(ids_one) & set(ids_two)

    whole = tmp_path / "whole"
    done = harness_cli("matrix", "--scenario", str(scenario), *PLAN, "--out", str(whole),
                       timeout=400)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    unsharded = json.loads((whole / "matrix.json").read_text())

    merged_dir = tmp_path / "merged"
    done = harness_cli("matrix", "merge", str(shards[1]), str(shards[0]), "--out",
                       str(merged_dir))
    merged = json.loads((merged_dir / "matrix.json").read_text())
    assert done.returncode == (0 if merged["verdict"] == "pass" else 1), done.stderr[-2000:]
    # exactly the cells of the unsharded plan, in its order, each with its own run report
    assert [c["id"] for c in merged["cells"]] == [c["id"] for c in unsharded["cells"]] == [
        "saga-none-s5", "saga-target-blackhole-s5", "bug-idempotency-ignored-s5"]
    for cell in merged["cells"]:
        assert (merged_dir / "cells" / cell["id"] / "report.json").exists()
    # the same form as the unsharded run: keys, grids, settings, cell entries
    assert merged["complete"] is True and merged["settings"] == unsharded["settings"]
    assert _keys(merged) == _keys(unsharded)
    assert _cells_shape(merged) == _cells_shape(unsharded)
    assert sorted(merged["cells"], key=lambda c: str(c["id"])) == sorted(
        [*one["cells"], *two["cells"]], key=lambda c: str(c["id"]))
    junit_names = {p: sorted(re.findall(r'<testsuite name="([^"]+)"',
                                        (p / "junit.xml").read_text()))
                   for p in (merged_dir, whole)}
    assert junit_names[merged_dir] == junit_names[whole] == [
        "bugs", "saga-none-s5", "saga-target-blackhole-s5"]
    cells_html = {p: sorted(re.findall(r'data-cell="([^"]+)"', (p / "matrix.html").read_text()))
                  for p in (merged_dir, whole)}
    assert cells_html[merged_dir] == cells_html[whole] and cells_html[whole]


@pytest.mark.parametrize("shard", ["0/2", "3/2", "2", "x/y", "1/0"])
async def test_a_bad_shard_is_exit_2_naming_the_flag(tmp_path: Path, shard: str) -> None:
    done = harness_cli("matrix", "--shard", shard, "--out", str(tmp_path / "m"))
    assert done.returncode == 2 and "--shard" in done.stderr
    assert not (tmp_path / "m").exists()


async def test_merging_a_folder_that_is_no_shard_is_exit_2_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-shard"
    folder.mkdir()
    done = harness_cli("matrix", "merge", str(folder), "--out", str(tmp_path / "m"))
    assert done.returncode == 2 and "not-a-shard" in done.stderr
