"""Completed purchases per second, per strategy, beside pgbench running the same SQL.

Not a test. Usage (needs a running service and direct access to its Postgres)::

    python benchmarks/service_bench.py --target-url http://127.0.0.1:PORT \\
        --seats-dsn postgresql://.../seats --payments-dsn postgresql://.../payments \\
        [--duration 15] [--concurrency 16] [--strategies saga,lock,2pc] [--rounds 3]

Defaults come from ``harness status --json`` when a local stack runs. **It wipes the run data**
(``reset_data`` with a 10,400-seat benchmark event) so that buyers rarely contend (low
contention: every purchase picks a random free seat).

One purchase = ``POST /api/orders`` (1 seat) + ``:confirm`` (``tok_ok``) + ``:finalize``.
The pgbench baseline runs, with the same number of clients and duration, a script holding the
SQL statements that the service and the provider issue for one *saga* purchase (idempotency
records, order, saga log, seat hold, authorization, capture, tickets), in the same transaction
boundaries, against a scratch database ``bench_pgbench`` on the same Postgres (both schemas,
the payments tables in schema ``pay``), over a direct connection (the service reaches Postgres
through Toxiproxy, as in every run). Each round measures the service, then pgbench, back to back;
``--rounds N`` repeats that and prints each round's ratio service/pgbench and the median
(min-max) over the rounds, since the machine may be shared and noisy. The goal is >= 0.5 for saga.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import string
import subprocess
import sys
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from target_service.seed import DEFAULT_EVENTS, EventSpec, SectionSpec, reset_data

BENCH_EVENT = EventSpec("evt_bench", "Benchmark Arena",
                        (SectionSpec("FLOOR", string.ascii_uppercase, 400, 5000),))
SEAT_IDS = [s[0] for s in BENCH_EVENT.seats()]


def _stack_defaults() -> dict[str, str]:
    try:
        out = subprocess.run(["harness", "status", "--json"], capture_output=True, text=True,
                             timeout=20, check=False)
        info = json.loads(out.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    return {"target": str(info.get("target", "")), "seats_dsn": str(info.get("seats_dsn", "")),
            "payments_dsn": str(info.get("payments_dsn", "")),
            "seats_dsn_proxied": str(info.get("seats_dsn_proxied", ""))}


async def _purchase(http: aiohttp.ClientSession, url: str, headers: dict[str, str],
                    strategy: str, free: list[str]) -> bool:
    if not free:
        return False
    seat = free.pop()

    async def post(path: str, body: Any) -> tuple[int, Any]:
        h = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        async with http.post(url + path, json=body, headers=h) as r:
            return r.status, await r.json(content_type=None)

    status, order = await post("/api/orders", {"event_id": BENCH_EVENT.event_id,
                                               "seats": [seat], "strategy": strategy})
    if status != 201:
        return False
    oid = order["order_id"]
    status, _ = await post(f"/api/orders/{oid}:confirm", {"payment_token": "tok_ok"})
    if status != 202:
        return False
    status, _ = await post(f"/api/orders/{oid}:finalize", None)
    return status == 200


async def bench_service(url: str, strategy: str, duration: float, concurrency: int) -> float:
    free = SEAT_IDS[:]
    random.Random(7).shuffle(free)
    done = 0
    failed = 0
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.post(url + "/api/customers") as r:
            token = (await r.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(20):  # warm-up (pools, caches)
            await _purchase(http, url, headers, strategy, free)
        deadline = time.monotonic() + duration

        async def worker() -> None:
            nonlocal done, failed
            while time.monotonic() < deadline:
                if await _purchase(http, url, headers, strategy, free):
                    done += 1
                else:
                    failed += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - start
    if failed:
        print(f"  ({strategy}: {failed} purchases did not complete)", file=sys.stderr)
    return done / elapsed


#: pgbench script: the SQL of one saga purchase, statement for statement
PGBENCH_SCRIPT = Path(__file__).with_name("saga_purchase.sql")
#: the one customer of every pgbench purchase (the service benchmark also has one buyer)
PGBENCH_CUSTOMER = uuid.UUID("00000000-0000-0000-0000-0000000000be")




def _sql(db: str) -> str:
    folder = resources.files("target_service") / "migrations" / db
    return "\n".join(e.read_text() for e in sorted(folder.iterdir(), key=lambda e: e.name)
                     if e.name.endswith(".sql"))


async def prepare_pgbench_db(seats_dsn: str) -> str:
    """(Re)create ``bench_pgbench`` with both schemas and the benchmark event; its DSN."""
    admin = await asyncpg.connect(seats_dsn)
    try:
        await admin.execute("DROP DATABASE IF EXISTS bench_pgbench")
        await admin.execute("CREATE DATABASE bench_pgbench")
    finally:
        await admin.close()
    dsn = re.sub(r"/[^/?]+(\?|$)", r"/bench_pgbench\1", seats_dsn, count=1)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_sql("seats"))
        await conn.execute("CREATE SCHEMA pay; SET search_path = pay;")
        await conn.execute(_sql("payments"))
        await conn.execute("SET search_path = public")
        from target_service.seed import seed_events

        await seed_events(conn, [BENCH_EVENT])
        await conn.execute("INSERT INTO customers (customer_id, token_sha256) VALUES ($1, 'x')",
                           PGBENCH_CUSTOMER)
    finally:
        await conn.close()
    return dsn


def _same_database(dsn: str, like: str) -> str:
    """``dsn``'s host and port with ``like``'s database."""
    return re.sub(r"/[^/?]+(\?|$)", "/" + urlparse(like).path.lstrip("/") + r"\1", dsn, count=1)


def run_pgbench(dsn: str, duration: float, concurrency: int) -> float:
    """Transactions (= purchases) per second of the purchase script."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench is not installed (Debian: apt-get install postgresql-client)")
    u = urlparse(dsn)
    env = {**os.environ, "PGHOST": u.hostname or "127.0.0.1", "PGPORT": str(u.port or 5432),
           "PGUSER": u.username or "postgres", "PGDATABASE": u.path.lstrip("/")}
    if u.password:
        env["PGPASSWORD"] = u.password
    out = subprocess.run(
        [pgbench, "-n", "-f", str(PGBENCH_SCRIPT), "-c", str(concurrency), "-j", "2",
         "-T", str(int(duration))], env=env, capture_output=True, text=True, check=False)
    m = re.search(r"tps = ([0-9.]+)", out.stdout)
    if out.returncode != 0 or m is None:
        raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1))


def _spread(values: list[float]) -> str:
    """``median (min-max)`` of ``values``."""
    return (f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
            if values else "n/a")


async def main() -> int:
    defaults = _stack_defaults()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target-url", default=os.environ.get("TARGET_URL", defaults.get("target")))
    p.add_argument("--seats-dsn", default=os.environ.get("SEATS_DSN",
                                                         defaults.get("seats_dsn")))
    p.add_argument("--payments-dsn", default=os.environ.get("PAYMENTS_DSN",
                                                            defaults.get("payments_dsn")))
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--strategies", default="saga,lock,2pc")
    p.add_argument("--proxied-seats-dsn", default=None,
                   help="also run pgbench through this DSN (the Toxiproxy link the service"
                        " uses); informational, the ratio stays against the direct run")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat service + pgbench this many times (the machine may be noisy)")
    args = p.parse_args()
    if not (args.target_url and args.seats_dsn and args.payments_dsn):
        p.error("give --target-url, --seats-dsn and --payments-dsn (or run a local stack)")
    if args.proxied_seats_dsn is None:  # the local stack's link, when benchmarking that stack
        same = args.seats_dsn == defaults.get("seats_dsn")
        args.proxied_seats_dsn = defaults.get("seats_dsn_proxied", "") if same else ""
    pg_dsn = await prepare_pgbench_db(args.seats_dsn)
    strategies = args.strategies.split(",")
    rounds: list[dict[str, float]] = []
    for n in range(1, args.rounds + 1):
        measured: dict[str, float] = {}
        for strategy in strategies:
            await reset_data(args.seats_dsn, args.payments_dsn,
                             event_seed=(*DEFAULT_EVENTS, BENCH_EVENT))
            measured[strategy] = await bench_service(args.target_url.rstrip("/"), strategy,
                                                     args.duration, args.concurrency)
        measured["pgbench"] = run_pgbench(pg_dsn, args.duration, args.concurrency)
        if args.proxied_seats_dsn:
            measured["pgbench_proxied"] = run_pgbench(
                _same_database(args.proxied_seats_dsn, pg_dsn), args.duration, args.concurrency)
        rounds.append(measured)
        base = measured["pgbench"]
        proxied = (f" (via toxiproxy {measured['pgbench_proxied']:7.1f}/s)"
                   if "pgbench_proxied" in measured else "")
        print(f"round {n}: pgbench {base:7.1f}/s{proxied}  " + "  ".join(
            f"{s} {measured[s]:6.1f}/s ({measured[s] / base:.2f})" for s in strategies),
            flush=True)
    await reset_data(args.seats_dsn, args.payments_dsn)
    pg = [r["pgbench"] for r in rounds]
    print(f"pgbench (saga purchase SQL, {args.concurrency} clients, direct connection): "
          f"median {statistics.median(pg):.1f} purchases/s (min {min(pg):.1f}, "
          f"max {max(pg):.1f}) over {len(rounds)} round(s)")
    if args.proxied_seats_dsn:
        via = [r["pgbench_proxied"] for r in rounds]
        print(f"pgbench through the service's Toxiproxy link (informational): median "
              f"{statistics.median(via):.1f} purchases/s (min {min(via):.1f}, max {max(via):.1f})")
    ratios: dict[str, list[float]] = {}
    for s in strategies:
        rates = [r[s] for r in rounds]
        ratios[s] = [r[s] / r["pgbench"] for r in rounds]
        print(f"service {s:5}: median {statistics.median(rates):7.1f} purchases/s"
              f"   ratio to pgbench of the same round: {_spread(ratios[s])}")
    print(json.dumps({"rounds": rounds, "ratio": ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
