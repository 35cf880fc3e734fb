"""The service's introspection door: what it holds and what is pending, as the service says it.

Everything outside ``target_service/`` and ``invariants/`` (the harness, the chaos layer, the
soak) learns the service's state here and nowhere else, as Jepsen's ``Primary`` protocol lets
the system under test say who holds what; the tables and the Redis key layout stay private to
the service. Callers pass :class:`Stores` (the direct DSNs and Redis URL of one stack).

Guarantees: every call is bounded (``CALL_TIMEOUT_S`` per statement or Redis command) and
opens and closes its own connections; a count read in one statement is one snapshot. Answers
about locks (Redis) are best-effort: a scan is not atomic, and a lease may run out the moment
after it was read. Sections: defaults, failpoints, pending work, locks, buyers (what the lock
strategy's confirms are doing; the white-box ``lock-takeover-relay`` schedule asks them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import zip_longest
from typing import Any, NamedTuple

import asyncpg
import redis.asyncio as aioredis

from target_service.config import Settings, tuning
from target_service.coverage import SITUATIONS, read_counts, situations_for
from target_service.failpoints import (
    CRASH_GAPS,
    FAILPOINTS,
    SELF_STOP_WINDOW_S,
    UPSERT_ARM,
    Arm,
    arm_row,
    default_action,
    failpoints_of,
)
from target_service.redis_lock import keys_for, owner_instance

CALL_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Stores:
    """Where one stack's service keeps its state (direct links, never through a proxy)."""

    seats_dsn: str
    payments_dsn: str
    redis_url: str


class Seat(NamedTuple):
    event_id: str
    seat_id: str


# --- defaults --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Clocks:
    """The service's clocks (seconds) for one tuning environment: its one source is
    :class:`target_service.config.Settings`."""

    lock_lease_s: float
    failpoint_poll_s: float
    hold_ttl_s: float
    saga_stale_s: float
    sweep_interval_s: float
    provider_timeout_s: float
    twopc_grace_s: float
    #: a self-stop happens at most this long after its firing was taken (see failpoints.py)
    self_stop_window_s: float


def clocks(env: Mapping[str, str] | None = None) -> Clocks:
    """The clocks of a service started with the tuning variables ``env`` (the defaults when
    empty); ConfigError (a ValueError) when a value is malformed, as the service would."""
    return clocks_of(Settings(**tuning(env or {})))


def clocks_of(s: Settings) -> Clocks:
    """The clocks of a service process with settings ``s``."""
    return Clocks(lock_lease_s=s.lock_lease_ms / 1000, failpoint_poll_s=s.failpoint_poll_s,
                  hold_ttl_s=s.hold_ttl_s, saga_stale_s=s.saga_stale_s,
                  sweep_interval_s=s.sweep_interval_s, provider_timeout_s=s.provider_timeout_s,
                  twopc_grace_s=s.twopc_grace_s, self_stop_window_s=SELF_STOP_WINDOW_S)


# --- failpoints (the shared table every process polls) ---------------------------------------
def known_failpoints() -> dict[str, str]:
    """Failpoint name -> what it does."""
    return dict(FAILPOINTS)


async def _seats(stores: Stores, op: str, sql: str, *args: object) -> Any:
    conn = await asyncpg.connect(stores.seats_dsn, timeout=CALL_TIMEOUT_S)
    try:
        return await getattr(conn, op)(sql, *args, timeout=CALL_TIMEOUT_S)
    finally:
        await conn.close()


async def armed_failpoints(stores: Stores) -> dict[str, int | None]:
    """Name -> firings left (None: every hit); empty before the schema exists."""
    try:
        rows = await _seats(stores, "fetch", "SELECT name, remaining FROM failpoints")
    except asyncpg.UndefinedTableError:
        return {}
    return {str(r["name"]): r["remaining"] for r in rows}


async def arm_failpoint(stores: Stores, name: str, remaining: int | None, *,
                        action: str | None = None, seconds: float | None = None,
                        instance: str | None = None, chance: float | None = None) -> None:
    """Arm ``name`` for every process (or one ``instance``) from its next poll on:
    ``remaining`` firings in all, doing ``action`` (None: its default) for ``seconds``, each
    hit firing with probability ``chance`` (None: every hit)."""
    if name not in FAILPOINTS:
        raise ValueError(f"unknown failpoint {name!r}; known: {', '.join(sorted(FAILPOINTS))}")
    if chance is not None and not 0 < chance <= 1:
        raise ValueError(f"chance must be in (0, 1], not {chance}")
    await _seats(stores, "execute", UPSERT_ARM, name,
                 *arm_row(Arm(remaining, action, seconds, instance, chance)))


async def disarm_failpoint(stores: Stores, name: str) -> None:
    """Disarm ``name``. On return no process can take a firing of it any more, and every
    firing taken before has committed (a self-stop firing acts within ``self_stop_window_s``)."""
    await _seats(stores, "execute", "DELETE FROM failpoints WHERE name = $1", name)


async def disarm_all_failpoints(stores: Stores) -> list[str]:
    """Disarm everything; the names that were armed ([] before the schema exists)."""
    try:
        rows = await _seats(stores, "fetch", "DELETE FROM failpoints RETURNING name")
    except asyncpg.UndefinedTableError:
        return []
    return sorted(str(r["name"]) for r in rows)


# --- pending work ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PendingWork:
    """Work the service has not finished; all zero when nothing is in flight."""

    prepared: int  # in-doubt prepared transactions of the seats database
    prepared_payments: int  # ... of the payments database
    sagas: int  # sagas not DONE
    finalizing: int  # orders rolling forward to SOLD
    expired_holds: int  # seats HELD past their hold's expiry
    live_holds: int  # authorized orders whose buyer may still finalize
    last_hold_expiry_in_s: float  # when the last live hold expires (0 without one)


#: Everything pending in the seats database in ONE statement (one snapshot): separate statements
#: let a sweeper's expiry commit between them and call a system settled while a void is in flight.
_SEATS_PENDING = """
SELECT (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()) AS prepared,
       (SELECT count(*) FROM sagas WHERE state <> 'DONE') AS sagas,
       (SELECT count(*) FROM orders WHERE status = 'AUTHORIZED'
         AND finalize_started_at IS NOT NULL) AS finalizing,
       (SELECT count(*) FROM seats WHERE state = 'HELD' AND hold_expires_at < now())
         AS expired_holds,
       live.n AS live_holds, extract(epoch FROM live.last_expiry - now()) AS last_expiry_in
FROM (SELECT count(*) AS n, max(hold_expires_at) AS last_expiry FROM orders
      WHERE status = 'AUTHORIZED' AND finalize_started_at IS NULL
        AND hold_expires_at > now()) AS live
"""
_PREPARED = "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"


async def pending_work(stores: Stores) -> PendingWork:
    """What is in flight now (the seats database's counts are one snapshot)."""
    row = await _seats(stores, "fetchrow", _SEATS_PENDING)
    conn = await asyncpg.connect(stores.payments_dsn, timeout=CALL_TIMEOUT_S)
    try:
        payments = int(await conn.fetchval(_PREPARED, timeout=CALL_TIMEOUT_S) or 0)
    finally:
        await conn.close()
    return PendingWork(
        prepared=int(row["prepared"] or 0), prepared_payments=payments,
        sagas=int(row["sagas"] or 0), finalizing=int(row["finalizing"] or 0),
        expired_holds=int(row["expired_holds"] or 0), live_holds=int(row["live_holds"] or 0),
        last_hold_expiry_in_s=float(row["last_expiry_in"] or 0.0))


# --- locks (the lock strategy's seat leases in Redis; best-effort) ---------------------------
@dataclass(frozen=True, slots=True, order=True)
class LockHold:
    """A seat lock held when it was read: its owner value and the process instance owning it
    (``target-<instance>``; None for a foreign value)."""

    seat: Seat
    owner: str

    @property
    def instance(self) -> str | None:
        return owner_instance(self.owner)


def _redis(stores: Stores) -> aioredis.Redis:
    return aioredis.Redis.from_url(stores.redis_url, socket_timeout=CALL_TIMEOUT_S,
                                   socket_connect_timeout=CALL_TIMEOUT_S, decode_responses=True)


def _seat_of(lock_key: str) -> Seat:
    _, _, event, seat = lock_key.split(":", 3)
    return Seat(event, seat)


async def lock_holds(stores: Stores, *, limit: int = 10_000) -> list[LockHold]:
    """The seat locks held now (a bounded, non-atomic scan), sorted by seat."""
    client = _redis(stores)
    try:
        keys: list[str] = []
        async for key in client.scan_iter(match=keys_for("*", "*")[0], count=500):
            keys.append(str(key))
            if len(keys) >= limit:
                break
        values = await client.mget(keys) if keys else []
    finally:
        await client.aclose()
    return sorted(LockHold(_seat_of(k), str(v))
                  for k, v in zip(keys, values, strict=True) if v is not None)


def holds_by_instance(holds: Iterable[LockHold]) -> Counter[str]:
    """Instance -> how many of ``holds`` it owns."""
    return Counter(h.instance for h in holds if h.instance is not None)


async def _mget(stores: Stores, keys: list[str]) -> list[str | None]:
    if not keys:
        return []
    client = _redis(stores)
    try:
        return [None if v is None else str(v) for v in await client.mget(keys)]
    finally:
        await client.aclose()


async def lock_owners(stores: Stores, seats: Sequence[Seat]) -> dict[Seat, str | None]:
    """Seat -> the owner value of its lock now (None: not locked)."""
    owners = await _mget(stores, [keys_for(*s)[0] for s in seats])
    return dict(zip(seats, owners, strict=True))


async def expired_unreleased(stores: Stores, holds: Sequence[LockHold]) -> int:
    """Of ``holds``, how many ran out without a release: the lock no longer names the owner
    while the seat's last-acquirer record still does (a lower bound: a re-acquired seat hides
    it)."""
    locks = await _mget(stores, [keys_for(*h.seat)[0] for h in holds])
    leases = await _mget(stores, [keys_for(*h.seat)[1] for h in holds])
    return sum(1 for h, lock, lease in zip(holds, locks, leases, strict=True)
               if lock != h.owner and lease == h.owner)


async def fence_counters(stores: Stores, seats: Sequence[Seat]) -> dict[Seat, int]:
    """Seat -> its fencing counter (while a lock is held: its holder's token)."""
    values = await _mget(stores, [keys_for(*s)[2] for s in seats])
    return {s: int(v) for s, v in zip(seats, values, strict=True) if v is not None}


async def lease_left_ms(stores: Stores, seats: Sequence[Seat]) -> list[int]:
    """Remaining lease (ms) of each seat's lock (-2: not locked, -1: no expiry)."""
    if not seats:
        return []
    client = _redis(stores)
    try:
        return [int(await client.pttl(keys_for(*s)[0])) for s in seats]
    finally:
        await client.aclose()


# --- buyers (the lock strategy's confirms, seats and orders; read from Postgres) -------------
@dataclass(frozen=True, slots=True)
class SeatRow:
    """A seat as stored: ``state`` (AVAILABLE, HELD, SOLD), the fence token of its last write,
    and the order holding it (None when free)."""

    state: str
    fence_token: int
    holder_order_id: str | None


async def seat_rows(stores: Stores, seats: Sequence[Seat]) -> dict[Seat, SeatRow]:
    """Seat -> its row now (one snapshot; unknown seats are left out)."""
    if not seats:
        return {}
    rows = await _seats(
        stores, "fetch",
        "SELECT s.event_id, s.seat_id, s.state, s.fence_token, s.holder_order_id::text"
        " FROM seats s JOIN unnest($1::text[], $2::text[]) AS t(event, seat)"
        " ON s.event_id = t.event AND s.seat_id = t.seat",
        [s.event_id for s in seats], [s.seat_id for s in seats])
    return {Seat(str(r[0]), str(r[1])): SeatRow(str(r[2]), int(r[3] or 0),
                                                 None if r[4] is None else str(r[4]))
            for r in rows}


async def confirms_past_check(stores: Stores, seats: Sequence[Seat]) -> dict[Seat, set[str]]:
    """Seat -> the orders whose lock-strategy confirm on it is past its seat check and not
    finished (its seat write comes next, unless fenced out); seats with none are left out."""
    if not seats:
        return {}
    rows = await _seats(
        stores, "fetch",
        "SELECT os.event_id, os.seat_id, g.order_id::text FROM sagas g"
        " JOIN order_seats os USING (order_id)"
        " JOIN unnest($1::text[], $2::text[]) AS t(event, seat)"
        " ON os.event_id = t.event AND os.seat_id = t.seat"
        " WHERE g.strategy = 'lock' AND g.phase = 'CONFIRM' AND g.state = 'RUNNING'",
        [s.event_id for s in seats], [s.seat_id for s in seats])
    out: dict[Seat, set[str]] = {}
    for r in rows:
        out.setdefault(Seat(str(r[0]), str(r[1])), set()).add(str(r[2]))
    return out


async def paid_orders(stores: Stores, orders: Iterable[str], status: str) -> set[str]:
    """Of ``orders``, those with a payment in ``status`` (AUTHORIZED, DECLINED, ...)."""
    wanted = sorted(set(orders))
    if not wanted:
        return set()
    conn = await asyncpg.connect(stores.payments_dsn, timeout=CALL_TIMEOUT_S)
    try:
        rows = await conn.fetch("SELECT DISTINCT order_id::text FROM payments"
                                " WHERE order_id = ANY($1::uuid[]) AND status = $2",
                                wanted, status, timeout=CALL_TIMEOUT_S)
    finally:
        await conn.close()
    return {str(r[0]) for r in rows}


async def rival_demand(stores: Stores, seats: Sequence[Seat], within_s: float) -> int:
    """Orders on the still AVAILABLE ``seats`` created in the last ``within_s`` and not being
    confirmed right now: buyers that wanted a seat and will come back while it looks free."""
    if not seats:
        return 0
    return int(await _seats(
        stores, "fetchval",
        "SELECT count(DISTINCT o.order_id) FROM order_seats os JOIN orders o USING (order_id)"
        " JOIN seats s ON s.event_id = os.event_id AND s.seat_id = os.seat_id"
        " JOIN unnest($1::text[], $2::text[]) AS t(event, seat)"
        " ON os.event_id = t.event AND os.seat_id = t.seat"
        " WHERE s.state = 'AVAILABLE' AND o.created_at > now() - make_interval(secs => $3)"
        " AND NOT EXISTS (SELECT 1 FROM sagas g WHERE g.order_id = o.order_id"
        " AND g.state = 'RUNNING')",
        [s.event_id for s in seats], [s.seat_id for s in seats], float(within_s)) or 0)


@dataclass(frozen=True, slots=True)
class OrderProgress:
    """Of some orders: how many are SOLD, finished otherwise (FAILED, EXPIRED, CANCELLED),
    walked away (AUTHORIZED, confirm answered long ago, no finalize asked for), and in all."""

    sold: int
    finished: int
    walked_away: int
    total: int


_PROGRESS = (
    "SELECT count(*) FILTER (WHERE o.status = 'SOLD'),"
    " count(*) FILTER (WHERE o.status IN ('FAILED', 'EXPIRED', 'CANCELLED')),"
    " count(*) FILTER (WHERE o.status = 'AUTHORIZED' AND o.finalize_started_at IS NULL"
    "  AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.customer_id = o.customer_id"
    "   AND k.request_path = '/api/orders/' || o.order_id || ':finalize')"
    "  AND EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.customer_id = o.customer_id"
    "   AND k.request_path = '/api/orders/' || o.order_id || ':confirm'"
    "   AND k.finished_at < now() - make_interval(secs => $2))), count(*)"
    " FROM orders o WHERE o.order_id = ANY($1::uuid[])")


async def order_progress(stores: Stores, orders: Iterable[str], *,
                         walk_away_s: float) -> OrderProgress:
    """How ``orders`` are doing (one snapshot); walked away: answered ``walk_away_s`` ago."""
    wanted = sorted(set(orders))
    row = await _seats(stores, "fetchrow", _PROGRESS, wanted, float(walk_away_s))
    if row is None:
        return OrderProgress(0, 0, 0, len(wanted))
    return OrderProgress(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


# --- the admin view of the door (GET /admin/introspect) --------------------------------------
async def snapshot(settings: Settings, *, max_locks: int = 1000) -> dict[str, Any]:
    """The door's answers for one service process, as JSON: its clocks, the armed failpoints,
    the pending work and the seat locks held (at most ``max_locks``; best-effort)."""
    stores = Stores(settings.seats_dsn, settings.payments_dsn, settings.redis_url)
    holds = await lock_holds(stores, limit=max_locks)
    return {"instance": settings.instance, "clocks": asdict(clocks_of(settings)),
            "failpoints": await armed_failpoints(stores),
            "pending": asdict(await pending_work(stores)),
            "locks": [{"event_id": h.seat.event_id, "seat_id": h.seat.seat_id,
                       "owner": h.owner, "instance": h.instance} for h in holds]}


# --- coverage (the dangerous situations a run produced; target_service/coverage.py) ----------
async def coverage_counts(seats_dsn: str) -> dict[str, int]:
    """Situation -> how often it happened since the last ``reset_data``."""
    return await read_counts(seats_dsn)


def coverage_situations(strategy: str) -> tuple[str, ...]:
    """The situations that apply to ``strategy`` (what a run of it should reach)."""
    return situations_for(strategy)


def situation_doc(name: str) -> str:
    """One line saying what situation ``name`` is."""
    return SITUATIONS[name].doc


# --- exploration (the steps where a crash, pause or delay matters) -------------------------
def exploration_failpoints(strategy: str) -> dict[str, str]:
    """Failpoint -> its default action, for every failpoint of ``strategy``'s steps."""
    return {name: default_action(name) for name in failpoints_of(strategy)}


def crash_gaps(strategy: str | None) -> tuple[str, ...]:
    """The failpoints where a crash leaves ``strategy``'s purchase between two stores, its
    commit point first (:data:`target_service.failpoints.CRASH_GAPS`); for None, every
    strategy's commit point first, then the rest, each once."""
    if strategy is not None:
        return CRASH_GAPS[strategy]
    rounds = zip_longest(*(CRASH_GAPS[s] for s in sorted(CRASH_GAPS)))
    return tuple(dict.fromkeys(p for points in rounds for p in points if p is not None))


#: the clocks (fields of :class:`Clocks`) whose deadline a request of each strategy races
#: while it is held at a step: when one passes meanwhile, a rival or a recovery may act on
#: what the held request still holds (a lapsed lease is taken over, a timed-out payment
#: call or a stale saga or in-doubt transaction is settled by the sweepers, a hold expires)
STRATEGY_DEADLINES: dict[str, tuple[str, ...]] = {
    "lock": ("lock_lease_s", "provider_timeout_s", "saga_stale_s", "hold_ttl_s"),
    "saga": ("provider_timeout_s", "saga_stale_s", "hold_ttl_s"),
    "2pc": ("provider_timeout_s", "twopc_grace_s", "hold_ttl_s"),
}


def deadlines(strategy: str, clk: Clocks) -> dict[str, float]:
    """Clock name -> seconds, for each deadline a held request of ``strategy`` races
    (:data:`STRATEGY_DEADLINES`; ValueError for an unknown strategy)."""
    if strategy not in STRATEGY_DEADLINES:
        raise ValueError(f"unknown strategy {strategy!r}")
    return {name: float(getattr(clk, name)) for name in STRATEGY_DEADLINES[strategy]}
