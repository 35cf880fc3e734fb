"""`harness bugs`: each seeded bug with the strategy and fault schedule that catch it."""

from __future__ import annotations

import argparse

from harness.errors import EXIT_OK
from invariants.catalog import CATCHES
from target_service.bugs import BUGS


def bugs(args: argparse.Namespace) -> int:
    for name, bug in BUGS.items():
        catch = CATCHES[name]
        caught_by = " or ".join(catch.invariants)
        print(f"{name:22} --strategy {catch.strategy:4} --faults {catch.faults:18} "
              f"caught by {caught_by}: {bug.description}")
    return EXIT_OK
