"""``python -m target_service.provider``: run the mock payment provider."""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp import web

from target_service.provider.app import ProviderSettings, create_app


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s provider %(levelname)s %(message)s")
    try:
        settings = ProviderSettings.from_env()
    except ValueError as exc:
        print(f"provider: refusing to start: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    web.run_app(create_app(settings), host=settings.host, port=settings.port,
                access_log=None, print=None, loop=loop_factory() if loop_factory else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
