"""Arm and disarm the service's named failpoints (target_service/failpoints.py).

Arming goes through the service's admin endpoint (``POST /admin/failpoints`` with the stack's
admin token, on the service's direct port, so a faulted ``target_api`` proxy cannot block it),
falling back to the shared table when no process answers. Every admin request carries a
``not_after`` as old as the attempt's timeout: a request that the kernel queued on a paused
process and that is served after the caller gave up (maybe after a heal) changes nothing.
Disarming everything reads and clears the shared ``failpoints`` table in the seats database
directly, so it works while no service process is up (after a killed harness, before ``up``);
every service process re-reads that table within ``FAILPOINT_POLL_S``.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from harness.stack.state import StackState

ADMIN_PATH = "/admin/failpoints"
ADMIN_TIMEOUT_S = 2.0
ADMIN_ATTEMPTS = 3


#: The service's default FAILPOINT_POLL_S (target_service.config).
DEFAULT_POLL_S = 0.25


def poll_interval_s(state: StackState) -> float:
    """How often the service processes re-read the shared failpoint table."""
    try:
        return float(state.services.extra_env.get("FAILPOINT_POLL_S", DEFAULT_POLL_S))
    except ValueError:
        return DEFAULT_POLL_S


class FailpointError(Exception):
    """The admin endpoint refused or could not be reached (translated by the crash fault)."""


def known_failpoints() -> dict[str, str]:
    """Failpoint name -> what it does, as the service defines them."""
    from target_service.failpoints import FAILPOINTS

    return dict(FAILPOINTS)


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
        await _sql(
            state,
            "INSERT INTO failpoints (name, remaining, action, seconds, instance)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET"
            " remaining = EXCLUDED.remaining, action = EXCLUDED.action,"
            " seconds = EXCLUDED.seconds, instance = EXCLUDED.instance, armed_at = now()",
            name, remaining, action, seconds, instance,
        )


async def arm_in_table(state: StackState, name: str, remaining: int | None) -> None:
    """Arm ``name`` in the shared table only: every service process fires it from its next poll
    (``FAILPOINT_POLL_S``) on, and no call waits on a paused process that the kernel picked."""
    await _sql(
        state,
        "INSERT INTO failpoints (name, remaining) VALUES ($1, $2) ON CONFLICT (name)"
        " DO UPDATE SET remaining = EXCLUDED.remaining, armed_at = now()",
        name, remaining,
    )


async def _sql(state: StackState, sql: str, *args: object) -> None:
    """One statement on the seats database (direct DSN); FailpointError when it fails."""
    try:
        conn = await asyncpg.connect(state.dsn("seats"), timeout=5)
        try:
            await conn.execute(sql, *args, timeout=5)
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise FailpointError(f"{sql.split()[0]} on {state.dsn('seats')} failed: {exc!r}") from exc


async def disarm(state: StackState, name: str) -> None:
    """Disarm ``name`` through the admin endpoint, else directly in the shared table."""
    try:
        await _admin(state, {"disarm": [name]})
    except FailpointError:
        await _sql(state, "DELETE FROM failpoints WHERE name = $1", name)


async def disarm_all(state: StackState) -> list[str]:
    """Clear the shared failpoint table; returns the names that were armed. Safe before the
    schema exists (returns [])."""
    conn = await asyncpg.connect(state.dsn("seats"), timeout=5)
    try:
        rows = await conn.fetch("DELETE FROM failpoints RETURNING name", timeout=5)
    except asyncpg.UndefinedTableError:
        return []
    finally:
        await conn.close()
    return sorted(str(r["name"]) for r in rows)


async def armed(state: StackState) -> dict[str, int | None]:
    """The shared failpoint table: name -> remaining firings (None = unlimited)."""
    conn = await asyncpg.connect(state.dsn("seats"), timeout=5)
    try:
        rows = await conn.fetch("SELECT name, remaining FROM failpoints", timeout=5)
    except asyncpg.UndefinedTableError:
        return {}
    finally:
        await conn.close()
    return {str(r["name"]): r["remaining"] for r in rows}
