"""``pause``: SIGSTOP one app process, SIGCONT it on stop.

Aimed at the lock strategy: a process paused while it holds seat locks for longer than the lock
lease loses them without knowing; when it continues, only fencing stops its stale write. With
``holding_locks`` (the default) the pause waits, boundedly, until seat locks are held in Redis.
Lock owner values start with the holder's instance (``i<TARGET_INSTANCE>:``, see
``target_service/redis_lock.py``), so for the target ``target`` the fault freezes a process that
holds a lock right now (the one holding most, ties by name), and falls back to the seeded pick
when no running process does (``picked``: ``lock-holder`` or ``seeded``). With ``at`` (a
self-stop failpoint of the service, e.g. ``lock-pause-before-write``) the pause is aimed at the
critical step: the first process to reach it SIGSTOPs itself there (``picked``: ``failpoint``)
and stop continues it; when none does within ``lock_wait_s``, the pause falls back to the above.
With ``relay`` (and ``at``) the pause is aimed at a holder whose seats rivals want and goes on
from the frozen holder A to the buyers after it, the sequence that shows an unsafe lock release
(the failpoint stays armed from the pick of A on, counted in the shared table; a process that
stops itself at the step but is not the one wanted is continued at once). A: the first process
to stop itself whose confirm at the step (past its seat check, authorized: :func:`at_step`)
holds still-free seats with rival orders on them (:data:`DEMAND_WINDOW_S`; the need drops with
time, :func:`pick_need`), so successors come soon. Once A's leases ran out, a process that
stopped itself holding a taken-over seat of A's whose take-over is claimed in Postgres, its
payment not declined (B: it will write, A is fenced out) stays frozen (looked for at most
:data:`SUCCESSOR_WAIT_LEASES` leases from A's stop); A is continued (fenced out, it releases).
When instead a rival sells with no claim (no fencing) a seat of A's where a confirm of A's
process past its check (its payment not declined) is to write, A is continued at once: its write
lands on the sold seat. Then a process that stopped itself holding the lock of any of B's seats
under a third owner after checking it free, its payment not declined (C), stays frozen, looked
for at most 1.5 leases (B's buyer still hears its answer) and until one of B's seats that were
not A's is locked by another owner (B is fenced out, bug or not); once B's leases on them may
have run out (:func:`frozen_until`) only a C that took the lock with no claim counts. The
failpoint is disarmed, B is continued and, once B's order is SOLD or finished (bounded: two
leases, and C's leases on seats not B's), C: with an unsafe release C's write lands on a seat B
sold (B's ticket, C's hold), a double sale no recovery undoes; with a safe one C took B's seat
over with a claim and B was fenced out. A round that can no longer show a bug (no successor, no
third buyer, B's order not SOLD: declined, fenced out, or its buyer walked away: its confirm
answered :data:`WALK_AWAY_S` ago and no finalize asked for) is followed by another, from the
next wanted holder to stop itself at the step (looked for until stop). Every wait is bounded;
stop continues whatever is still frozen, in that order (``relay``: what happened in the first
round, with times since its A stopped, ``skips`` (why the self-stops it continued were not
wanted) and ``pick_demand``/``pick_skipped`` of the picks, and ``picks``: seconds each took to
arm the step and in all, and the process kept; ``rounds``: the same for the later rounds). A
named target (``target-<n>``, ``provider``) is always that process. Evidence: ``locks_at_pause``
(seat locks held when it paused, by any process), ``held_by_paused`` (of those, the paused
process's) and, on stop, ``expired_unreleased`` (of the snapshot, locks whose lease ran out
without a release while the process was frozen; a lower bound, as a re-acquired seat hides it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import psutil
import redis.asyncio as aioredis
import redis.exceptions

from chaos import failpoints
from chaos.context import ChaosContext
from chaos.faults.process import ProcessFault
from chaos.params import FaultParams, param
from chaos.processes import ProcessTargetError, is_stopped, resolve, send, wait_stopped_state
from harness.stack.control import ProcessInfo
from target_service.redis_lock import keys_for, owner_instance

#: Redis key pattern of the service's seat locks (``lock:seat:<event>:<seat>``).
LOCK_PATTERN = "lock:seat:*"


@dataclass(frozen=True, slots=True)
class PauseParams(FaultParams):
    holding_locks: bool = param(True, doc="wait until seat locks are held before pausing")
    lock_wait_s: float = param(5.0, min=0.0, max=120.0, doc="at most this long")
    at: str = param("", doc="a self-stop failpoint (lock-pause-before-write): the first "
                    "process to reach that step stops itself; stop continues it")
    relay: bool = param(False, doc="with at: go on to the holder's successor and a third "
                        "buyer of its seat (the unsafe-release sequence)")


def _client(redis_url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )


async def lock_owners(redis_url: str, *, limit: int = 10_000) -> dict[str, str]:
    """Seat lock key -> owner id of the locks held right now (bounded scan, direct Redis)."""
    client = _client(redis_url)
    try:
        keys: list[str] = []
        async for key in client.scan_iter(match=LOCK_PATTERN, count=500):
            keys.append(str(key))
            if len(keys) >= limit:
                break
        values = await client.mget(keys) if keys else []
        return {k: str(v) for k, v in zip(keys, values, strict=True) if v is not None}
    finally:
        await client.aclose()


async def expired_unreleased(redis_url: str, snapshot: Mapping[str, str]) -> int:
    """Of ``snapshot``'s locks, how many expired without a release (their ``lease:`` key still
    names the owner while the ``lock:`` key no longer does)."""
    client = _client(redis_url)
    try:
        keys = list(snapshot)
        locks = await client.mget(keys)
        leases = await client.mget([k.replace("lock:", "lease:", 1) for k in keys])
        return sum(
            1
            for key, lock, lease in zip(keys, locks, leases, strict=True)
            if lock != snapshot[key] and lease == snapshot[key]
        )
    finally:
        await client.aclose()


def lock_holder(
    running: Sequence[ProcessInfo], owners: Mapping[str, str]
) -> ProcessInfo | None:
    """Of the ``running`` target processes (``target-<instance>``), the one whose instance owns
    the most of ``owners``' locks (ties: first by name); None when none of them owns one."""
    held = Counter(owner_instance(v) for v in owners.values())
    best: tuple[int, str] | None = None
    chosen: ProcessInfo | None = None
    for proc in running:
        n = held.get(proc.name.removeprefix("target-"), 0)
        if n and (best is None or (-n, proc.name) < best):
            best, chosen = (-n, proc.name), proc
    return chosen


async def _fence_counters(redis_url: str, lock_keys: list[str]) -> dict[str, int]:
    """Lock key -> its seat's fencing counter (while a lock is held: its holder's token)."""
    client = _client(redis_url)
    try:
        values = await client.mget([keys_for(*_seat_of(k))[2] for k in lock_keys])
        return {k: int(v) for k, v in zip(lock_keys, values, strict=True) if v is not None}
    finally:
        await client.aclose()


async def _disarm_in_table(ctx: ChaosContext, name: str) -> None:
    """Delete ``name`` from the shared failpoint table (a counted firing is taken there)."""
    conn = await asyncpg.connect(ctx.state.dsn("seats"), timeout=5)
    try:
        await conn.execute("DELETE FROM failpoints WHERE name = $1", name, timeout=5)
    finally:
        await conn.close()


async def _running_targets(ctx: ChaosContext) -> list[ProcessInfo]:
    return [p for p in await asyncio.to_thread(ctx.supervisor.processes)
            if p.group == "target" and p.state == "RUNNING" and p.pid]


async def seat_demand(ctx: ChaosContext, lock_keys: Sequence[str]) -> int:
    """Rival orders on the still AVAILABLE seats of ``lock_keys`` (a lock on a sold seat is a
    confirm about to fail): created in the last ``DEMAND_WINDOW_S`` and not being confirmed
    right now (buyers that wanted the seat and will come back for it while it looks free)."""
    by_event: dict[str, list[str]] = {}
    for key in lock_keys:
        event, seat = _seat_of(key)
        by_event.setdefault(event, []).append(seat)
    conn = await asyncpg.connect(ctx.state.dsn("seats"), timeout=5)
    try:
        return sum([int(await conn.fetchval(_DEMAND, event, seats, DEMAND_WINDOW_S, timeout=5)
                         or 0) for event, seats in by_event.items()])
    finally:
        await conn.close()


async def at_step(ctx: ChaosContext, lock_keys: Sequence[str]) -> list[str]:
    """Of ``lock_keys``, those of lock confirms at the critical step: past their seat check
    (saga RUNNING) and authorized (their seat write comes next, unless fenced out)."""
    by_event: dict[str, list[str]] = {}
    for key in lock_keys:
        event, seat = _seat_of(key)
        by_event.setdefault(event, []).append(seat)
    inflight: list[tuple[str, str, str]] = []  # (event, seat, order)
    conn = await asyncpg.connect(ctx.state.dsn("seats"), timeout=5)
    try:
        for event, seats in by_event.items():
            rows = await conn.fetch(_AT_STEP_SEATS, event, seats, timeout=5)
            inflight += [(event, str(r[0]), str(r[1])) for r in rows]
    finally:
        await conn.close()
    authorized = await paid_orders(ctx, {o for _, _, o in inflight}, "AUTHORIZED")
    return sorted({keys_for(e, s)[0] for e, s, o in inflight if o in authorized})


async def paid_orders(ctx: ChaosContext, orders: set[str], status: str) -> set[str]:
    """Of ``orders``, those with a payment in ``status`` (AUTHORIZED, DECLINED)."""
    if not orders:
        return set()
    conn = await asyncpg.connect(ctx.state.dsn("payments"), timeout=5)
    try:
        rows = await conn.fetch(_PAID, sorted(orders), status, timeout=5)
    finally:
        await conn.close()
    return {str(r[0]) for r in rows}


async def undeclined(ctx: ChaosContext, orders: set[str]) -> set[str]:
    """Of ``orders``, those whose payment was not declined (authorized or still on its way:
    a process stops at the step for one request, another may be authorizing)."""
    return orders - await paid_orders(ctx, orders, "DECLINED")


async def _pttls(redis_url: str, keys: Sequence[str]) -> list[int]:
    """Remaining lease (ms) of each lock key (-2: gone, -1: no expiry)."""
    if not keys:
        return []
    client = _client(redis_url)
    try:
        return [int(await client.pttl(k)) for k in keys]
    finally:
        await client.aclose()


async def _stray_stops(ctx: ChaosContext, keep: set[int], *, for_s: float) -> int:
    """For ``for_s``, continue every target process that stopped itself, except ``keep``'s
    (a firing taken just before a disarm stops its process a moment later); how many."""
    n = 0
    deadline = time.monotonic() + for_s
    while True:
        for proc in await _running_targets(ctx):
            if proc.pid not in keep and is_stopped(proc.pid):
                n += 1
                await _cont(ctx, proc)
        if time.monotonic() >= deadline:
            return n
        await asyncio.sleep(0.01)


#: How many self-stops the relay arms at once (each unwanted one is continued at once).
RELAY_FIRINGS = 10_000

#: The relay's holder A is picked among the processes that stop themselves at the step: one
#: whose seats rivals want (orders on them created in the last ``DEMAND_WINDOW_S``, not being
#: confirmed) is kept; the rivals it needs drop with time, so the pick is bounded (``pick_need``).
DEMAND_WINDOW_S = 3.0
#: (since the pick began, rivals needed): 2 at first, then 1, then anyone (the old first stop)
PICK_NEEDS = ((1.5, 2), (3.0, 1))
#: a frozen buyer's lease must not run out before it is continued: keep this much of it
LEASE_MARGIN_S = 0.3
#: at most this many picks are kept in the fault's evidence (``picks``)
MAX_PICKS_SEEN = 50
#: the relay waits this many leases (from A's stop) for a successor B
SUCCESSOR_WAIT_LEASES = 2.0
#: how often the relay looks (Postgres, Redis) whether its wait is pointless
GIVE_UP_POLL_S = 0.05
#: stop cancels the relay rounds again this often until they end
STOP_RECANCEL_S = 0.5
#: B's order AUTHORIZED, its confirm answered this long ago (the database's clock) and no
#: finalize request arrived: its buyer walked away (the workload finalizes at once, with a key)
WALK_AWAY_S = 1.0


def pick_need(elapsed_s: float) -> int:
    """How many rival orders a self-stopped holder's seats need to be the relay's A."""
    for until, need in PICK_NEEDS:
        if elapsed_s < until:
            return need
    return 0


def frozen_until(now: float, cap_s: float, pttls_ms: Sequence[int]) -> float:
    """How long (monotonic deadline) a frozen buyer may stay frozen: at most ``cap_s``, and
    less than the shortest of its leases that can run out into a fenced take-over
    (``pttls_ms``: their remaining time; negative, i.e. gone, counts as no time left)."""
    limit = cap_s
    for ms in pttls_ms:
        limit = min(limit, max(0.0, ms / 1000) - LEASE_MARGIN_S)
    return now + max(0.0, limit)

_DEMAND = (
    "SELECT count(DISTINCT o.order_id) FROM order_seats os JOIN orders o USING (order_id)"
    " JOIN seats s ON s.event_id = os.event_id AND s.seat_id = os.seat_id"
    " WHERE os.event_id = $1 AND os.seat_id = ANY($2::text[]) AND s.state = 'AVAILABLE'"
    " AND o.created_at > now() - make_interval(secs => $3)"
    " AND NOT EXISTS (SELECT 1 FROM sagas g WHERE g.order_id = o.order_id"
    " AND g.state = 'RUNNING')")

_AT_STEP_SEATS = (
    "SELECT os.seat_id, g.order_id::text FROM sagas g JOIN order_seats os USING (order_id)"
    " WHERE g.strategy = 'lock' AND g.phase = 'CONFIRM' AND g.state = 'RUNNING'"
    " AND os.event_id = $1 AND os.seat_id = ANY($2::text[])")

_PAID = ("SELECT DISTINCT order_id::text FROM payments"
         " WHERE order_id = ANY($1::uuid[]) AND status = $2")

_FREE = (
    "SELECT array_agg(s.event_id || ':' || s.seat_id) FROM seats s"
    " JOIN unnest($1::text[], $2::text[]) AS t(event, seat)"
    " ON s.event_id = t.event AND s.seat_id = t.seat WHERE s.state = 'AVAILABLE'")

_SOLD_BY_RIVAL = (
    "SELECT count(*) FROM seats s"
    " JOIN unnest($1::text[], $2::text[], $4::bigint[]) AS t(event, seat, tok)"
    " ON s.event_id = t.event AND s.seat_id = t.seat WHERE s.state = 'SOLD'"
    " AND s.holder_order_id IS NOT NULL AND s.holder_order_id <> ALL($3::uuid[])"
    " AND s.fence_token < t.tok")

_FINISHED = (
    "SELECT count(*) FILTER (WHERE o.status = 'SOLD'),"
    " count(*) FILTER (WHERE o.status IN ('FAILED', 'EXPIRED', 'CANCELLED')),"
    " count(*) FILTER (WHERE o.status = 'AUTHORIZED' AND o.finalize_started_at IS NULL"
    "  AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.customer_id = o.customer_id"
    "   AND k.request_path = '/api/orders/' || o.order_id"
    "   || ':finalize')"
    "  AND EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.customer_id = o.customer_id"
    "   AND k.request_path = '/api/orders/' || o.order_id"
    "   || ':confirm' AND k.finished_at < now() - make_interval(secs => $2))), count(*)"
    " FROM orders o WHERE o.order_id = ANY($1::uuid[])")

_INFLIGHT_ORDERS = (
    "SELECT DISTINCT g.order_id::text FROM sagas g JOIN order_seats os USING (order_id)"
    " WHERE g.strategy = 'lock' AND g.phase = 'CONFIRM' AND g.state = 'RUNNING'"
    " AND os.event_id = $1 AND os.seat_id = $2")

_INFLIGHT_CONFIRMS = (
    "SELECT count(DISTINCT g.order_id) FROM sagas g JOIN order_seats os USING (order_id)"
    " WHERE g.strategy = 'lock' AND g.phase = 'CONFIRM' AND g.state = 'RUNNING'"
    " AND os.event_id = $1 AND os.seat_id = $2")


def _seat_of(lock_key: str) -> tuple[str, str]:
    """``lock:seat:<event>:<seat>`` -> (event, seat)."""
    _, _, event, seat = lock_key.split(":", 3)
    return event, seat


class Relay:
    """The unsafe-release sequence after a holder A stopped itself at ``failpoint`` (see the
    module doc): freeze A's successor B, continue A, freeze a third buyer C, continue B, then C.

    ``held`` lists the pids frozen by the relay, in the order ``release`` continues them."""

    def __init__(self, ctx: ChaosContext, failpoint: str, a: ProcessInfo,
                 snapshot: Mapping[str, str], tokens: Mapping[str, int]) -> None:
        self.ctx = ctx
        self.failpoint = failpoint
        self.a = a
        self.snapshot = dict(snapshot)  # A's seat locks: key -> A's owner value
        self.tokens = dict(tokens)  # key -> A's fencing token (the counter while A held it)
        self.lease_s = ctx.lock_lease_s
        self.t0 = time.monotonic()
        self.held: list[ProcessInfo] = []
        self.a_frozen = True
        self.seat_key: str | None = None
        self.owners: set[str] = set(self.snapshot.values())
        self.steps: list[tuple[float, str]] = []
        self.skipped = 0
        #: why the self-stops this round continued were not wanted (reason -> count)
        self.skips: Counter[str] = Counter()
        self._why = ""  # the reason of the last refusal of _successor_seat / _third_buyer
        self.outcome = "running"
        self.armed = False
        self.successor: str | None = None
        self.third: str | None = None
        self.procs: list[ProcessInfo] = []
        self.b_orders: set[str] = set()  # confirms in flight on B's seat when B stopped
        self.a_orders: set[str] = set()  # confirms in flight on A's seats when A stopped
        self.b_new: set[str] = set()  # B's own order(s): in b_orders, not in a_orders
        self.b_keys: list[str] = []  # every seat lock B holds
        self.c_keys: list[str] = []  # every seat lock C holds
        self.a_free: list[str] = []  # A's seats free when A stopped, a write of A's to come
        self.a_writers: dict[str, set[str]] = {}  # A's seat -> A's confirms past their check
        self.b_owner: str | None = None
        self.b_own: list[str] = []  # B's seats that are not A's
        self.shown = False  # a write that shows the bug is on its way (see :attr:`spent`)
        self.pick_demand: int | None = None  # rival orders on A's seats when it was picked

    def note(self, what: str) -> None:
        self.steps.append((round(time.monotonic() - self.t0, 3), what))

    @property
    def spent(self) -> bool:
        """The round ended with no write on its way that could show a bug: no successor, no
        third buyer, or B's order not sold (declined, fenced out, its buyer walked away)."""
        return self.outcome != "running" and not self.shown

    def observed(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "pick_demand": self.pick_demand,
                "orders_of_b": sorted(self.b_new),
                "seats_of_a": sorted(_seat_of(k)[1] for k in self.snapshot),
                "seat": self.seat_key, "successor": self.successor,
                "third": self.third, "skipped": self.skipped, "skips": dict(self.skips),
                "steps": [f"{t:.3f}s {what}" for t, what in self.steps]}

    # --- the shared failpoint table (direct: a frozen process may own the admin socket) -----
    async def _sql(self, sql: str, *args: object) -> Any:
        conn = await asyncpg.connect(self.ctx.state.dsn("seats"), timeout=5)
        try:
            return await conn.fetchval(sql, *args, timeout=5)
        finally:
            await conn.close()

    async def arm(self) -> None:
        self.armed = True  # first: a cancelled insert is still deleted by disarm
        await failpoints.arm_in_table(self.ctx.state, self.failpoint, RELAY_FIRINGS)

    async def disarm(self) -> None:
        """Counted firings are taken in Postgres, so deleting the row stops them at once."""
        if self.armed:
            await self._sql("DELETE FROM failpoints WHERE name = $1", self.failpoint)
            self.armed = False

    # --- what the processes hold -------------------------------------------------------------
    async def _seat_row(self, key: str) -> tuple[str | None, int | None, int]:
        """(seat state, fence token, in-flight lock confirms on the seat) from Postgres."""
        event, seat = _seat_of(key)
        conn = await asyncpg.connect(self.ctx.state.dsn("seats"), timeout=5)
        try:
            row = await conn.fetchrow("SELECT state, fence_token FROM seats WHERE event_id = $1"
                                      " AND seat_id = $2", event, seat, timeout=5)
            inflight = await conn.fetchval(_INFLIGHT_CONFIRMS, event, seat, timeout=5)
        finally:
            await conn.close()
        if row is None:
            return None, None, int(inflight or 0)
        return str(row["state"]), int(row["fence_token"] or 0), int(inflight or 0)

    async def _redis(self, keys: list[str]) -> list[str | None]:
        client = _client(self.ctx.state.redis_url())
        try:
            return [None if v is None else str(v) for v in await client.mget(keys)]
        finally:
            await client.aclose()

    async def _successor_seat(self, proc: ProcessInfo) -> str | None:
        """A seat of A's whose lock ``proc`` took over and whose take-over is claimed in
        Postgres (so A is fenced out) while the seat is still unwritten. (A holder in A's
        process fenced off on only some of its seats writes none of them: the service rolls a
        partial hold write back, so such a successor is as good as any.)"""
        instance = proc.name.removeprefix("target-")
        keys = sorted(self.snapshot)
        owners = await self._redis(keys)
        self._why = "no seat of A's"
        for key, owner in zip(keys, owners, strict=True):
            if owner is None or owner in self.owners or owner_instance(owner) != instance:
                continue
            event, seat = _seat_of(key)
            [fence] = await self._redis([keys_for(event, seat)[2]])
            state, token, _ = await self._seat_row(key)
            if state != "AVAILABLE":
                self._why = "seat written"
            elif fence is None or token != int(fence):
                self._why = "take-over not claimed"
            # and its payment was not declined (a declined buyer stops here too, then fails)
            elif not await undeclined(
                    self.ctx, await self._inflight_orders(key) - self.a_orders):
                self._why = "declined"
            else:
                self.owners.add(owner)
                return key
        return None

    async def _inflight_orders(self, key: str) -> set[str]:
        """Orders whose lock confirm on the seat is past its check and not finished."""
        event, seat = _seat_of(key)
        conn = await asyncpg.connect(self.ctx.state.dsn("seats"), timeout=5)
        try:
            rows = await conn.fetch(_INFLIGHT_ORDERS, event, seat, timeout=5)
        finally:
            await conn.close()
        return {str(r[0]) for r in rows}

    async def _owned_by(self, owner: str) -> list[str]:
        """Every seat lock key ``owner`` holds right now."""
        return sorted(k for k, v in (await lock_owners(self.ctx.state.redis_url())).items()
                      if v == owner)

    async def _third_buyer(self, proc: ProcessInfo, keys: Sequence[str],
                           *, unclaimed: bool = False) -> str | None:
        """A key of ``keys`` (B's seats) that ``proc`` holds under a new owner, whose buyer has
        checked the seat free (its confirm runs beside the successor's) while the seat is still
        unwritten; that buyer's owner value, else None. Any seat of B's counts: a buyer of
        another of them, continued, would write first and fence B out. With ``unclaimed``
        (B's leases may have run out) only a buyer that took the lock with no claim counts."""
        owners = await self._redis(list(keys))
        self._why = "no seat of B's"
        for key, owner in zip(keys, owners, strict=True):
            if owner is None or owner in self.owners:
                continue
            if owner_instance(owner) != proc.name.removeprefix("target-"):
                continue
            state, _, _ = await self._seat_row(key)
            # its own confirm (not one in flight when B stopped) is past the check, and its
            # payment was not declined
            if state != "AVAILABLE":
                self._why = "seat written"
            elif not await undeclined(
                    self.ctx, await self._inflight_orders(key) - self.b_orders):
                self._why = "declined or not past its check"
            elif unclaimed and not await self._unclaimed(key):
                self._why = "claimed (B's lease ran out)"
            else:
                return owner
        return None

    async def _sold_by_rival(self, *, unclaimed: bool = False) -> bool:
        """A seat of A's that was free when A stopped, with a confirm of A's past its check on
        it (:attr:`a_free`), is SOLD to an order not A's; with ``unclaimed``, one whose fence
        token in Postgres is still older than A's and whose confirm of A's was not declined: the
        rival wrote with no take-over claim (no fencing), so A's write, continued now, lands on
        it (a declined confirm of A's writes nothing)."""
        keys = self.a_free
        if unclaimed:  # one look at the payments for every confirm of A's on them
            ok = await undeclined(self.ctx, set().union(*(self.a_writers[k] for k in keys)))
            keys = [k for k in keys if self.a_writers[k] & ok]
        if not keys:
            return False
        seats = [_seat_of(k) for k in keys]
        tokens = [self.tokens.get(k, 0) if unclaimed else 2**62 for k in keys]
        return bool(await self._sql(_SOLD_BY_RIVAL, [e for e, _ in seats],
                                    [s for _, s in seats], sorted(self.a_orders), tokens))

    async def _b_fenced(self) -> bool:
        """One of B's seats that are not A's is locked by another owner now: a take-over
        claim fences B out (bug or not), so a third buyer is no use any more."""
        if not self.b_own:
            return False
        owners = await self._redis(self.b_own)
        return any(o is not None and o != self.b_owner for o in owners)

    async def _unclaimed(self, key: str) -> bool:
        """The seat's holder took its lock with no take-over claim (the seat's fence token in
        Postgres is older than the lock's): an unsafe release let it in."""
        [fence] = await self._redis([keys_for(*_seat_of(key))[2]])
        _, token, _ = await self._seat_row(key)
        return fence is not None and token is not None and token < int(fence)

    # --- the sequence ------------------------------------------------------------------------
    async def _stopped(self, procs: Sequence[ProcessInfo]) -> ProcessInfo | None:
        frozen = {p.pid for p in self.held} | ({self.a.pid} if self.a_frozen else set())
        for proc in procs:
            if proc.pid not in frozen and is_stopped(proc.pid):
                return proc
        return None

    async def _wait_for(self, procs: Sequence[ProcessInfo], within_s: float,
                        wanted: Any, give_up: Any = None) -> ProcessInfo | None:
        """The first process that stops itself and ``await wanted(proc)``; the others are
        continued at once. None after ``within_s``, or once ``await give_up()`` (polled every
        ``GIVE_UP_POLL_S``) is true."""
        deadline = time.monotonic() + within_s
        polled = 0.0
        while time.monotonic() < deadline:
            if give_up is not None and time.monotonic() - polled >= GIVE_UP_POLL_S:
                polled = time.monotonic()
                if await give_up():
                    return None
            proc = await self._stopped(procs)
            if proc is None:
                await asyncio.sleep(0.01)
                continue
            keep = False
            self._why = "error"
            try:
                keep = bool(await wanted(proc))
            finally:  # also when cancelled meanwhile: never leave an unwanted stop frozen
                if not keep:
                    self.skipped += 1
                    self.skips[self._why] += 1
                    await _cont(self.ctx, proc)
            if keep:
                return proc
        return None

    async def _writes_to_come(self) -> None:
        """Note A's confirms past their check (:attr:`a_orders`) and :attr:`a_free`: the seats
        of theirs still AVAILABLE, where a write of A's is to come (a confirm of A's process
        frozen before its check finds a sold seat taken and writes nothing)."""
        writing: list[str] = []
        for k in sorted(self.snapshot):
            orders = await self._inflight_orders(k)
            self.a_orders |= orders
            if orders:
                writing.append(k)
                self.a_writers[k] = orders
        seats = [_seat_of(k) for k in writing]
        free = set(await self._sql(_FREE, [e for e, _ in seats], [s for _, s in seats]) or [])
        self.a_free = [k for k, (e, s) in zip(writing, seats, strict=True) if f"{e}:{s}" in free]

    async def run(self) -> None:
        lease_s = self.lease_s
        procs = self.procs = await _running_targets(self.ctx)
        await self._writes_to_come()
        # armed at once (the pick left it armed): buyers wait at A's seats and take them the
        # moment its leases run out
        await self.arm()
        found: list[str] = []

        async def successor(proc: ProcessInfo) -> bool:
            key = await self._successor_seat(proc)
            if key is not None:
                found.append(key)
            return key is not None

        # A's leases run out within one lease; the successors measured came 1.8-2.4 s (1.2
        # leases) after A stopped, so a second lease with none is a round to end
        b = await self._wait_for(procs, SUCCESSOR_WAIT_LEASES * lease_s, successor,
                                 give_up=self._sold_by_rival)
        if b is None:
            self.outcome = "no successor took a seat over"
            if await self._sold_by_rival(unclaimed=True):  # A's unfenced write lands on it
                await self.disarm()
                await _cont(self.ctx, self.a)
                self.a_frozen = False
                self.outcome += "; a rival sold a seat of A's unclaimed: A continued"
                self.shown = True
                self.note(f"A ({self.a.name}) continued, a seat of its sold to a rival")
            elif await self._sold_by_rival():
                self.outcome += "; a rival sold a seat of A's with a claim"
            await self.release(watch_s=0.0 if self.spent else lease_s)
            return
        self.seat_key = found[0]
        self.b_orders = await self._inflight_orders(self.seat_key)
        self.b_new = self.b_orders - self.a_orders
        self.held.append(b)
        self.successor = b.name
        [self.b_owner] = await self._redis([self.seat_key])
        self.b_keys = (await self._owned_by(self.b_owner) if self.b_owner
                       else [self.seat_key])
        # B's seats that are not A's: run out, their leases are taken over with a claim (B
        # fenced out, bug or not) once a buyer comes for them; until they run out any third
        # buyer of B's seats counts, then only one let in unclaimed, until B is fenced out
        own = self.b_own = [k for k in self.b_keys if k not in self.snapshot]
        self.note(f"B ({b.name}) stopped holding {self.seat_key}, its take-over claimed"
                  f" (seats {len(self.b_keys)}, {len(own)} not A's)")
        held_until = frozen_until(time.monotonic(), 1.5 * lease_s,
                                  await _pttls(self.ctx.state.redis_url(), own))
        await _cont(self.ctx, self.a)
        self.a_frozen = False
        self.note(f"A ({self.a.name}) continued")
        keys = self.b_keys
        owner: list[str] = []

        async def third(proc: ProcessInfo) -> bool:
            found_owner = await self._third_buyer(
                proc, keys, unclaimed=time.monotonic() >= held_until)
            if found_owner is not None:
                owner.append(found_owner)
            return found_owner is not None

        c = await self._wait_for(procs, 1.5 * lease_s, third, give_up=self._b_fenced)
        await self.disarm()
        if c is None:
            self.outcome = "no third buyer got the seat"
        else:
            self.held.append(c)
            self.third = c.name
            self.c_keys = await self._owned_by(owner[0])
            self.note(f"C ({c.name}) stopped holding {len(self.c_keys)} seats, one of B's,"
                      " after checking it free")
            self.outcome = "successor and third buyer frozen"
        await self.release(watch_s=lease_s, spent_watch_s=0.0)

    async def _sweep(self) -> None:
        """Continue every process that stopped itself but is nobody's to keep: a firing taken
        just before the disarm (or while its process was frozen) stops it a moment later."""
        kept = {h.pid for h in self.held} | ({self.a.pid} if self.a_frozen else set())
        for proc in self.procs:
            if proc.pid not in kept and is_stopped(proc.pid):
                self.skipped += 1
                self.skips["late"] += 1
                await _cont(self.ctx, proc)

    async def _until_sold(self) -> None:
        """Wait (bounded) until B's order is SOLD or finished otherwise: a double sale shows
        for good when C's write lands on a seat B already sold (B's ticket, C's hold). Bounded
        by two leases and by C's leases on seats that are not B's (run out, they would be taken
        over and C fenced out; B's seats' locks B's release removes, with the bug)."""
        own = [k for k in self.c_keys if k not in self.b_keys]
        deadline = frozen_until(time.monotonic(), 2 * self.lease_s,
                                await _pttls(self.ctx.state.redis_url(), own))
        orders = sorted(self.b_new)
        sold = finished = 0
        walked = False
        while orders and time.monotonic() < deadline:
            await self._sweep()
            sold, finished, idle, n = await self._finished(orders)
            if sold or finished == n:
                break
            if idle == n:
                walked = True  # its buyer walks away with the seats held: nothing to sell
                break
            await asyncio.sleep(0.01)
        self.shown = bool(sold)
        state = ("SOLD" if sold else "finished" if finished
                 else "its buyer walked away" if walked else "not finished")
        self.note(f"B's order: {state}")

    async def _finished(self, orders: Sequence[str], *, walk_away_s: float = WALK_AWAY_S
                        ) -> tuple[int, int, int, int]:
        """(SOLD, finished otherwise, walked away, all) of ``orders``: walked away is AUTHORIZED,
        its confirm answered ``walk_away_s`` ago and no finalize asked for (see _FINISHED)."""
        conn = await asyncpg.connect(self.ctx.state.dsn("seats"), timeout=5)
        try:
            row = await conn.fetchrow(_FINISHED, list(orders), walk_away_s, timeout=5)
        finally:
            await conn.close()
        if row is None:
            return 0, 0, 0, len(orders)
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    async def release(self, *, watch_s: float, spent_watch_s: float | None = None) -> None:
        """Continue what the relay froze, in order; after the first of two (B), wait (bounded)
        until B's order is SOLD or finished (see :meth:`_until_sold`). Then, for
        ``watch_s`` (``spent_watch_s`` if the round is :attr:`spent`: the next round's pick
        continues late self-stops itself), continue any late self-stop (see :meth:`_sweep`)."""
        await self.disarm()
        await self._sweep()
        first = True
        while self.held:
            proc = self.held.pop(0)
            await _cont(self.ctx, proc)
            self.note(f"{proc.name} continued")
            if first and self.held and self.seat_key is not None:
                with contextlib.suppress(Exception):  # evidence only; never blocks a SIGCONT
                    await self._until_sold()
            first = False
        if spent_watch_s is not None and self.spent:
            watch_s = spent_watch_s
        deadline = time.monotonic() + watch_s
        while True:
            await self._sweep()
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.01)


def _switches(pid: int) -> int | None:
    with contextlib.suppress(psutil.Error):
        voluntary, involuntary = psutil.Process(pid).num_ctx_switches()
        return int(voluntary) + int(involuntary)
    return None


async def _cont(ctx: ChaosContext, proc: ProcessInfo, *, within: float = 5.0) -> None:
    """SIGCONT ``proc`` and wait until it ran: it is no longer stopped, or it was scheduled
    since (it may stop itself again at once while the failpoint is armed)."""
    before = _switches(proc.pid)
    send(proc.pid, signal.SIGCONT, ctx)  # gone (killed meanwhile) is fine
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        now = _switches(proc.pid)
        if now is None or now != before or not is_stopped(proc.pid):
            return
        await asyncio.sleep(0.005)
    raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) did not continue")


class Pause(ProcessFault[PauseParams]):
    """The process is frozen (SIGSTOP) until stop (SIGCONT); the others keep serving."""

    kind = "pause"
    doc = "SIGSTOP one process (while it holds locks), SIGCONT on stop"
    Params = PauseParams

    def __init__(
        self, target: str, params: Mapping[str, Any] | FaultParams | None = None
    ) -> None:
        super().__init__(target, params)
        self.locks_at_pause: int | None = None
        self.expired_unreleased: int | None = None
        self.held_by_paused: int | None = None
        self.picked: str | None = None
        self._snapshot: dict[str, str] = {}
        self._relays: list[Relay] = []  # the rounds, the current one last
        self._relay_task: asyncio.Task[None] | None = None
        #: set by stop before it cancels the rounds: they end at their next look even when a
        #: cancellation was lost (Python 3.11's wait_for, which asyncpg's timeouts use, can
        #: swallow one that lands as the awaited call completes)
        self._stopping = False
        self.stop_cancels = 0  # cancellations stop needed to end the rounds (1 unless one was lost)
        self.pick_demand: int | None = None  # rival orders on the relay's A's seats
        self.pick_skipped = 0  # self-stops continued while picking A
        #: each pick of an A: seconds to arm the step, seconds in all, the process kept
        self.picks: list[dict[str, Any]] = []

    async def _wait_for_locks(self, ctx: ChaosContext) -> dict[str, str]:
        """The seat locks held now, waiting (``lock_wait_s``) until some are; Redis slow to
        answer (a starved machine, a Redis fault of the same schedule) counts as none seen."""
        deadline = time.monotonic() + self.params.lock_wait_s
        while True:
            held: dict[str, str] = {}
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                held = await lock_owners(ctx.state.redis_url())
            if held or time.monotonic() >= deadline:
                return held
            await asyncio.sleep(0.01)

    async def _stopped_at_failpoint(self, ctx: ChaosContext) -> ProcessInfo | None:
        """Arm ``at`` for one firing; the target process that stopped itself there, if any
        did within ``lock_wait_s`` (the failpoint is disarmed again either way)."""
        await failpoints.arm(ctx.state, self.params.at, remaining=1)
        try:
            deadline = time.monotonic() + self.params.lock_wait_s
            while time.monotonic() < deadline:
                for proc in await _running_targets(ctx):
                    if is_stopped(proc.pid):
                        return proc
                await asyncio.sleep(0.02)
            return None
        finally:  # in the table: a frozen process may be the one the admin call reaches
            await _disarm_in_table(ctx, self.params.at)

    async def _stopped_at_wanted_seat(self, ctx: ChaosContext) -> ProcessInfo | None:
        """Arm ``at`` for many firings; keep the first target process that stopped itself there
        holding seats rivals want (:func:`pick_need` rival orders, fewer as time goes by),
        continuing the others at once. None after ``lock_wait_s`` (then disarmed); a kept one
        leaves it armed for the relay round, whose caller disarms it if no round begins.
        Armed in the shared table, not through the admin endpoint: after a round a process may
        still be stopped at the step, and an admin call the kernel gives it waits its timeout
        (the processes share the port), three times over at worst."""
        began = time.monotonic()
        await failpoints.arm_in_table(ctx.state, self.params.at, RELAY_FIRINGS)
        start = time.monotonic()
        kept: ProcessInfo | None = None
        try:
            while kept is None and time.monotonic() - start < self.params.lock_wait_s:
                for proc in await _running_targets(ctx):
                    if not is_stopped(proc.pid):
                        continue
                    keep = False
                    try:
                        instance = proc.name.removeprefix("target-")
                        keys = [k for k, v in (await lock_owners(ctx.state.redis_url())).items()
                                if owner_instance(v) == instance]
                        # the seats of its confirm at the step (the one that stopped it)
                        step = await at_step(ctx, keys) if keys else []
                        demand = await seat_demand(ctx, step) if step else 0
                        need = pick_need(time.monotonic() - start)
                        keep = bool(keys) and demand >= need
                    finally:  # also when cancelled: never leave an unwanted stop frozen
                        if keep:
                            kept, self.pick_demand = proc, demand
                        else:
                            self.pick_skipped += 1
                            await _cont(ctx, proc)
                    if kept is not None:
                        break
                await asyncio.sleep(0.01)
            return kept
        finally:
            if len(self.picks) < MAX_PICKS_SEEN:
                self.picks.append({"arm_s": round(start - began, 3),
                                   "s": round(time.monotonic() - began, 3),
                                   "kept": kept.name if kept is not None else None})
            if kept is None:
                await _disarm_in_table(ctx, self.params.at)
                self.pick_skipped += await _stray_stops(ctx, set(), for_s=0.1)
            # else left armed for the round (it arms again and continues stops it does not
            # want): a gap would let a process poll "disarmed" and keep it for FAILPOINT_POLL_S,
            # so a rival taking over one of A's soon-expiring leases would pass the step unseen

    async def _apply(self, ctx: ChaosContext) -> None:
        if self.params.at and self.target == "target":
            stopped = (await self._stopped_at_wanted_seat(ctx) if self.params.relay
                       else await self._stopped_at_failpoint(ctx))
            if stopped is not None:  # already frozen, by itself, at the critical step
                self.pid, self.process, self.picked = stopped.pid, stopped.name, "failpoint"
                if self.params.relay:
                    await self._start_relay(ctx, stopped)
                return
        if self.params.holding_locks:
            self._snapshot = await self._wait_for_locks(ctx)
            self.locks_at_pause = len(self._snapshot)
        proc = await resolve(ctx, self.target)  # also draws the seeded pick, used or not
        self.picked = "seeded" if self.target == "target" else "named"
        if self.target == "target" and self._snapshot:
            holder = lock_holder(await _running_targets(ctx), self._snapshot)
            if holder is not None:
                proc, self.picked = holder, "lock-holder"
        self.pid, self.process = proc.pid, proc.name
        if self._snapshot and proc.group == "target":
            instance = proc.name.removeprefix("target-")
            self.held_by_paused = sum(
                owner_instance(v) == instance for v in self._snapshot.values())
        if not send(proc.pid, signal.SIGSTOP, ctx):
            raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) is gone")
        if not await wait_stopped_state(proc.pid, True):
            raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) did not stop on SIGSTOP")

    async def _new_relay(self, ctx: ChaosContext, a: ProcessInfo) -> Relay | None:
        """A relay round from the frozen holder ``a`` (None when it holds no seat lock)."""
        instance = a.name.removeprefix("target-")
        held = {k: v for k, v in (await lock_owners(ctx.state.redis_url())).items()
                if owner_instance(v) == instance}
        if not held:
            return None
        fences = await _fence_counters(ctx.state.redis_url(), list(held))
        relay = Relay(ctx, self.params.at, a, held, fences)
        relay.pick_demand = self.pick_demand
        self._relays.append(relay)
        return relay

    async def _start_relay(self, ctx: ChaosContext, a: ProcessInfo) -> None:
        relay = None
        try:
            relay = await self._new_relay(ctx, a)
        finally:  # the pick left the failpoint armed for a round that may never begin
            if relay is None:
                await _disarm_in_table(ctx, self.params.at)
        self.locks_at_pause = self.held_by_paused = len(relay.snapshot) if relay else 0
        if relay is not None:
            self._relay_task = asyncio.create_task(self._rounds(ctx, relay))

    async def _rounds(self, ctx: ChaosContext, relay: Relay) -> None:
        """Relay rounds until stop: a :attr:`Relay.spent` round is followed by another, from
        the next wanted holder that stops itself at the step (A of the round before, still
        frozen when no successor came, is continued first: it would stop the pick)."""
        while not self._stopping:
            await relay.run()
            if not relay.spent:
                return
            if relay.a_frozen:
                await _cont(ctx, relay.a)
                relay.a_frozen = False
                relay.note(f"A ({relay.a.name}) continued for the next round")
            nxt = None
            while nxt is None:  # until stop: no wanted holder yet is no reason to quit
                if self._stopping:
                    return
                a = await self._stopped_at_wanted_seat(ctx)
                if a is None:
                    continue
                nxt = await self._new_relay(ctx, a)
                if nxt is None:
                    await _cont(ctx, a)
            relay = nxt

    async def _stop_relay(self, ctx: ChaosContext) -> None:
        """Cancel the rounds if still running, then continue what the current round holds (in
        its order) and every other stopped target process but the first A (stop continues
        that one)."""
        task = self._relay_task
        self._relay_task = None
        if not self._relays or task is None:
            return
        self._stopping = True
        while not task.done():  # again if a cancellation was lost (see _stopping)
            self.stop_cancels += 1
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_RECANCEL_S)
        relay = self._relays[-1]  # the rounds may have begun one meanwhile
        if relay.outcome == "running":
            relay.outcome = "stopped early (running)"
        with contextlib.suppress(Exception):  # armed by a pick whose round never began
            await _disarm_in_table(ctx, self.params.at)
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # recorded; the SIGCONTs below still happen
            relay.outcome = f"error: {exc!r}"
        try:
            await relay.release(watch_s=0.2)
        finally:
            if relay.held:  # release failed halfway: SIGCONT the rest without waiting
                for proc in relay.held:
                    send(proc.pid, signal.SIGCONT, relay.ctx)
                relay.held.clear()
            for r in self._relays:
                r.a_frozen = False
            # every A of a round (the first: stop continues it), and one picked for a round
            # that was cancelled before it began
            for proc in await _running_targets(ctx):
                if proc.pid != self.pid and is_stopped(proc.pid):
                    send(proc.pid, signal.SIGCONT, ctx)

    async def _remove(self, ctx: ChaosContext) -> None:
        await self._stop_relay(ctx)
        if self.pid is None:
            return
        if self._snapshot:
            with contextlib.suppress(Exception):  # evidence only; never blocks the SIGCONT
                self.expired_unreleased = await expired_unreleased(
                    ctx.state.redis_url(), self._snapshot
                )
            self._snapshot = {}
        send(self.pid, signal.SIGCONT, ctx)  # gone (killed meanwhile) is fine
        if not await wait_stopped_state(self.pid, False):
            raise ProcessTargetError(f"{self.process} (pid {self.pid}) did not continue")
        if self._relays:  # a firing taken while it was frozen may stop it again
            for _ in range(20):  # bounded: 0.2 s
                await asyncio.sleep(0.01)
                if is_stopped(self.pid):
                    send(self.pid, signal.SIGCONT, ctx)
        self.pid = None

    def observed(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "picked": self.picked,
            "locks_at_pause": self.locks_at_pause,
            "held_by_paused": self.held_by_paused,
            "expired_unreleased": self.expired_unreleased,
            **({"relay": {**self._relays[0].observed(), "pick_skipped": self.pick_skipped,
                           "picks": self.picks,
                          "stop_cancels": self.stop_cancels,
                          "rounds": [r.observed() for r in self._relays[1:]]}}
               if self._relays else {}),
        }
