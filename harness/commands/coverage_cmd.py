"""`harness coverage`: per strategy, the dangerous situations a run counts (one line each)."""

from __future__ import annotations

import argparse

from harness.errors import EXIT_OK
from target_service.introspection import coverage_situations, situation_doc
from target_service.strategies import STRATEGIES


def coverage(args: argparse.Namespace) -> int:
    for strategy in STRATEGIES:
        print(f"{strategy}:")
        for name in coverage_situations(strategy):
            print(f"  {name:36} {situation_doc(name)}")
    return EXIT_OK
