"""Print the catches of the runs ``run.sh`` kept in the given folders: per bug and strategy,
the runs that broke an invariant (which ones), and the situations each run reached."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(folders: list[str]) -> None:
    rows: dict[str, list[tuple[int, list[str], int]]] = defaultdict(list)
    for folder in folders:
        for run in sorted(Path(folder).glob("*-s*/")):
            try:
                report = json.loads((run / "report.json").read_text())
            except (OSError, ValueError):
                continue  # not run, or still running
            name, _, seed = run.name.rpartition("-s")
            for entry in report["strategies"].values():
                broken = [i["name"] for i in entry["invariants"] if not i["ok"]]
                reached = len((entry.get("coverage") or {}).get("reached") or {})
                rows[name].append((int(seed), broken, reached))
    for name, runs in sorted(rows.items()):
        caught = sorted(seed for seed, broken, _ in runs if broken)
        missed = sorted(seed for seed, broken, _ in runs if not broken)
        print(f"{name}: broke an invariant in {len(caught)} of {len(runs)}; "
              f"missed seeds {missed or 'none'}")
        for number, broke, count in sorted(runs):
            print(f"  s{number}: {', '.join(broke) or '-'} (situations {count})")


if __name__ == "__main__":
    main(sys.argv[1:])
