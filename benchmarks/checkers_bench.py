"""Benchmark (not a test): the full checker suite on 100k and 1M synthetic orders.

Fills a scratch database pair ``bench_seats_<n>`` / ``bench_payments_<n>`` per size in the
stack's Postgres (created with the service's own migrations; the stack's ``seats`` /
``payments`` are never touched; ``--reuse`` keeps a pair already filled with ``n`` orders),
then times, in the same run, a plain ``count(*)`` scan of every table the checkers read and the
full ``check_all`` (with a client history of 2% of the orders), and prints both and their ratio
per size, plus the suite's growth from the smallest to the largest size.

    .venv/bin/python benchmarks/checkers_bench.py                 # the running stack (.state)
    .venv/bin/python benchmarks/checkers_bench.py --state-dir .state/test --sizes 100000
    .venv/bin/python benchmarks/checkers_bench.py --admin-dsn postgresql://user@host:port/postgres
    .venv/bin/python benchmarks/checkers_bench.py --sizes 1000000 --reuse   # skip a done fill

The synthetic shop: events of 200 seats; each order takes its own one or two seats (so live
orders never collide); statuses 60% SOLD (seats SOLD, payment CAPTURED, tickets), 10% live
AUTHORIZED (seats HELD, payment AUTHORIZED), 10% EXPIRED (payment VOIDED), 15% FAILED,
5% PENDING; a third of the orders are 2PC with a decision and both commit markers per phase.
Every invariant holds on it, so the suite does its full work and reports nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from typing import Any

import asyncpg

from harness.contract.history import HistoryEvent, body_digest
from invariants import CheckContext, check_all
from target_service.migrate import migrate

SEATS_PER_EVENT = 200
ORDERS_PER_EVENT = 100
HISTORY_FRACTION = 50  # one order in 50 has its create/confirm/finalize in the history

# status by i % 20: 0-11 SOLD, 12-13 AUTHORIZED, 14-15 EXPIRED, 16-18 FAILED, 19 PENDING
_STATUS = """CASE WHEN i % 20 < 12 THEN 'SOLD' WHEN i % 20 < 14 THEN 'AUTHORIZED'
                  WHEN i % 20 < 16 THEN 'EXPIRED' WHEN i % 20 < 19 THEN 'FAILED'
                  ELSE 'PENDING' END"""
_ORDER_ID = "md5('order-' || i)::uuid"
_PAYMENT_ID = "'pay_' || substr(md5('pay-' || i), 1, 16)"
_STRATEGY = "(ARRAY['lock', 'saga', '2pc'])[1 + i % 3]"
_EVENT = "'evt_' || (i / 100)"
_NSEATS = "(1 + i % 2)"  # one or two seats
_PRICE = 5000

SEATS_FILL = [
    f"""INSERT INTO events (event_id, name, starts_at, capacity)
        SELECT 'evt_' || e, 'Event ' || e, now() + interval '30 days', {SEATS_PER_EVENT}
        FROM generate_series(0, $1::int / {ORDERS_PER_EVENT}) AS e""",
    f"""INSERT INTO seats (event_id, seat_id, section, row_label, seat_number, price_cents)
        SELECT 'evt_' || e, 'S-' || lpad(s::text, 3, '0'), 'MAIN', 'S', s, {_PRICE}
        FROM generate_series(0, $1::int / {ORDERS_PER_EVENT}) AS e,
             generate_series(0, {SEATS_PER_EVENT - 1}) AS s""",
    """INSERT INTO customers (customer_id, token_sha256)
        SELECT md5('cust-' || c)::uuid, md5('tok-' || c) || md5('tok2-' || c)
        FROM generate_series(0, $1::int / 4) AS c""",
    f"""INSERT INTO orders (order_id, customer_id, event_id, strategy, status, amount_cents,
            idempotency_key, payment_id, hold_expires_at, finalize_started_at, authorized_at,
            sold_at, closed_at)
        SELECT {_ORDER_ID}, md5('cust-' || (i / 4))::uuid, {_EVENT}, {_STRATEGY}, st,
               {_NSEATS} * {_PRICE}, 'create-' || i,
               CASE WHEN st IN ('SOLD', 'AUTHORIZED', 'EXPIRED') THEN {_PAYMENT_ID} END,
               CASE WHEN st IN ('AUTHORIZED', 'EXPIRED')
                    THEN now() + CASE WHEN st = 'AUTHORIZED' THEN interval '1 hour'
                                      ELSE interval '-1 hour' END END,
               CASE WHEN st = 'SOLD' THEN now() END,
               CASE WHEN st IN ('SOLD', 'AUTHORIZED', 'EXPIRED') THEN now() END,
               CASE WHEN st = 'SOLD' THEN now() END,
               CASE WHEN st IN ('FAILED', 'EXPIRED') THEN now() END
        FROM (SELECT i, {_STATUS} AS st FROM generate_series(0, $1::int - 1) AS i) o""",
    f"""INSERT INTO order_seats (order_id, event_id, seat_id, price_cents)
        SELECT {_ORDER_ID}, {_EVENT}, 'S-' || lpad((2 * (i % 100) + k)::text, 3, '0'), {_PRICE}
        FROM generate_series(0, $1::int - 1) AS i, generate_series(0, 1) AS k
        WHERE k < {_NSEATS}""",
    """UPDATE seats s SET state = CASE WHEN o.status = 'SOLD' THEN 'SOLD' ELSE 'HELD' END,
            holder_order_id = o.order_id, holder_strategy = o.strategy,
            hold_expires_at = CASE WHEN o.status = 'AUTHORIZED' THEN o.hold_expires_at END
        FROM order_seats os JOIN orders o USING (order_id)
        WHERE o.status IN ('SOLD', 'AUTHORIZED')
          AND s.event_id = os.event_id AND s.seat_id = os.seat_id""",
    """INSERT INTO tickets (ticket_id, order_id, event_id, seat_id, price_cents)
        SELECT md5('ticket-' || os.order_id || os.seat_id)::uuid, os.order_id, os.event_id,
               os.seat_id, os.price_cents
        FROM order_seats os JOIN orders o USING (order_id) WHERE o.status = 'SOLD'""",
    """INSERT INTO twopc_decisions (gid, order_id, phase, decision, decided_by, completed_at)
        SELECT 'bk2pc:' || o.order_id || ':' || ph || ':0000abcd', o.order_id, ph, 'COMMIT',
               'bench', now()
        FROM orders o, unnest(ARRAY['CONFIRM', 'FINALIZE']) AS ph
        WHERE o.strategy = '2pc' AND (o.status = 'SOLD' OR ph = 'CONFIRM')
          AND o.status IN ('SOLD', 'AUTHORIZED')""",
    """INSERT INTO twopc_applied (gid, order_id, phase)
        SELECT gid, order_id, phase FROM twopc_decisions""",
]

PAYMENTS_FILL = [
    f"""INSERT INTO payments (payment_id, order_id, amount_cents, status, payment_token,
            idempotency_key, source)
        SELECT {_PAYMENT_ID}, {_ORDER_ID}, {_NSEATS} * {_PRICE},
               CASE st WHEN 'SOLD' THEN 'CAPTURED' WHEN 'AUTHORIZED' THEN 'AUTHORIZED'
                       ELSE 'VOIDED' END,
               'tok_ok', 'auth-' || {_ORDER_ID}, 'api'
        FROM (SELECT i, {_STATUS} AS st FROM generate_series(0, $1::int - 1) AS i) o
        WHERE st IN ('SOLD', 'AUTHORIZED', 'EXPIRED')""",
    """INSERT INTO twopc_applied (gid, order_id, phase)
        SELECT 'bk2pc:' || md5('order-' || i)::uuid || ':' || ph || ':0000abcd',
               md5('order-' || i)::uuid, ph
        FROM generate_series(0, $1::int - 1) AS i, unnest(ARRAY['CONFIRM', 'FINALIZE']) AS ph
        WHERE i % 3 = 2 AND (i % 20 < 12 OR (i % 20 < 14 AND ph = 'CONFIRM'))""",
]

SEATS_TABLES = ("events", "seats", "customers", "orders", "order_seats", "tickets",
                "twopc_decisions", "twopc_applied")
PAYMENTS_TABLES = ("payments", "twopc_applied")


def dsn_for(admin_dsn: str, database: str) -> str:
    return admin_dsn.rsplit("/", 1)[0] + "/" + database


async def recreate(admin_dsn: str, database: str) -> None:
    conn: Any = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def filled(seats_dsn: str, payments_dsn: str, n: int) -> bool:
    """Whether the pair exists and its last fill step finished for exactly ``n`` orders."""
    want = {  # orders (i), their payments (i % 20 < 16), payments' commit markers (last step)
        seats_dsn: ("SELECT count(*) FROM orders", n),
        payments_dsn: ("SELECT count(*) FROM payments", n // 20 * 16 + min(n % 20, 16)),
    }
    try:
        for dsn, (sql, count) in want.items():
            conn: Any = await asyncpg.connect(dsn)
            try:
                if await conn.fetchval(sql) != count:
                    return False
                if dsn == payments_dsn and n >= 3 and not await conn.fetchval(
                        "SELECT EXISTS (SELECT FROM twopc_applied)"):
                    return False
            finally:
                await conn.close()
    except (asyncpg.InvalidCatalogNameError, asyncpg.UndefinedTableError):
        return False
    return True


async def fill(seats_dsn: str, payments_dsn: str, n: int) -> float:
    started = time.perf_counter()
    for dsn, statements in ((seats_dsn, SEATS_FILL), (payments_dsn, PAYMENTS_FILL)):
        conn: Any = await asyncpg.connect(dsn, command_timeout=3600)
        try:
            for sql in statements:
                await conn.execute(sql.replace("$1::int", str(int(n))))
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
    return time.perf_counter() - started


def history(n: int) -> list[HistoryEvent]:
    """create / confirm / finalize of every HISTORY_FRACTION-th SOLD order, all ``ok``."""
    events: list[HistoryEvent] = []
    t = 1_700_000_000.0
    for i in range(0, n, HISTORY_FRACTION):
        if i % 20 >= 12:
            continue
        order_id = str(uuid.UUID(hashlib.md5(f"order-{i}".encode()).hexdigest()))  # noqa: S324
        customer = str(uuid.UUID(hashlib.md5(f"cust-{i // 4}".encode()).hexdigest()))  # noqa: S324
        seats = [f"S-{2 * (i % 100) + k:03d}" for k in range(1 + i % 2)]
        tickets = [str(uuid.UUID(hashlib.md5(f"ticket-{order_id}{s}".encode()).hexdigest()))  # noqa: S324
                   for s in seats]
        bodies = {
            "create": {"order_id": order_id, "status": "PENDING", "event_id": f"evt_{i // 100}",
                       "seats": seats, "amount_cents": len(seats) * _PRICE,
                       "strategy": ("lock", "saga", "2pc")[i % 3]},
            "confirm": {"order_id": order_id, "status": "AUTHORIZED"},
            "finalize": {"order_id": order_id, "status": "SOLD",
                         "tickets": [{"ticket_id": tk} for tk in tickets]},
        }
        for op, body in bodies.items():
            t += 0.01
            base: HistoryEvent = {
                "type": "invoke", "time": t, "process": "bench/1", "op_id": f"{op}-{i}",
                "op": op,  # type: ignore[typeddict-item]
                "customer": customer, "key": f"{op}-{i}",
                "strategy": ("lock", "saga", "2pc")[i % 3], "event_id": f"evt_{i // 100}",
                "seats": seats, "order_id": None if op == "create" else order_id,
            }
            digest = body_digest(body)
            events.append(base)
            events.append({**base, "type": "ok", "time": t + 0.005, "status": 200,
                           "body": body, "body_digest": digest, "order_id": order_id,
                           "attempts": [{"status": 200, "replayed": False,
                                         "body_digest": digest}]})
    return events


async def count_scan(seats_dsn: str, payments_dsn: str) -> tuple[float, int]:
    started = time.perf_counter()
    rows = 0
    for dsn, tables in ((seats_dsn, SEATS_TABLES), (payments_dsn, PAYMENTS_TABLES)):
        conn: Any = await asyncpg.connect(dsn)
        try:
            for table in tables:
                rows += await conn.fetchval(f"SELECT count(*) FROM {table}")
        finally:
            await conn.close()
    return time.perf_counter() - started, rows


async def suite(seats_dsn: str, payments_dsn: str, events: list[HistoryEvent]
                ) -> tuple[float, dict[str, float], bool]:
    started = time.perf_counter()
    results = await check_all(CheckContext(seats_dsn, payments_dsn, history=events,
                                           timeout_s=600))
    elapsed = time.perf_counter() - started
    bad = [(r.name, r.error, r.examples[:1]) for r in results if not r.ok]
    if bad:
        print(f"  !! the synthetic data violates invariants: {bad}")
    return elapsed, {r.name: r.seconds for r in results}, not bad


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", help="the stack whose Postgres to use (default .state)")
    parser.add_argument("--admin-dsn", help="a Postgres DSN to use instead of the stack's")
    parser.add_argument("--sizes", default="100000,1000000", help="order counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=2, help="timed repetitions per size")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a scratch pair already filled with that many orders")
    args = parser.parse_args()
    if args.admin_dsn:
        admin = args.admin_dsn
    else:
        from harness.stack import Stack

        admin = Stack(args.state_dir).require_state().dsn("postgres")
    summary = []
    for n in (int(s) for s in args.sizes.split(",")):
        seats_db, payments_db = f"bench_seats_{n}", f"bench_payments_{n}"
        seats_dsn, payments_dsn = dsn_for(admin, seats_db), dsn_for(admin, payments_db)
        if args.reuse and await filled(seats_dsn, payments_dsn, n):
            how = "reused"
        else:
            for db in (seats_db, payments_db):
                await recreate(admin, db)
            await migrate(seats_dsn, "seats")
            await migrate(payments_dsn, "payments")
            how = f"filled in {await fill(seats_dsn, payments_dsn, n):.1f}s"
        events = history(n)
        print(f"{n:>9,} orders: {how}; history of {len(events):,} events")
        best_scan = best_suite = float("inf")
        per_checker: dict[str, float] = {}
        for rep in range(args.repeat):
            scan, rows = await count_scan(seats_dsn, payments_dsn)
            took, per, _ = await suite(seats_dsn, payments_dsn, events)
            print(f"  run {rep + 1}: count(*) scan of {rows:,} rows {scan:.2f}s, "
                  f"checker suite {took:.2f}s, ratio {took / scan:.1f}x")
            best_scan, best_suite = min(best_scan, scan), min(best_suite, took)
            if took <= best_suite:
                per_checker = per
        print("  per checker (best run): " + ", ".join(
            f"{k} {v:.2f}s" for k, v in per_checker.items()))
        summary.append((n, best_scan, best_suite))
    print("\n   orders  count(*) s   suite s   ratio")
    for n, scan, took in summary:
        print(f"{n:>9,}  {scan:>10.2f}  {took:>8.2f}  {took / scan:>5.1f}x")
    if len(summary) > 1:
        (n0, _, t0), (n1, _, t1) = summary[0], summary[-1]
        print(f"growth: {n1 / n0:.0f}x the orders took {t1 / t0:.1f}x the suite time")


if __name__ == "__main__":
    asyncio.run(main())
