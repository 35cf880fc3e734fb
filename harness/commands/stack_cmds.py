"""`harness up`, `harness down` and `harness status`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from harness import interrupt, live
from harness.errors import EXIT_OK, EXIT_STACK, UsageError
from harness.stack import ServiceSettings, Stack


def _progress(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def stack_from(args: argparse.Namespace) -> Stack:
    return Stack(args.state_dir, progress=_progress)


def up(args: argparse.Namespace) -> int:
    stack = stack_from(args)
    services = None
    if args.target_processes is not None or args.bug is not None:
        current = stack.state()
        base = current.services if current else ServiceSettings()
        services = dataclasses.replace(
            base,
            target_processes=args.target_processes or base.target_processes,
            bug=_known_bug(args.bug) if args.bug is not None else base.bug,
        )
    state = interrupt.run(stack.up(base_port=args.base_port, services=services))
    described = state.describe()
    for key in ("target", "toxiproxy", "seats_dsn", "payments_dsn", "redis_url"):
        print(f"{key:14} {described[key]}")
    return EXIT_OK


def _known_bug(name: str) -> str | None:
    if name in ("", "none"):
        return None
    from target_service.bugs import BUGS

    if name not in BUGS:
        raise UsageError(f"--bug: unknown bug {name!r}; known: {', '.join(sorted(BUGS))}")
    return name


def down(args: argparse.Namespace) -> int:
    stopped = interrupt.run(stack_from(args).down())
    print(f"stack stopped ({stopped} processes)")
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    stack = stack_from(args)
    info = stack.status()
    # what harness processes serve beside the stack now (additions to the contract's keys;
    # also while supervisord is briefly unreachable, e.g. as a run restarts the service)
    info["ui"] = live.first_url(stack.state_dir, live.UI)
    info["harness_metrics"] = live.first_url(stack.state_dir, live.METRICS)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    elif not info["running"]:
        print(f"the stack at {info['state_dir']} is not running (start it with `harness up`)")
    else:
        for key in ("target", "toxiproxy", "seats_dsn", "payments_dsn", "redis_url", "logs_dir"):
            print(f"{key:14} {info[key]}")
        print(f"{'bug':14} {info.get('bug') or 'none'}")
        for key in ("ui", "harness_metrics"):
            if info.get(key):
                print(f"{key:14} {info[key]}")
        for proc in info["processes"]:
            print(f"  {proc['name']:22} {proc['state']:9} pid {proc['pid']}")
    return EXIT_OK if info["running"] else EXIT_STACK
