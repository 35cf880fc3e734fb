"""Named failpoints: inert unless armed, then crash (``os._exit(137)``), stall or stop at a step.

Armed two ways: ``HARNESS_FAILPOINTS`` (this process, every hit) or ``POST /admin/failpoints``,
which writes the shared ``failpoints`` table that every process polls; a table entry may carry a
``remaining`` count, decremented atomically in Postgres on each hit, so "fire once" means once
across all processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

#: name -> what happens when it fires
FAILPOINTS: dict[str, str] = {
    "2pc-after-prepare": "crash after both participants prepared, before the decision is logged",
    "2pc-after-decision": "crash after the COMMIT decision is logged, before COMMIT PREPARED",
    "2pc-after-first-commit": "crash after the seats participant committed, before payments",
    "saga-after-reserve": "crash after the seats are held, before the payment is authorized",
    "saga-after-authorize": "crash after the payment is authorized, before the order is marked",
    "finalize-after-capture": "crash after the capture, before the order is marked SOLD",
    "lock-after-authorize": "crash holding the seat locks after the payment is authorized",
    "idempotency-after-effect": "crash after the effect committed, before the response is stored",
    "lock-stall-before-write": "stall (no lease renewal) 3 leases long before the fenced write",
    "lock-pause-before-write": "SIGSTOP this process before the fenced write (a real pause; the"
    " chaos layer's pause fault continues it)",
    "provider-after-authorize": "(provider) crash after the authorization is committed",
}

STALLS = frozenset({"lock-stall-before-write"})
#: Failpoints at which the process stops itself: the event loop freezes for real (no timers, no
#: lease renewal) until a SIGCONT, exactly as if it had been paused from outside at that step.
SELF_STOPS = frozenset({"lock-pause-before-write"})
#: A shared self-stop fires only on a firing just taken in Postgres, and only if taking it took
#: at most this long (asked to answered, read by this process). So every self-stop happens
#: within this window after its firing committed, and a firing committed before a disarm
#: cannot stop a process later: e.g. an answer read after this very process was frozen by
#: another request's self-stop and continued (it would freeze again with nobody to continue
#: it). Whoever disarms and continues watches this long for late self-stops, no longer.
SELF_STOP_WINDOW_S = 0.5
CRASH_EXIT_CODE = 137


def parse_failpoints(raw: str) -> frozenset[str]:
    """Comma-separated names -> set; unknown names raise ``ValueError``."""
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - FAILPOINTS.keys())
    if unknown:
        raise ValueError(
            f"unknown failpoints {unknown}; known: {', '.join(sorted(FAILPOINTS))}"
        )
    return names


def crash(name: str) -> None:
    """Die like SIGKILL would: no cleanup, no flushing of anything but stderr."""
    sys.stderr.write(f"failpoint {name}: os._exit({CRASH_EXIT_CODE})\n")
    sys.stderr.flush()
    os._exit(CRASH_EXIT_CODE)


class Failpoints:
    """The armed set of one process: static (env) plus shared (polled from the database)."""

    def __init__(self, static: frozenset[str]) -> None:
        self._static = static
        self._shared: dict[str, int | None] = {}
        self._consume: Callable[[str], Awaitable[bool]] | None = None

    def set_consumer(self, consume: Callable[[str], Awaitable[bool]]) -> None:
        """``consume(name)`` atomically takes one firing of a counted shared failpoint."""
        self._consume = consume

    def update_shared(self, armed: dict[str, int | None]) -> None:
        """Replace the shared set (from the ``failpoints`` table)."""
        self._shared = {k: v for k, v in armed.items() if k in FAILPOINTS}

    def armed(self) -> dict[str, int | None]:
        """Every armed name with its remaining count (None = unlimited)."""
        out: dict[str, int | None] = dict.fromkeys(self._static)
        out.update(self._shared)
        return out

    async def should_fire(self, name: str) -> bool:
        """Whether ``name`` fires now (taking one count of a counted shared failpoint; a
        shared self-stop always asks the table, whose row a disarm deletes)."""
        if name in self._static:
            return True
        if name not in self._shared:
            return False
        if self._shared[name] is None and name not in SELF_STOPS:
            return True
        if self._consume is None:
            return False
        try:
            return await self._consume(name)
        except Exception:  # a failpoint must never break the step it sits in
            log.exception("failpoint %s: could not consume a firing", name)
            return False

    async def hit(self, name: str, *, stall_s: float = 0.0) -> None:
        """Fire ``name`` if armed: crash, or (for stall failpoints) sleep ``stall_s``."""
        if name not in self._static and name not in self._shared:
            return
        asked = time.monotonic()
        if not await self.should_fire(name):
            return
        if name in SELF_STOPS and name not in self._static:
            late = time.monotonic() - asked
            if late > SELF_STOP_WINDOW_S:
                log.warning("failpoint %s: firing answered %.3f s after it was asked:"
                            " dropped", name, late)
                return
        if name in STALLS:
            log.warning("failpoint %s: stalling %.1fs", name, stall_s)
            await asyncio.sleep(stall_s)
            return
        if name in SELF_STOPS:
            log.warning("failpoint %s: SIGSTOP until continued", name)
            os.kill(os.getpid(), signal.SIGSTOP)
            return
        crash(name)
