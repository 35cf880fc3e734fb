#!/usr/bin/env python3
"""Flap one link of the running stack: down for --down seconds, up for --up, --times times.

    python chaos/scripts/flap_link.py redis --down 2 --up 3 --times 5

The link is left up at the end, even on Ctrl-C.
"""

from __future__ import annotations

from chaos.manual import main_flap

if __name__ == "__main__":
    raise SystemExit(main_flap())
