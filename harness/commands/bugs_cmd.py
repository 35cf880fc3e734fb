"""`harness bugs`: each seeded bug with the strategy and fault schedule that catch it."""

from __future__ import annotations

import argparse

from harness.errors import EXIT_OK
from invariants.catalog import CATCHES


def _descriptions() -> dict[str, str]:
    """Bug name -> one-line description, from the service's own table when it is there."""
    try:
        from target_service.bugs import BUGS
    except ImportError:
        return {}
    out = {}
    for name, value in BUGS.items():
        text = value[1] if isinstance(value, tuple) else getattr(value, "description", "")
        out[name] = str(text)
    return out


def bugs(args: argparse.Namespace) -> int:
    described = _descriptions()
    names = list(described) or list(CATCHES)
    for name in names:
        catch = CATCHES.get(name)
        if catch is None:
            print(f"{name:22} (no catching run recorded)  {described.get(name, '')}")
            continue
        caught_by = " or ".join(catch.invariants)
        print(f"{name:22} --strategy {catch.strategy:4} --faults {catch.faults:18} "
              f"caught by {caught_by}: {described.get(name) or catch.why}")
    return EXIT_OK
