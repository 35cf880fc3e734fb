"""Ctrl-C and SIGTERM end a harness command the same way: the load stops, every fault is healed.

``asyncio.run`` alone turns Ctrl-C into a cancellation of the main task, so a run's ``finally``
blocks (stop Locust, stop every fault, heal the stack) run before the process exits; SIGTERM
(what ``kill``, ``timeout``, systemd and CI runners send) killed the process at once and left
the faults applied. Here both signals take one path:

* :func:`install` (called by ``harness``'s ``main`` and by :func:`run`) routes SIGTERM, and
  SIGINT while Python's default handler holds it, to one handler. A signal the process was
  started with ignored stays ignored (a shell starts background jobs with SIGINT ignored).
* :func:`run` is ``asyncio.run`` for the entry points: it registers the main task. The first
  signal cancels that task (its ``finally`` blocks heal), and :func:`run` then raises
  :class:`Interrupted`, also when the coroutine finished anyway. Outside :func:`run` (plain
  code between two runs) the first signal raises :class:`Interrupted` at once, as Ctrl-C
  raises KeyboardInterrupt.
* A later signal while the main task is stopping is reported on stderr and otherwise ignored:
  it never interrupts the healing, which is bounded (Locust's stop, the fault runner's
  ``HEAL_TIMEOUT_S``). SIGKILL still ends the process at once; `harness chaos heal` repairs
  what it leaves (and Locust dies with its parent).
* :class:`Interrupted` is a KeyboardInterrupt whose ``exit_code`` is 128 + the signal number
  (the shells' convention): 130 for SIGINT, 143 for SIGTERM.
* :func:`redirected` lets a command end its own way instead: within it, a signal calls the
  given callback in the running loop (`harness ui` stops Locust, then heals and reports its
  verdict).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal (after its cleanup ran)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the signal number: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


@dataclass(frozen=True, slots=True)
class _Main:
    loop: asyncio.AbstractEventLoop
    task: asyncio.Task[Any]


def _say(message: str) -> None:
    """One line on stderr, written at once (safe in a signal handler, unlike print)."""
    with contextlib.suppress(OSError):
        os.write(sys.stderr.fileno(), f"harness: {message}\n".encode())


class _Router:
    """The one handler of SIGINT and SIGTERM (see the module doc)."""

    def __init__(self) -> None:
        #: the first signal that asked the command to stop
        self.received: int | None = None
        self.main: _Main | None = None
        self.redirect: tuple[asyncio.AbstractEventLoop, Callable[[], None]] | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.redirect is not None:
            loop, callback = self.redirect
            loop.call_soon_threadsafe(callback)
            return
        first = self.received is None
        if self.received is None:
            self.received = signum
        main = self.main
        if main is None:  # plain code: nothing runs that a cancellation would clean up
            raise Interrupted(self.received)
        name = signal.Signals(signum).name
        if not first:
            _say(f"{name}: still stopping (every fault is being healed; that is bounded and "
                 "not interrupted); SIGKILL ends at once and leaves the faults to "
                 "`harness chaos heal`")
            return
        _say(f"{name}: stopping: the load stops and every fault is healed before the exit "
             "(a second signal does not interrupt that)")
        if not main.task.done():
            main.loop.call_soon_threadsafe(main.task.cancel)


_ROUTER = _Router()


def install() -> None:
    """Route SIGTERM and SIGINT to the handler, each only while it has its default handler
    (idempotent; does nothing outside the main thread, where signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _ROUTER)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _ROUTER)


async def _registered(main: Coroutine[Any, Any, T]) -> T:
    task = asyncio.current_task()
    assert task is not None
    _ROUTER.main = _Main(asyncio.get_running_loop(), task)
    return await main


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, ended by SIGINT or SIGTERM as the module doc says (then
    :class:`Interrupted` once ``main``'s cleanup is done)."""
    install()
    try:
        result = asyncio.run(_registered(main))
    except asyncio.CancelledError:
        if _ROUTER.received is None:
            raise
        raise Interrupted(_ROUTER.received) from None
    finally:
        _ROUTER.main = None
    if _ROUTER.received is not None:
        raise Interrupted(_ROUTER.received)
    return result


@contextlib.contextmanager
def redirected(callback: Callable[[], None]) -> Iterator[None]:
    """Within the block (in a running loop), SIGINT and SIGTERM call ``callback`` soon in that
    loop, each time, and do not stop the command: it ends its own way."""
    install()
    previous = _ROUTER.redirect
    _ROUTER.redirect = (asyncio.get_running_loop(), callback)
    try:
        yield
    finally:
        _ROUTER.redirect = previous
