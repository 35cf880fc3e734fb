"""Arm and disarm the service's named failpoints (target_service/failpoints.py).

Arming goes through the service's admin endpoint (``POST /admin/failpoints`` with the stack's
admin token, on the service's direct port, so a faulted ``target_api`` proxy cannot block it),
falling back to the service's introspection door (``target_service/introspection.py``) when
no process answers. Every admin request carries a ``not_after`` as old as the attempt's timeout:
a request that the kernel queued on a paused process and that is served after the caller gave
up (maybe after a heal) changes nothing. Listing and disarming everything go through the door,
so they work while no service process is up (after a killed harness, before ``up``); every
service process sees a change within its failpoint poll interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
import httpx
import redis.exceptions

from harness.stack.state import StackState
from target_service import introspection

ADMIN_PATH = "/admin/failpoints"
ADMIN_TIMEOUT_S = 2.0
ADMIN_ATTEMPTS = 3

T = TypeVar("T")


def poll_interval_s(state: StackState) -> float:
    """How often the service processes re-read the shared failpoint table."""
    return state.clocks().failpoint_poll_s


class FailpointError(Exception):
    """The admin endpoint refused or could not be reached (translated by the crash fault)."""


def known_failpoints() -> dict[str, str]:
    """Failpoint name -> what it does, as the service defines them."""
    return introspection.known_failpoints()


async def _admin(state: StackState, body: dict[str, object]) -> None:
    """POST to the admin endpoint; each attempt is a fresh connection, so one paused or dead
    service process (they share the port) costs one attempt, not the call. An attempt lasts at
    most ADMIN_TIMEOUT_S and its request is void after that (``not_after``)."""
    url = state.url("target") + ADMIN_PATH
    headers = {"X-Admin-Token": state.admin_token}
    last: Exception | str | None = None
    for _ in range(ADMIN_ATTEMPTS):
        attempt = {**body, "not_after": time.time() + ADMIN_TIMEOUT_S}
        try:
            async with asyncio.timeout(ADMIN_TIMEOUT_S), httpx.AsyncClient() as client:
                response = await client.post(url, json=attempt, headers=headers)
        except (httpx.HTTPError, TimeoutError) as exc:
            last = exc
            continue
        if response.status_code == 409 and '"REQUEST_EXPIRED"' in response.text:
            last = response.text.strip()  # served too late: void, like a timeout
            continue
        if response.status_code >= 300:
            raise FailpointError(f"POST {url} -> {response.status_code}: {response.text.strip()}")
        return
    raise FailpointError(f"POST {url} failed {ADMIN_ATTEMPTS} times: {last!r}")


async def arm(state: StackState, name: str, *, remaining: int | None) -> None:
    """Arm ``name`` in every service process (``remaining`` firings in all; None = every hit).

    Through the admin endpoint; if no service process answers it (e.g. the one the kernel picks
    is paused), the same row is written to the shared table directly, which every process polls.
    """
    try:
        await _admin(state, {"arm": {name: remaining}})
    except FailpointError:
        await arm_in_table(state, name, remaining)


async def arm_action(state: StackState, name: str, *, remaining: int | None, action: str,
                     seconds: float | None, instance: str | None) -> None:
    """Arm ``name`` with an ``action`` chosen now (``crash``, ``delay`` or ``pause`` for
    ``seconds``) for one service ``instance`` (None: every process); like :func:`arm`, falls
    back to the shared table when no process answers."""
    arming = {"remaining": remaining, "action": action, "seconds": seconds, "instance": instance}
    try:
        await _admin(state, {"arm": {name: arming}})
    except FailpointError:
        await _door(introspection.arm_failpoint(
            state.stores(), name, remaining, action=action, seconds=seconds,
            instance=instance), state)


async def arm_in_table(state: StackState, name: str, remaining: int | None) -> None:
    """Arm ``name`` through the door only: every service process fires it from its next poll
    on, and no call waits on a paused process that the kernel picked."""
    await _door(introspection.arm_failpoint(state.stores(), name, remaining), state)


async def _door(call: Coroutine[Any, Any, T], state: StackState) -> T:
    """Await a door call; FailpointError when the service's stores cannot be reached."""
    try:
        return await call
    except (OSError, asyncpg.PostgresError, TimeoutError,
            redis.exceptions.RedisError) as exc:
        raise FailpointError(f"failpoint table of {state.dsn('seats')}: {exc!r}") from exc


async def disarm(state: StackState, name: str) -> None:
    """Disarm ``name`` through the admin endpoint, else through the door."""
    try:
        await _admin(state, {"disarm": [name]})
    except FailpointError:
        await disarm_in_table(state, name)


#: a disarm (part of every heal) tries the door this many times, this far apart, before it
#: fails: one call can time out on a machine busy enough (seen under a dense ``mixed`` with
#: other stacks' tests beside it), and a failed heal ends the run
DISARM_ATTEMPTS = 3
DISARM_RETRY_S = 1.0


async def disarm_in_table(state: StackState, name: str) -> None:
    """Disarm ``name`` through the door (never waits on a paused process). On return no
    firing can be taken any more; a self-stop taken before acts within the service's
    ``self_stop_window_s``."""
    for attempt in range(1, DISARM_ATTEMPTS + 1):
        try:
            await _door(introspection.disarm_failpoint(state.stores(), name), state)
            return
        except FailpointError:
            if attempt == DISARM_ATTEMPTS:
                raise
            await asyncio.sleep(DISARM_RETRY_S)


async def armed(state: StackState) -> dict[str, int | None]:
    """The shared failpoint table: name -> remaining firings (None = unlimited)."""
    return await introspection.armed_failpoints(state.stores())
