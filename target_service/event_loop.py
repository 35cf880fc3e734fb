"""Run a coroutine on uvloop when it is installed (faster HTTP and Postgres I/O), else asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``uvloop.run(coro)`` if uvloop is installed, else ``asyncio.run(coro)``."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
