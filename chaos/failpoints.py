"""Arm and disarm the service's named failpoints (target_service/failpoints.py).

Everything goes through the service's introspection door (``target_service/introspection.py``):
one autocommitted statement on the shared ``failpoints`` table, on Postgres's direct port, which
every service process polls (each sees a change within its failpoint poll interval). Never
through the admin endpoint: a service process may be paused (or pause itself at a failpoint)
in the middle of an admin request's transaction, and its row locks then block every other
writer of that failpoint until it runs again (seen under the dense ``mixed``: a window's
arming waited 19 s and its faults overlapped the next window's). So these calls work while a
process is paused, and while no service process is up (after a killed harness, before ``up``).
A door call that fails (a busy machine can time one out) is tried again, a few times: arming
and disarming are idempotent, and a failed disarm fails a heal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
import redis.exceptions

from harness.stack.state import StackState
from target_service import introspection

#: a door call is tried this many times, this far apart, before it fails
DOOR_ATTEMPTS = 3
DOOR_RETRY_S = 1.0

T = TypeVar("T")


def poll_interval_s(state: StackState) -> float:
    """How often the service processes re-read the shared failpoint table."""
    return state.clocks().failpoint_poll_s


class FailpointError(Exception):
    """The service's stores could not be reached (translated by the faults that arm)."""


def known_failpoints() -> dict[str, str]:
    """Failpoint name -> what it does, as the service defines them."""
    return introspection.known_failpoints()


async def _door(call: Callable[[], Coroutine[Any, Any, T]], state: StackState) -> T:
    """Await a door call, again after a failure (DOOR_ATTEMPTS in all); FailpointError when
    the service's stores stay unreachable."""
    for attempt in range(1, DOOR_ATTEMPTS + 1):
        try:
            return await call()
        except (OSError, asyncpg.PostgresError, TimeoutError,
                redis.exceptions.RedisError) as exc:
            if attempt == DOOR_ATTEMPTS:
                raise FailpointError(
                    f"failpoint table of {state.dsn('seats')}: {exc!r}") from exc
            await asyncio.sleep(DOOR_RETRY_S)
    raise AssertionError("unreachable")


async def arm(state: StackState, name: str, *, remaining: int | None) -> None:
    """Arm ``name`` in every service process (``remaining`` firings in all; None = every hit),
    from each process's next poll on."""
    await _door(lambda: introspection.arm_failpoint(state.stores(), name, remaining), state)


async def arm_action(state: StackState, name: str, *, remaining: int | None, action: str,
                     seconds: float | None, instance: str | None,
                     chance: float | None = None) -> None:
    """Arm ``name`` with an ``action`` chosen now (``crash``, ``delay`` or ``pause`` for
    ``seconds``) for one service ``instance`` (None: every process), each hit firing with
    probability ``chance`` (None: every hit, until ``remaining`` are spent)."""
    await _door(lambda: introspection.arm_failpoint(
        state.stores(), name, remaining, action=action, seconds=seconds, instance=instance,
        chance=chance), state)


async def disarm(state: StackState, name: str) -> None:
    """Disarm ``name``. On return no firing can be taken any more; a self-stop taken before
    acts within the service's ``self_stop_window_s``."""
    await _door(lambda: introspection.disarm_failpoint(state.stores(), name), state)


async def armed(state: StackState) -> dict[str, int | None]:
    """The shared failpoint table: name -> remaining firings (None = unlimited)."""
    return await introspection.armed_failpoints(state.stores())
