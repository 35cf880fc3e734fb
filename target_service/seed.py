"""Seed data and :func:`reset_data`, which the harness calls between runs.

The default event ``evt_default`` has 600 seats in rows A..O: rows A-B (20 seats each) are the
hot, expensive ``FRONT`` section, C-J (40 each) ``MIDDLE``, K-O (48 each) ``BACK``. Sized to
outlast a 30-second run of the default load, so a fault window meets purchases, not a sold-out
event with nothing left for a fault to break (figures in docs/measurements.md). ``evt_small``
(20 seats, one row) is handy for contention tests.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from target_service.migrate import migrate
from target_service.twopc_log import GID_PREFIX, quote_gid


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """Consecutive rows of one section: ``rows`` letters, ``seats_per_row`` seats, one price."""

    name: str
    rows: str
    seats_per_row: int
    price_cents: int


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event and its seat map."""

    event_id: str
    name: str
    sections: tuple[SectionSpec, ...]
    days_ahead: int = 30

    @property
    def capacity(self) -> int:
        return sum(len(s.rows) * s.seats_per_row for s in self.sections)

    def seats(self) -> list[tuple[str, str, str, int, int]]:
        """(seat_id, section, row, number, price) for every seat."""
        out = []
        for sec in self.sections:
            for row in sec.rows:
                for n in range(1, sec.seats_per_row + 1):
                    out.append((f"{row}-{n:02d}", sec.name, row, n, sec.price_cents))
        return out


DEFAULT_EVENTS: tuple[EventSpec, ...] = (
    EventSpec("evt_default", "Main Hall: Opening Night", (
        SectionSpec("FRONT", "AB", 20, 15000),
        SectionSpec("MIDDLE", "CDEFGHIJ", 40, 8000),
        SectionSpec("BACK", "KLMNO", 48, 4500),
    )),
    EventSpec("evt_small", "Studio: Late Show", (SectionSpec("FLOOR", "A", 20, 2500),)),
)

#: Seeded only when a run's buyers ask for them (``[workload] event_id``): ``evt_arena``
#: (15,640 seats: a hot FRONT of 40, then 24 rows of 650), the soak's event: big enough that a
#: 30-minute soak keeps selling instead of only meeting conflicts (docs/measurements.md).
EXTRA_EVENTS: dict[str, EventSpec] = {
    "evt_arena": EventSpec("evt_arena", "Arena: Season Run", (
        SectionSpec("FRONT", "AB", 20, 15000),
        SectionSpec("STANDS", string.ascii_uppercase[2:], 650, 6000),
    )),
}


def events_for(event_id: str) -> tuple[EventSpec, ...]:
    """The events to seed for buyers of ``event_id``: the defaults, plus it if it is extra."""
    extra = EXTRA_EVENTS.get(event_id)
    return DEFAULT_EVENTS + ((extra,) if extra is not None else ())

_SEATS_TABLES = ("tickets", "order_seats", "saga_log", "sagas", "twopc_decisions",
                 "twopc_applied", "idempotency_keys", "orders", "customers", "seats", "events",
                 "failpoints", "coverage")
_PAYMENTS_TABLES = ("payments", "provider_idempotency", "twopc_applied")


def letters(n: int) -> str:
    """The first ``n`` upper-case row letters (helper for custom seat maps)."""
    return string.ascii_uppercase[:n]


#: Attempts of the wipe: a running service's statement can deadlock with the many-table
#: ``TRUNCATE`` (Postgres then aborts one side, often the wipe), and a transaction it prepares
#: meanwhile holds its locks until rolled back; each attempt rolls back ours and truncates.
WIPE_ATTEMPTS = 5
#: How long one attempt waits for a table lock before it starts over.
WIPE_LOCK_TIMEOUT = "10s"


async def _wipe(conn: Any, tables: Sequence[str]) -> None:
    """Truncate ``tables`` (one statement), starting over on a deadlock or a lock timeout."""
    await conn.execute(f"SET lock_timeout = '{WIPE_LOCK_TIMEOUT}'")
    for attempt in range(1, WIPE_ATTEMPTS + 1):
        await _rollback_prepared(conn)
        try:
            await conn.execute(f"TRUNCATE {', '.join(tables)}")
            return
        except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
            if attempt == WIPE_ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * attempt)


async def _rollback_prepared(conn: Any) -> int:
    rows = await conn.fetch(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()"
        " AND gid LIKE $1", GID_PREFIX + "%")
    for r in rows:
        await conn.execute(f"ROLLBACK PREPARED {quote_gid(r['gid'])}")
    return len(rows)


async def seed_events(conn: Any, events: Sequence[EventSpec]) -> None:
    """Insert ``events`` and their seats (all ``AVAILABLE``)."""
    now = datetime.now(UTC)
    for ev in events:
        await conn.execute(
            "INSERT INTO events (event_id, name, starts_at, capacity) VALUES ($1, $2, $3, $4)",
            ev.event_id, ev.name, now + timedelta(days=ev.days_ahead), ev.capacity)
        await conn.copy_records_to_table(
            "seats", records=[(ev.event_id, *s) for s in ev.seats()],
            columns=["event_id", "seat_id", "section", "row_label", "seat_number", "price_cents"])


async def reset_data(seats_dsn: str, payments_dsn: str, *,
                     event_seed: Sequence[EventSpec] = DEFAULT_EVENTS,
                     redis_url: str | None = None) -> None:
    """Wipe all run data in both databases and re-create the seed events.

    Applies migrations first (so it works on empty databases), rolls back our in-doubt prepared
    transactions (their locks would block the wipe), truncates every run table (customers,
    orders, tickets, idempotency records, logs, the provider ledger, armed failpoints, coverage
    counts) and
    inserts ``event_seed``, then analyzes what it inserted (so the services plan their seat
    lookups from its statistics, not from the previous seed's). With ``redis_url``,
    also deletes the seat lock/lease keys (fence counters are kept: they must stay monotonic).
    Safe to call while services run (a wipe that deadlocks with one of their statements starts
    over), but requests in flight during the reset may fail.
    """
    await migrate(seats_dsn, "seats")
    await migrate(payments_dsn, "payments")
    # Seats first: every piece of work of the previous run (a sweeper's expiry, a request
    # still held at a failpoint) starts from, or votes in, the seats database, so once its
    # orders are gone such work vetoes instead of landing in the fresh payments database
    # (wiped payments first, a 2PC expiry in flight committed its payments marker for an
    # order the seats wipe then removed: a leftover the next run reported as in doubt).
    for dsn, tables in ((seats_dsn, _SEATS_TABLES), (payments_dsn, _PAYMENTS_TABLES)):
        conn: Any = await asyncpg.connect(dsn, timeout=10)
        try:
            await _wipe(conn, tables)
            if dsn == seats_dsn:
                async with conn.transaction():
                    await seed_events(conn, event_seed)
                # Statistics of these seats: the wipe keeps the previous seed's, in which a new
                # big event is a rare value, and the planner then finds a seat by scanning the
                # whole event until autovacuum happens to analyze the table (what that costs:
                # docs/measurements.md). Also replaces plans cached from the stale statistics.
                await conn.execute("ANALYZE events, seats")
        finally:
            await conn.close()
    if redis_url:
        import redis.asyncio as aioredis

        client: Any = aioredis.from_url(redis_url, socket_timeout=5)
        try:
            for pattern in ("lock:seat:*", "lease:seat:*"):
                async for key in client.scan_iter(match=pattern, count=500):
                    await client.delete(key)
        finally:
            await client.aclose()


async def seed_missing_events(seats_dsn: str, events: Sequence[EventSpec]) -> list[str]:
    """Insert those of ``events`` that do not exist yet (nothing else is touched); their ids.

    For a live session on a used stack (`harness ui`): its buyers need their event, and the
    orders of earlier runs stay as they are.
    """
    await migrate(seats_dsn, "seats")
    conn: Any = await asyncpg.connect(seats_dsn, timeout=10)
    try:
        present = {r["event_id"] for r in await conn.fetch(
            "SELECT event_id FROM events WHERE event_id = ANY($1::text[])",
            [e.event_id for e in events])}
        missing = [e for e in events if e.event_id not in present]
        if missing:
            try:
                async with conn.transaction():
                    await seed_events(conn, missing)
            except asyncpg.UniqueViolationError:
                return []  # another session seeded them meanwhile
            await conn.execute("ANALYZE events, seats")
    finally:
        await conn.close()
    return [e.event_id for e in missing]
