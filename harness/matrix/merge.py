"""``harness matrix merge DIR... --out DIR``: shard folders -> one matrix report.

The merged folder has the form of an unsharded run: ``matrix.json`` (cells in plan order, grids,
rates and verdict recomputed), ``junit.xml``, ``matrix.html`` and every cell's run under
``cells/``. Refused with a :class:`~harness.errors.UsageError` (exit 2) naming the folder: a
folder that is not a shard, shards of different plans, a shard given twice, a missing shard, a
cell that is not its shard's. A shard that was interrupted merges as incomplete (verdict fail).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.matrix.grid import matrix_document
from harness.matrix.plan import MatrixPlan
from harness.matrix.runner import write_matrix
from harness.matrix.shard import Shard, plan_id


def read_shard(folder: Path) -> dict[str, Any]:
    """A shard's ``matrix.json`` (UsageError naming the folder when it is not one)."""
    path = folder / "matrix.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{folder}: no matrix.json (not a matrix folder)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    shard = doc.get("shard") if isinstance(doc, dict) else None
    if not isinstance(shard, dict):
        raise UsageError(f"{folder}: not a shard (its matrix.json has no `shard`; run "
                         "`harness matrix --shard I/N`)")
    return dict(doc)


def _plan(folder: Path, doc: dict[str, Any]) -> MatrixPlan:
    try:
        plan = MatrixPlan.from_settings(doc["settings"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{folder}: matrix.json: malformed settings ({exc!r})") from None
    if plan_id(plan) != doc["shard"].get("plan"):
        raise UsageError(f"{folder}: matrix.json: its settings are not the plan its shard names")
    return plan


def merge(folders: Sequence[Path], out_dir: Path, matrix_id: str) -> dict[str, Any]:
    """Merge the shard ``folders`` into ``out_dir``; the merged ``matrix.json`` document."""
    shards: dict[int, tuple[Path, dict[str, Any]]] = {}
    plan: MatrixPlan | None = None
    first: Path | None = None
    count = 0
    for folder in folders:
        doc = read_shard(folder)
        this = _plan(folder, doc)
        index, n = int(doc["shard"]["index"]), int(doc["shard"]["count"])
        if plan is None or first is None:
            plan, first, count = this, folder, n
        elif plan_id(this) != plan_id(plan) or n != count:
            raise UsageError(f"{folder}: a shard of another plan than {first} (plan "
                             f"{plan_id(this)} in {n} shards, not {plan_id(plan)} in {count})")
        if index in shards:
            raise UsageError(f"{folder}: shard {index}/{n} given twice (also {shards[index][0]})")
        shards[index] = (folder, doc)
    if plan is None:
        raise UsageError("DIR: no shard folder given")
    missing = [i for i in range(1, count + 1) if i not in shards]
    if missing:
        raise UsageError(f"shard {', '.join(f'{i}/{count}' for i in missing)} missing "
                         f"(given: {', '.join(str(f) for f in folders)})")
    by_id: dict[str, dict[str, Any]] = {}
    complete = True
    for index, (folder, doc) in sorted(shards.items()):
        own = {c.id for c in Shard(index, count).cells(plan)}
        for cell in doc.get("cells", []):
            if cell.get("id") not in own:
                raise UsageError(f"{folder}: cell {cell.get('id')!r} is not one of shard "
                                 f"{index}/{count}'s")
            by_id[cell["id"]] = cell
            source = folder / "cells" / cell["id"]
            if source.is_dir():
                shutil.copytree(source, out_dir / "cells" / cell["id"], dirs_exist_ok=True)
        complete = complete and bool(doc.get("complete")) and own <= set(by_id)
    entries = [by_id[c.id] for c in plan.cells() if c.id in by_id]
    docs = [doc for _, doc in shards.values()]
    merged = matrix_document(
        matrix_id, plan, entries, started_at=min(str(d.get("started_at", "")) for d in docs),
        finished_at=max(str(d.get("finished_at", "")) for d in docs), complete=complete)
    write_matrix(out_dir, merged)
    return merged
