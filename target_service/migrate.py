"""Apply the SQL migrations in ``migrations/<db>/`` once, safely from many processes at once.

Every process calls :func:`migrate` at start-up; ``pg_advisory_lock`` serialises them, and
``schema_migrations`` records what was applied, so the second process finds nothing to do.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

import asyncpg

_LOCK_KEY = 0x7A8C_5E47  # arbitrary, fixed


def _scripts(db: str) -> list[tuple[int, str]]:
    folder = resources.files("target_service") / "migrations" / db
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(out)


async def migrate(dsn: str, db: str, *, timeout_s: float = 30.0) -> list[int]:
    """Apply pending migrations of ``db`` (``seats`` or ``payments``); returns versions applied."""
    conn: Any = await asyncpg.connect(dsn, timeout=timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {r["version"] for r in await conn.fetch(
                    "SELECT version FROM schema_migrations")}
                applied = []
                for version, sql in _scripts(db):
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version) VALUES ($1)", version)
                    applied.append(version)
                return applied
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
