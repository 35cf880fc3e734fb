"""Redis lease locks per seat with fencing tokens (see SCHEMA.md "Lock-strategy fencing").

Per seat: ``lock:seat:<e>:<s>`` (owner, PX lease), ``lease:seat:<e>:<s>`` (last acquirer, no
TTL, removed only by a clean release: never while a take-over is not yet fenced) and
``fence:seat:<e>:<s>`` (INCR counter). Acquisition is one Lua script per seat, in sorted seat
order; it returns the new fencing token and whether the acquirer *took over* an expired lease
(the previous holder may still be alive and must be fenced off by a claim in Postgres before
reading). Release and renewal check the owner (Lua).

Every script may run twice: the client retries a command whose connection failed (a pooled
connection the peer closed during a fault; :func:`connect`), and the first run may have been
applied with only its answer lost. Release and renewal are idempotent. Acquisition recognises
its own earlier success by the owner value (unique per acquisition) and answers the token it
got then: while that lock exists nobody else can have INCRed the fence counter. Whether that
first run took over an expired lease is then unknown, so the seat counts as taken over (and is
fenced in Postgres, harmless when nobody held it before) and is marked ``recovered``.

Owner values are ``i<instance>:<random>`` (``instance`` is the process's ``TARGET_INSTANCE``):
unique per acquisition, and they name the process that holds the lock, so the chaos layer can
freeze exactly a lock holder (``chaos/faults/pause.py``). :func:`owner_instance` parses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from target_service.failpoints import Stall, stall_scope

log = logging.getLogger(__name__)

_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return {tonumber(redis.call('GET', KEYS[3])), -1} end
if held then return false end
local takeover = redis.call('EXISTS', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
local token = redis.call('INCR', KEYS[3])
return {token, takeover}
"""

_RELEASE = """
local n = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then n = n + redis.call('DEL', KEYS[1]) end
if ARGV[2] == '1' and redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return n
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


#: Prefix of every owner value: ``i<instance>:``.
OWNER_PREFIX = "i"


def make_owner(instance: str) -> str:
    """A fresh owner value ``i<instance>:<24 hex>`` (random part: 96 bits, never reused)."""
    return f"{OWNER_PREFIX}{instance}:{secrets.token_hex(12)}"


def owner_instance(owner: str) -> str | None:
    """The instance named by an owner value from :func:`make_owner`; None for any other form."""
    head, sep, rest = owner.partition(":")
    if not sep or not rest or not head.startswith(OWNER_PREFIX) or len(head) == 1:
        return None
    return head[len(OWNER_PREFIX):]


def keys_for(event_id: str, seat_id: str) -> tuple[str, str, str]:
    return (f"lock:seat:{event_id}:{seat_id}", f"lease:seat:{event_id}:{seat_id}",
            f"fence:seat:{event_id}:{seat_id}")


#: Retries of a command whose connection failed: a reconnect each; a real outage still fails
#: fast (refused), and a timeout is never retried (the service's 503 stays bounded by it).
CONNECTION_RETRIES = 2


def connect(url: str, timeout_s: float) -> aioredis.Redis:
    """The service's Redis client: socket timeouts, and a command whose connection failed
    (e.g. a pooled connection the peer or Toxiproxy closed while idle; its close can cross the
    next command) is retried on a fresh connection instead of failing the request. Safe only
    because every script of :class:`LockManager` may run twice (see the module docstring)."""
    retry = Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.05), CONNECTION_RETRIES,
                  supported_errors=(RedisConnectionError,))
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=retry)
    return client


class LockUnavailable(Exception):
    """Redis could not be reached (the caller answers 503)."""


@dataclass(slots=True)
class SeatLocks:
    """Locks held on some seats of one event, with their fencing tokens."""

    event_id: str
    owner: str
    tokens: dict[str, int] = field(default_factory=dict)
    takeovers: set[str] = field(default_factory=set)
    #: take-over seats whose fence token Postgres now holds (the old holder can no longer write)
    fenced: set[str] = field(default_factory=set)
    #: seats whose acquisition answer was lost and recovered on a retry: counted as take-overs
    #: (fenced) since whether the first run took one over is unknown
    recovered: set[str] = field(default_factory=set)
    lost: bool = False
    #: ``time.monotonic()`` when the leases were last (re)started: every lease lasts from then
    renewed_at: float = 0.0

    def may_forget_takeover(self, seat: str) -> bool:
        """Whether releasing ``seat`` may drop its lease record: not while a take-over of it
        is unfenced, since the expired holder may still write and only the record tells the
        next acquirer to fence it off (found by a lock `service-pause` run: an intermediate
        acquirer that gave up without fencing erased it, and a later buyer overwrote a hold)."""
        return seat not in self.takeovers or seat in self.fenced


class LockManager:
    """Acquire / renew / release seat locks on one Redis client."""

    def __init__(self, client: Any, lease_ms: int, *, instance: str = "0",
                 unsafe_release: bool = False) -> None:
        self._r = client
        self.lease_ms = lease_ms
        self.instance = instance
        # BUG lock-unsafe-release: release deletes the keys without checking the owner, so a
        # holder whose lease expired deletes its successor's lock (and lease record), letting a
        # third acquirer in as a fresh, unfenced writer while the successor still works.
        self._unsafe_release = unsafe_release
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)

    async def acquire(self, event_id: str, seat_ids: Sequence[str]) -> SeatLocks | None:
        """All seats' locks (sorted order) or None on contention (nothing left held).

        Raises :class:`LockUnavailable` when Redis fails; whatever was acquired is released
        best-effort (an unreleased lock expires after its lease).
        """
        locks = SeatLocks(event_id, make_owner(self.instance), renewed_at=time.monotonic())
        try:
            for seat in sorted(seat_ids):
                res = await self._acquire(keys=list(keys_for(event_id, seat)),
                                          args=[locks.owner, self.lease_ms])
                if not res:
                    await self.release(locks)
                    return None
                locks.tokens[seat] = int(res[0])
                if int(res[1]) < 0:
                    locks.recovered.add(seat)
                if int(res[1]):
                    locks.takeovers.add(seat)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self.release(locks)
            raise LockUnavailable(str(exc)) from exc
        return locks

    async def release(self, locks: SeatLocks) -> None:
        """Release the locks still owned (best effort; never raises)."""
        for seat in locks.tokens:
            lock_key, lease_key, _ = keys_for(locks.event_id, seat)
            try:
                if self._unsafe_release:
                    await self._r.delete(lock_key, lease_key)
                else:
                    forget = "1" if locks.may_forget_takeover(seat) else "0"
                    await self._release(keys=[lock_key, lease_key], args=[locks.owner, forget])
            except Exception as exc:  # expires by itself
                log.warning("lock release failed for %s: %s", seat, exc)

    async def renew(self, locks: SeatLocks) -> bool:
        """Extend every lease; False (and ``locks.lost``) if any is no longer ours."""
        started = time.monotonic()
        try:
            for seat in locks.tokens:
                ok = await self._renew(keys=[keys_for(locks.event_id, seat)[0]],
                                       args=[locks.owner, self.lease_ms])
                if not ok:
                    locks.lost = True
        except Exception:
            locks.lost = True
        if not locks.lost:
            locks.renewed_at = started
        return not locks.lost

    def lapsed(self, locks: SeatLocks) -> bool:
        """Whether a lease of ``locks`` ran out (or was lost) since it was last renewed: true
        when the holder is still inside its critical section after its lease expired."""
        return locks.lost or time.monotonic() - locks.renewed_at > self.lease_ms / 1000

    @contextlib.asynccontextmanager
    async def renewing(self, locks: SeatLocks) -> Any:
        """Renew ``locks`` every third of the lease while the block runs, except while the
        block is held at a failpoint (:func:`~target_service.failpoints.stall_scope`)."""

        async def loop(held: Stall) -> None:
            while True:
                await asyncio.sleep(self.lease_ms / 3000)
                if held.stalled():
                    continue
                if not await self.renew(locks):
                    log.warning("lost seat locks of owner %s", locks.owner)
                    return

        with stall_scope() as held:
            task = asyncio.create_task(loop(held))
            try:
                yield task
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
