"""Hand-run chaos for the stand-alone scripts in ``chaos/scripts/``: hold or flap one link.

Each helper finds the running stack (``--state-dir``, ``$HARNESS_STATE_DIR`` or ``.state``),
applies a fault through :mod:`chaos.faults` and undoes it in ``finally``, so Ctrl-C, SIGTERM
(:mod:`harness.interrupt`; exit 130 and 143) or an error never leaves the link broken. Loops are
bounded by the given count.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence

from chaos.context import ChaosContext
from chaos.faults import make
from harness import interrupt
from harness.errors import HarnessError
from harness.stack import Stack
from harness.topology import PROXY_NAMES


def _say(message: str) -> None:
    print(message, flush=True)


async def partition_for(ctx: ChaosContext, proxy: str, seconds: float) -> None:
    """Disable ``proxy`` for ``seconds``, then enable it (also on cancellation)."""
    fault = make("partition", proxy)
    _say(f"partitioning {proxy} for {seconds:g}s")
    await fault.start(ctx)
    try:
        await asyncio.sleep(seconds)
    finally:
        await asyncio.shield(fault.stop(ctx))
        _say(f"{proxy} healed")


async def flap(ctx: ChaosContext, proxy: str, *, down_s: float, up_s: float, times: int) -> None:
    """Take ``proxy`` down for ``down_s`` and up for ``up_s``, ``times`` times."""
    for i in range(times):
        _say(f"flap {i + 1}/{times}")
        await partition_for(ctx, proxy, down_s)
        if i + 1 < times:
            await asyncio.sleep(up_s)


def main_partition(proxy: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``partition_<link>.py``: ``[--for SECONDS] [--state-dir DIR]``."""
    parser = argparse.ArgumentParser(description=f"partition the {proxy} link for a while")
    parser.add_argument("--for", dest="seconds", type=float, default=10.0, help="seconds")
    parser.add_argument("--state-dir", help="the stack's state folder")
    args = parser.parse_args(argv)
    return _run(args.state_dir, lambda ctx: partition_for(ctx, proxy, args.seconds))


def main_flap(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``flap_link.py``: ``PROXY [--down S] [--up S] [--times N]``."""
    parser = argparse.ArgumentParser(description="take a link down and up repeatedly")
    parser.add_argument("proxy", choices=PROXY_NAMES)
    parser.add_argument("--down", type=float, default=2.0, help="seconds down each time")
    parser.add_argument("--up", type=float, default=2.0, help="seconds up between")
    parser.add_argument("--times", type=int, default=5, help="how many flaps (1-1000)")
    parser.add_argument("--state-dir", help="the stack's state folder")
    args = parser.parse_args(argv)
    if not 1 <= args.times <= 1000:
        parser.error("--times must be within 1..1000")
    return _run(args.state_dir, lambda ctx: flap(
        ctx, args.proxy, down_s=args.down, up_s=args.up, times=args.times))


def _run(state_dir: str | None, action: Callable[[ChaosContext], Awaitable[None]]) -> int:
    async def go() -> None:
        state = Stack(state_dir).require_state()
        async with ChaosContext(state) as ctx:
            await action(ctx)

    try:
        interrupt.run(go())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except interrupt.Interrupted as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0
