"""One read session over both databases, shared by the checkers of one :func:`check_all`.

Cross-database checks join a narrow slice of the ``payments`` database with the ``seats``
database *inside Postgres*: :meth:`Session.mirror` streams the slice with binary ``COPY`` into a
session-local temporary table of the seats connection (no row is decoded in Python), and the
checker then joins it with set-based SQL. Work that several checkers need (a big aggregate, the
client history's operations) is made once per session, on first use, by :meth:`Session.scratch`
and :meth:`Session.remember`, so a checker run alone makes it itself. Temporary tables vanish
with the connection; the service's own tables are only read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, TypeVar

import asyncpg

APPLICATION_NAME = "harness-checkers"

#: Checks are a few big set-based queries: JIT compilation costs more than it saves on them
#: (seconds on a million orders), and hash joins / aggregates should stay in memory, as should
#: the session's temporary tables (``temp_buffers``, allocated only as they fill).
SESSION_SETTINGS = {"application_name": APPLICATION_NAME, "jit": "off", "work_mem": "128MB",
                    "temp_buffers": "256MB", "max_parallel_workers_per_gather": "0"}

T = TypeVar("T")


async def _connect(dsn: str, timeout_s: float) -> Any:
    return await asyncpg.connect(
        dsn,
        timeout=min(timeout_s, 30.0),
        command_timeout=timeout_s,
        server_settings=SESSION_SETTINGS,
    )


class Session:
    """A connection to each database plus the mirrored tables made so far."""

    def __init__(self, seats_dsn: str, payments_dsn: str, *, timeout_s: float = 300.0) -> None:
        self.seats_dsn = seats_dsn
        self.payments_dsn = payments_dsn
        self.timeout_s = timeout_s
        self._seats: Any = None
        self._payments: Any = None
        self._mirrors: dict[str, str] = {}
        self._mirror_lock = asyncio.Lock()
        self._memo: dict[Hashable, tuple[object, Any]] = {}
        self._memo_lock = asyncio.Lock()

    @property
    def seats(self) -> Any:
        """The connection to the ``seats`` database (the service's)."""
        if self._seats is None:
            raise RuntimeError("session not open")
        return self._seats

    @property
    def payments(self) -> Any:
        """The connection to the ``payments`` database (the provider's ledger)."""
        if self._payments is None:
            raise RuntimeError("session not open")
        return self._payments

    async def open(self) -> None:
        self._seats = await _connect(self.seats_dsn, self.timeout_s)
        try:
            self._payments = await _connect(self.payments_dsn, self.timeout_s)
        except BaseException:
            await self._seats.close()
            self._seats = None
            raise

    async def close(self) -> None:
        for conn in (self._seats, self._payments):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)
        self._seats = self._payments = None
        self._mirrors.clear()
        self._memo.clear()

    async def __aenter__(self) -> Session:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def healthy(self) -> bool:
        """Both connections open and idle (no transaction left behind by a crashed checker)."""
        return all(
            conn is not None and not conn.is_closed() and not conn.is_in_transaction()
            for conn in (self._seats, self._payments)
        )

    async def reopen(self) -> None:
        """Fresh connections (and no mirrors or remembered values) after a checker broke the
        old ones."""
        await self.close()
        await self.open()

    async def _temp_table(self, name: str,
                          fill: Callable[[str], Awaitable[None]]) -> str:
        """Temp table ``chk_<name>`` of the seats db, made once per session by ``await
        fill(table)`` (which creates and fills it); a failed fill leaves no table behind."""
        table = f"chk_{name}"
        async with self._mirror_lock:
            if name in self._mirrors:
                return self._mirrors[name]
            await self.seats.execute(f"DROP TABLE IF EXISTS {table}")
            try:
                await fill(table)
            except BaseException:
                with contextlib.suppress(Exception):
                    await self.seats.execute(f"DROP TABLE IF EXISTS {table}")
                raise
            self._mirrors[name] = table
            return table

    async def mirror(self, name: str, query: str, columns: str, *args: Any) -> str:
        """Copy ``query``'s rows from the payments db into temp table ``chk_<name>`` of seats.

        ``columns`` is the temp table's column list, e.g. ``"payment_id text, order_id uuid"``,
        matching the query's output types exactly (binary COPY). Made once per session; returns
        the table name.
        """
        async def fill(table: str) -> None:
            await self.seats.execute(f"CREATE TEMP TABLE {table} ({columns})")
            await _pipe(self.payments, query, args, self.seats, table)
            await self.seats.execute(f"ANALYZE {table}")

        return await self._temp_table(name, fill)

    async def scratch(self, name: str, query: str, key: str) -> str:
        """Temp table ``chk_<name>`` of the seats db holding ``query``'s rows (a seats query,
        without parameters: the table serves every checker of the session alike).

        Made once per session, on first use, with statistics on its ``key`` column (what the
        checkers join it on; the rest is only read); returns the table name. Every caller of
        one ``name`` must pass the same ``query``.
        """
        async def fill(table: str) -> None:
            await self.seats.execute(f"CREATE TEMP TABLE {table} AS {query}")
            await self.seats.execute(f"ANALYZE {table} ({key})")

        return await self._temp_table(name, fill)

    async def remember(self, key: Hashable, source: object,
                       make: Callable[[], Awaitable[T]]) -> T:
        """``await make()``, made once per session for ``key`` while ``source`` (the object it
        is derived from, compared by identity) stays the same; concurrent callers share it."""
        async with self._memo_lock:
            hit = self._memo.get(key)
            if hit is not None and hit[0] is source:
                result: T = hit[1]
                return result
            value = await make()
            self._memo[key] = (source, value)
            return value


async def _pipe(source: Any, query: str, args: tuple[Any, ...], dest: Any, table: str) -> None:
    """Stream ``COPY (query) TO STDOUT`` of ``source`` into ``COPY table FROM STDIN``."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)

    async def produce() -> None:
        async def sink(chunk: bytes) -> None:
            await queue.put(bytes(chunk))

        try:
            await source.copy_from_query(query, *args, output=sink, format="binary")
        finally:
            await queue.put(None)

    async def chunks() -> AsyncIterator[bytes]:
        while (chunk := await queue.get()) is not None:
            yield chunk

    async with asyncio.TaskGroup() as group:
        group.create_task(produce())
        group.create_task(dest.copy_to_table(table, source=chunks(), format="binary"))
