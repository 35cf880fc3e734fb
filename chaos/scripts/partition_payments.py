#!/usr/bin/env python3
"""Partition the payments_api link of the running stack for a while (default 10 s), then heal it.

    python chaos/scripts/partition_payments.py --for 15 [--state-dir .state]

The link is re-enabled in ``finally``, even on Ctrl-C.
"""

from __future__ import annotations

from chaos.manual import main_partition

if __name__ == "__main__":
    raise SystemExit(main_partition("payments_api"))
