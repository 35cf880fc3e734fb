"""Background recovery, run by every service process every ``SWEEP_INTERVAL_S``.

* hold expiry: AUTHORIZED orders past ``hold_expires_at`` (and not finalizing) become EXPIRED,
  their seats are released and their authorization voided;
* saga recovery: stale CONFIRM sagas are compensated, stale FINALIZE sagas rolled forward,
  COMPENSATING sagas finished (void);
* 2PC recovery (presumed abort): every prepared gid of ours older than ``TWOPC_GRACE_S`` gets
  the logged decision, or ABORT if none was logged (also run once at start-up);
* idempotency retention: records past ``expires_at`` are deleted.

All of it is idempotent and CAS-guarded, so several processes may sweep at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from target_service import saga_store, twopc_log
from target_service.context import Deps
from target_service.db import DB_ERRORS
from target_service.orders import close_order, fetch_order, mark_failed
from target_service.payment_flow import capture_and_issue, fail_confirm, finish_void
from target_service.problems import Problem
from target_service.strategies.twopc import TwoPhaseCommit, finish_prepared

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SweepReport:
    """What one sweep did (returned by ``POST /admin/recover``)."""

    expired: int = 0
    sagas_compensated: int = 0
    sagas_rolled_forward: int = 0
    voids_finished: int = 0
    twopc_committed: int = 0
    twopc_aborted: int = 0
    idempotency_deleted: int = 0
    errors: list[str] = field(default_factory=list)


class Sweepers:
    """The recovery loops of one process."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.twopc = TwoPhaseCommit(deps)

    async def sweep(self, *, force: bool = False) -> SweepReport:
        """One pass of every sweeper; ``force`` ignores staleness/grace (use when no request
        is in flight, e.g. after the load stopped)."""
        rep = SweepReport()
        steps = [("2pc", self.recover_2pc), ("expiry", self.expire_holds),
                 ("sagas", self.recover_sagas), ("idempotency", self.purge_idempotency)]
        for name, step in steps:
            try:
                await step(rep, force)
            except Exception as exc:  # keep sweeping the others
                log.warning("sweeper %s failed: %s", name, exc)
                rep.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return rep

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.deps.settings.sweep_interval_s)
            await self.sweep()

    async def expire_holds(self, rep: SweepReport, force: bool) -> None:
        d = self.deps
        rows = await d.seats.fetch(
            "SELECT order_id FROM orders WHERE status = 'AUTHORIZED' AND hold_expires_at < now()"
            " AND finalize_started_at IS NULL ORDER BY hold_expires_at LIMIT 200")
        for r in rows:
            async with d.seats.acquire() as conn:
                order = await fetch_order(conn, r["order_id"])
            if order is None:
                continue
            if order.strategy == "2pc":
                try:
                    if await self.twopc.close(order, "EXPIRED"):
                        rep.expired += 1
                except Problem:
                    pass
                continue
            async with d.seats.acquire() as conn, conn.transaction():
                saga = await saga_store.get(conn, order.order_id)
                if saga is None or not await close_order(conn, order.order_id, "EXPIRED"):
                    continue
                saga = await saga_store.advance(conn, saga, phase="EXPIRE", state="COMPENSATING",
                                                step="SEATS_RELEASED",
                                                payment_id=order.payment_id)
                if saga is None:
                    raise Problem("ORDER_BUSY", "saga moved")  # rolls the expiry back
            rep.expired += 1
            d.metrics.sweeper.labels("expiry", "expired").inc()
            await d.failpoints.hit("expiry-after-close")
            if await finish_void(d, order, saga) is not None:
                rep.voids_finished += 1

    async def recover_sagas(self, rep: SweepReport, force: bool) -> None:
        d = self.deps
        stale_s = 0.0 if force else d.settings.saga_stale_s
        comp_s = 0.0 if force else max(2 * d.settings.sweep_interval_s, 1.0)
        async with d.seats.acquire() as conn:
            sagas = await saga_store.stale(conn, running_s=stale_s, compensating_s=comp_s)
        for s in sagas:
            async with d.seats.acquire() as conn:
                saga = await saga_store.takeover(conn, s.order_id, s.version)
                order = await fetch_order(conn, s.order_id)
            if saga is None or order is None:
                continue
            await d.failpoints.hit("sweeper-after-takeover")
            try:
                await self._redrive(saga, order, rep)
            except Problem as exc:
                rep.errors.append(f"saga {s.order_id}: {exc.code}")
            except DB_ERRORS as exc:
                rep.errors.append(f"saga {s.order_id}: {type(exc).__name__}")

    async def _redrive(self, saga: saga_store.Saga, order: Any, rep: SweepReport) -> None:
        d = self.deps
        if saga.state == "COMPENSATING":
            await d.coverage.hit("compensation-retried")
            if await finish_void(d, order, saga) is not None:
                rep.voids_finished += 1
            return
        if saga.phase == "CONFIRM":
            d.metrics.sweeper.labels("sagas", "compensate").inc()
            if order.strategy == "saga" and d.bug("saga-no-compensation"):
                # BUG saga-no-compensation: the sweeper closes the saga without compensating.
                async with d.seats.acquire() as conn, conn.transaction():
                    await saga_store.advance(conn, saga, state="DONE", step="ABANDONED")
                    await mark_failed(conn, order.order_id, "DEPENDENCY_UNAVAILABLE",
                                      "abandoned confirm")
                return
            if order.status == "AUTHORIZED":  # finished but the saga row lagged; close it
                async with d.seats.acquire() as conn:
                    await saga_store.advance(conn, saga, state="DONE", step="AUTHORIZED")
                return
            await fail_confirm(d, order, saga, "DEPENDENCY_UNAVAILABLE",
                               "confirm abandoned (process died or stalled); compensated",
                               void=True)
            rep.sagas_compensated += 1
            await d.coverage.hit("stale-confirm-compensated")
            return
        if saga.phase == "FINALIZE":
            d.metrics.sweeper.labels("sagas", "roll_forward").inc()
            if order.status == "SOLD":
                async with d.seats.acquire() as conn:
                    await saga_store.advance(conn, saga, state="DONE", step="SOLD")
                return
            await capture_and_issue(d, order, saga)
            rep.sagas_rolled_forward += 1
            await d.coverage.hit("stale-finalize-rolled-forward")
            return
        if await finish_void(d, order, saga) is not None:
            rep.voids_finished += 1

    async def recover_2pc(self, rep: SweepReport, force: bool) -> None:
        d = self.deps
        if d.bug("2pc-no-recovery"):
            # BUG 2pc-no-recovery: in-doubt prepared transactions are never resolved.
            return
        grace = 0.0 if force else d.settings.twopc_grace_s
        prepared: dict[str, list[tuple[Any, str]]] = {}
        for pool in (d.seats, d.payments):
            rows = await pool.fetch(
                "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()"
                " AND gid LIKE $1 AND prepared < now() - make_interval(secs => $2)",
                twopc_log.GID_PREFIX + "%", grace)
            for r in rows:
                parsed = twopc_log.parse_gid(r["gid"])
                if parsed is not None:
                    prepared.setdefault(parsed[0], []).append((pool, r["gid"]))
        for gid, parts in prepared.items():
            parsed = twopc_log.parse_gid(gid)
            assert parsed is not None
            decision = await twopc_log.decide(d.seats, gid, parsed[1], parsed[2], "ABORT",
                                              "recovery")
            if all([await finish_prepared(pool, pgid, decision) for pool, pgid in parts]):
                await twopc_log.mark_completed(d.seats, gid)
            d.metrics.twopc_recovered.labels(decision).inc()
            if decision == "COMMIT":
                rep.twopc_committed += 1
                await d.coverage.hit("in-doubt-committed-by-recovery")
            else:
                rep.twopc_aborted += 1
                await d.coverage.hit("in-doubt-aborted-by-recovery")

    async def purge_idempotency(self, rep: SweepReport, force: bool) -> None:
        res = await self.deps.seats.execute(
            "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys"
            " WHERE expires_at < now() LIMIT 1000)")
        rep.idempotency_deleted += int(res.split()[-1])
