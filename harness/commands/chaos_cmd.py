"""`harness chaos <fault> <target> [--for D] [--param K=V]`, `harness chaos heal`, `harness faults`.

Exit codes: 0 done; 2 an unknown fault, target or parameter (the message names it and lists the
valid ones), checked before the stack is touched; 3 the stack is not running or the fault could
not be applied. Without ``--for`` a fault stays until `harness chaos heal`; with it the fault is
undone after that long, and also on Ctrl-C or SIGTERM (then exit 130 or 143).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tomllib
from typing import Any

from chaos.context import ChaosContext
from chaos.errors import InvalidParams
from chaos.faults import FAULTS, AnyFault, fault_class
from chaos.schedules import SCHEDULES
from harness import interrupt
from harness.errors import EXIT_OK, UsageError
from harness.stack import Stack, StackState
from harness.stack.heal import heal_all


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as a TOML value (``300``, ``true``, ``"x"``) or a bare word."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InvalidParams(f"--param {text!r}: expected KEY=VALUE, e.g. latency_ms=300")
    try:
        value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def _build(args: argparse.Namespace) -> AnyFault:
    cls = fault_class(args.fault)
    if not args.target:
        raise UsageError(
            f"`harness chaos {args.fault}` needs a target; valid: {', '.join(cls.valid_targets())}"
        )
    params = dict(parse_param(p) for p in (getattr(args, "param", None) or ()))
    return cls(args.target, params)


async def _inject(
    state: StackState, fault: AnyFault, for_s: float | None, seed: int | None
) -> None:
    async with ChaosContext(state, seed=seed) as ctx:
        await fault.start(ctx)
        observed = {k: v for k, v in fault.observed().items() if v is not None}
        extra = f" {observed}" if observed else ""
        if for_s is None:
            print(f"{fault.kind} on {fault.target}: applied{extra}; it stays until "
                  "`harness chaos heal`")
            return
        print(f"{fault.kind} on {fault.target}: applied{extra} for {for_s:g}s", flush=True)
        try:
            await asyncio.sleep(for_s)
        finally:
            await asyncio.shield(fault.stop(ctx))
            print(f"{fault.kind} on {fault.target}: removed", flush=True)


async def _heal(state: StackState) -> None:
    report = await heal_all(state)
    print(f"healed: {report.summary()}")


def chaos(args: argparse.Namespace) -> int:
    stack = Stack(args.state_dir)
    if args.fault == "heal":
        if args.target:
            raise UsageError("`harness chaos heal` takes no target")
        interrupt.run(_heal(stack.require_state()))
        return EXIT_OK
    fault = _build(args)  # exit 2 before touching anything
    interrupt.run(_inject(stack.require_state(), fault, args.for_s, getattr(args, "seed", None)))
    return EXIT_OK


def faults(args: argparse.Namespace) -> int:
    width = max(map(len, SCHEDULES))
    for name, spec in SCHEDULES.items():
        print(f"{name:<{width}}  {spec.doc}")
    print("\nfault kinds for `harness chaos <fault> <target> [--for 10s] [--param KEY=VALUE]`:",
          file=sys.stdout)
    kind_width = max(map(len, FAULTS))
    for kind, cls in FAULTS.items():
        print(f"  {kind:<{kind_width}}  {cls.doc}")
        print(f"  {'':<{kind_width}}  targets: {', '.join(cls.valid_targets())}")
    return EXIT_OK
