#!/usr/bin/env python3
"""Partition one link of the running stack for a while, using the PyPI ``toxiproxy-python`` client.

This shows that users' own scripts built on that (unmaintained, sync, global-config) client keep
working against the harness's Toxiproxy. The link is re-enabled in ``finally``, even on Ctrl-C.

    .venv/bin/python chaos/scripts/partition_with_toxiproxy_python.py redis --for 15
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

from toxiproxy import Toxiproxy


def toxiproxy_url(explicit: str | None) -> str:
    """``--toxiproxy``, else $TOXIPROXY_URL, else what `harness status --json` says."""
    if explicit or os.environ.get("TOXIPROXY_URL"):
        return str(explicit or os.environ["TOXIPROXY_URL"])
    out = subprocess.run(
        [sys.executable, "-m", "harness", "status", "--json"],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit("the stack is not running: start it with `harness up`")
    return str(json.loads(out.stdout)["toxiproxy"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proxy", help="proxy to partition (redis, payments_api, seats_pg, ...)")
    parser.add_argument("--for", dest="seconds", type=float, default=10.0, help="seconds")
    parser.add_argument("--toxiproxy", help="Toxiproxy API URL (default: from the stack)")
    args = parser.parse_args()

    url = urlsplit(toxiproxy_url(args.toxiproxy))
    server = Toxiproxy()
    server.update_api_consumer(url.hostname, url.port)
    proxy = server.get_proxy(args.proxy)
    if proxy is None:
        known = ", ".join(sorted(server.proxies()))
        print(f"no proxy named {args.proxy!r}; known: {known}", file=sys.stderr)
        return 2
    print(f"partitioning {args.proxy} for {args.seconds:g}s", flush=True)
    proxy.disable()
    try:
        time.sleep(args.seconds)
    finally:
        proxy.enable()
        print(f"{args.proxy} healed", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
