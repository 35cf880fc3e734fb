"""Postgres pools and the error classification every strategy shares.

``DB_ERRORS`` are the exceptions that mean "the database could not be reached or answered in
time": the caller does not know whether a commit happened, so it answers 503 and leaves the
outcome to recovery.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

#: exceptions meaning "database unreachable / timed out / connection lost"
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InternalClientError,
)

#: exceptions meaning "a row lock was not granted in time" (another writer holds the seat)
LOCK_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)


async def _keep_session(conn: Any) -> None:
    """Pool release hook: nothing beyond asyncpg's own client-side reset.

    asyncpg always rolls back a transaction left open and drops listeners before it calls this
    hook; its default hook would then send ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` (one more round trip per release). Pooled connections never take session
    advisory locks, open cursors outside a transaction, LISTEN or ``SET`` session settings
    (their settings are the connect-time ``server_settings``), so there is nothing to undo.
    """


async def create_pool(dsn: str, *, max_size: int, timeout_s: float,
                      lock_timeout_ms: int = 2000, min_size: int = 1) -> Any:
    """A pool whose connections time out statements and row-lock waits.

    Releasing a connection costs no round trip (see :func:`_keep_session`): code that uses a
    pooled connection must not change session state (SET, advisory locks, LISTEN).
    """
    settings = {
        "statement_timeout": str(int(timeout_s * 1000)),
        "lock_timeout": str(lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(int(timeout_s * 4000)),
        "application_name": "target_service",
    }
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, timeout=timeout_s,
        command_timeout=timeout_s + 1, server_settings=settings,
        max_inactive_connection_lifetime=60, reset=_keep_session,
    )


async def connect(dsn: str, *, timeout_s: float, lock_timeout_ms: int = 2000) -> Any:
    """A single connection (used for 2PC participants, which must not return to a pool
    while a transaction is prepared-but-unknown)."""
    settings = {
        "statement_timeout": str(int(timeout_s * 1000)),
        "lock_timeout": str(lock_timeout_ms),
        "application_name": "target_service-2pc",
    }
    return await asyncpg.connect(dsn, timeout=timeout_s, command_timeout=timeout_s + 1,
                                 server_settings=settings)


async def ping(pool: Any, timeout_s: float = 2.0) -> bool:
    """True when ``SELECT 1`` answers within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await pool.fetchval("SELECT 1") == 1)
    except Exception:
        return False
