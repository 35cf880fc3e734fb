"""``python -m target_service``: one service process, sharing its port via SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web

from target_service import event_loop
from target_service.app import create_app
from target_service.config import ConfigError, Settings
from target_service.http_errors import ProblemAppRunner


async def _serve(settings: Settings) -> None:
    runner = ProblemAppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=True)
    await site.start()
    logging.getLogger("target_service").info(
        "instance %s serving on %s:%s (bug=%s, failpoints=%s)", settings.instance,
        settings.host, settings.port, settings.bug, sorted(settings.failpoints))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s target[%(process)d] %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"target_service: refusing to start: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(_serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
