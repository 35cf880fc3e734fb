"""Completed purchases per second, per strategy, beside pgbench running the same SQL.

Not a test. Usage (needs a running service and direct access to its Postgres)::

    python benchmarks/service_bench.py --target-url http://127.0.0.1:PORT \\
        --seats-dsn postgresql://.../seats --payments-dsn postgresql://.../payments \\
        [--duration 15] [--concurrency 16] [--strategies saga,lock,2pc] [--rounds 3]

Defaults come from the local stack (``--state-dir``, else ``$HARNESS_STATE_DIR`` or ``.state``)
when one runs, read through the harness package (no ``harness`` on PATH needed).
**It wipes the run data** (``reset_data`` with a 10,400-seat benchmark event) so that buyers
rarely contend (low contention: every purchase picks a random free seat).

One purchase = ``POST /api/orders`` (1 seat) + ``:confirm`` (``tok_ok``) + ``:finalize``.
The pgbench baseline runs, with the same number of clients and duration, a script holding the
SQL statements that the service and the provider issue for one *saga* purchase (idempotency
records, order, saga log, seat hold, authorization, capture, tickets), in the same transaction
boundaries, against a scratch database ``bench_pgbench`` on the same Postgres (both schemas,
the payments tables in schema ``pay``), over a direct connection. Likewise the load client
connects straight to the service's port (``target_direct``; pgbench has no proxy in front of
Postgres either), while the service reaches Postgres, Redis and the provider through Toxiproxy,
as in every run. Each round measures the service, then pgbench, back to back;
``--rounds N`` repeats that and prints each round's ratio service/pgbench and the median
(min-max) over the rounds, since the machine may be shared and noisy. The goal is >= 0.5 for saga.

On a local stack it also prints where the CPU went (:mod:`cpu_split`): milliseconds of CPU per
purchase for each part (Postgres with its backends, the service processes, Toxiproxy, the
provider, Redis, this process as the load client, pgbench) in each measurement, and the *CPU
ceiling* of each ratio: pgbench's total CPU per purchase over the service path's. When both runs
keep the machine's cores busy, the measured ratio cannot exceed that ceiling by more than
their busy shares differ, however the work is scheduled.
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

import cpu_split  # benchmarks/ is on sys.path when run as a script
from cpu_split import Split

from harness.stack import Stack
from target_service import event_loop
from target_service.seed import DEFAULT_EVENTS, EventSpec, SectionSpec, reset_data

BENCH_EVENT = EventSpec("evt_bench", "Benchmark Arena",
                        (SectionSpec("FLOOR", string.ascii_uppercase, 400, 5000),))
SEAT_IDS = [s[0] for s in BENCH_EVENT.seats()]


def _stack_status(state_dir: str | None) -> dict[str, Any]:
    """The local stack's `harness status --json` document ({} when none runs), read through
    the harness package itself: no `harness` on PATH needed (an unactivated venv has none)."""
    try:
        info = Stack(state_dir).status()
    except Exception:  # no readable stack state: the flags must say where things are
        return {}
    return info if info.get("running") else {}


def _stack_defaults(info: dict[str, Any]) -> dict[str, str]:
    return {"target": str(info.get("target", "")), "seats_dsn": str(info.get("seats_dsn", "")),
            "payments_dsn": str(info.get("payments_dsn", "")),
            "seats_dsn_proxied": str(info.get("seats_dsn_proxied", "")),
            "target_direct": str(info.get("target_direct", ""))}


def stack_parts(info: dict[str, Any]) -> dict[str, list[int]]:
    """Root pids of the stack's processes by program (``target:target-0`` -> ``target``)."""
    parts: dict[str, list[int]] = {}
    for proc in info.get("processes", []):
        if proc.get("pid"):
            parts.setdefault(str(proc["name"]).split(":")[0], []).append(int(proc["pid"]))
    return parts


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


async def bench_service(url: str, strategy: str, duration: float, concurrency: int,
                        parts: dict[str, list[int]] | None = None) -> tuple[float, Split | None]:
    """Purchases per second, and the CPU split of the timed part when ``parts`` are given."""
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

        before = cpu_split.snapshot(parts) if parts else None
        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - start
        split = (cpu_split.between(before, cpu_split.snapshot(parts or {}), elapsed_s=elapsed,
                                   units=done) if before is not None else None)
    if failed:
        print(f"  ({strategy}: {failed} purchases did not complete)", file=sys.stderr)
    if split is not None:
        del split.cpu_s[cpu_split.CHILDREN]  # no child process runs during the service load
    return done / elapsed, split


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


def run_pgbench(dsn: str, duration: float, concurrency: int,
                parts: dict[str, list[int]] | None = None) -> tuple[float, Split | None]:
    """Transactions (= purchases) per second of the purchase script, and the CPU split of the
    run when ``parts`` are given (the parts that work in it: Postgres, Toxiproxy if the DSN
    goes through it; pgbench itself is always measured)."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench is not installed (Debian: apt-get install postgresql-client)")
    u = urlparse(dsn)
    env = {**os.environ, "PGHOST": u.hostname or "127.0.0.1", "PGPORT": str(u.port or 5432),
           "PGUSER": u.username or "postgres", "PGDATABASE": u.path.lstrip("/")}
    if u.password:
        env["PGPASSWORD"] = u.password
    before = cpu_split.snapshot(parts) if parts else None
    start = time.monotonic()
    out = subprocess.run(
        [pgbench, "-n", "-f", str(PGBENCH_SCRIPT), "-c", str(concurrency), "-j", "2",
         "-T", str(int(duration))], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    after = cpu_split.snapshot(parts or {}) if before is not None else None
    m = re.search(r"tps = ([0-9.]+)", out.stdout)
    n = re.search(r"number of transactions actually processed: ([0-9]+)", out.stdout)
    if out.returncode != 0 or m is None or n is None:
        raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    split = (cpu_split.between(before, after, elapsed_s=elapsed, units=int(n.group(1)))
             if before is not None and after is not None else None)
    if split is not None:
        split.cpu_s[cpu_split.CLIENT] = 0.0  # this process only waits for pgbench meanwhile
    return float(m.group(1)), split


def _cpu_line(name: str, split: Split) -> str:
    """One row of the CPU table: ms of CPU per purchase by part, total, machine busy share."""
    ms = split.per_unit_ms()
    cells = "  ".join(f"{k} {v:5.2f}" for k, v in ms.items() if v >= 0.005)
    return (f"    cpu ms/purchase {name:15} {cells}  | total {sum(ms.values()):5.2f}"
            f"  (cores busy {split.busy():.0%})")


def _spread(values: list[float]) -> str:
    """``median (min-max)`` of ``values``."""
    return (f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
            if values else "n/a")


def _cpu_summary(splits: dict[str, list[Split]], strategies: list[str]) -> dict[str, Any]:
    """Print the median CPU per purchase of every part in every measurement, and each
    strategy's CPU ceiling (pgbench's total over the service path's); return them."""
    med: dict[str, dict[str, float]] = {}
    for name, runs in splits.items():
        per = [r.per_unit_ms() for r in runs if r.units > 0]
        keys = list(dict.fromkeys(k for d in per for k in d))
        med[name] = {k: statistics.median(d.get(k, 0.0) for d in per) for k in keys}
    parts = [k for k in dict.fromkeys(k for d in med.values() for k in d)
             if any(d.get(k, 0.0) >= 0.005 for d in med.values())]
    print(f"CPU per purchase, ms (median over rounds; {os.cpu_count()} cores):")
    print("  " + f"{'':16}" + "".join(f"{k:>10}" for k in parts) + f"{'total':>10}")
    for name, d in med.items():
        print("  " + f"{name:16}" + "".join(f"{d.get(k, 0.0):10.2f}" for k in parts)
              + f"{sum(d.values()):10.2f}")
    ceiling: dict[str, float] = {}
    if "pgbench" in med:
        base = sum(med["pgbench"].values())
        for s in strategies:
            if med.get(s):
                ceiling[s] = base / sum(med[s].values())
        print("CPU ceiling of the ratio (pgbench's CPU per purchase / the service path's): "
              + "  ".join(f"{s} {c:.2f}" for s, c in ceiling.items()))
    return {"cpu_ms_per_purchase": med, "cpu_ceiling": ceiling}


async def main() -> int:
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--state-dir")
    status = _stack_status(first.parse_known_args()[0].state_dir)
    defaults = _stack_defaults(status)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--state-dir", help="the local stack's state folder (default: "
                                       "$HARNESS_STATE_DIR or ./.state)")
    p.add_argument("--target-url", default=os.environ.get(
        "TARGET_URL", defaults.get("target_direct") or defaults.get("target")),
        help="the service (default: the local stack's service port, no proxy in between, as"
             " pgbench reaches Postgres directly)")
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
    local = (args.seats_dsn == defaults.get("seats_dsn")
             and args.target_url in (defaults.get("target"), defaults.get("target_direct")))
    if args.proxied_seats_dsn is None:  # the local stack's link, when benchmarking that stack
        same = args.seats_dsn == defaults.get("seats_dsn")
        args.proxied_seats_dsn = defaults.get("seats_dsn_proxied", "") if same else ""
    # CPU accounting needs the stack's pids: only for the local stack benchmarked whole
    parts = stack_parts(status) if local else {}
    pg_parts = {k: v for k, v in parts.items() if k == "postgres"}
    via_parts = {k: v for k, v in parts.items() if k in ("postgres", "toxiproxy")}
    pg_dsn = await prepare_pgbench_db(args.seats_dsn)
    strategies = args.strategies.split(",")
    rounds: list[dict[str, float]] = []
    splits: dict[str, list[Split]] = {}
    for n in range(1, args.rounds + 1):
        got: dict[str, tuple[float, Split | None]] = {}
        for strategy in strategies:
            await reset_data(args.seats_dsn, args.payments_dsn,
                             event_seed=(*DEFAULT_EVENTS, BENCH_EVENT))
            got[strategy] = await bench_service(args.target_url.rstrip("/"), strategy,
                                                args.duration, args.concurrency, parts)
        got["pgbench"] = run_pgbench(pg_dsn, args.duration, args.concurrency, pg_parts)
        if args.proxied_seats_dsn:
            got["pgbench_proxied"] = run_pgbench(
                _same_database(args.proxied_seats_dsn, pg_dsn), args.duration,
                args.concurrency, via_parts)
        measured = {name: rate for name, (rate, _) in got.items()}
        for name, (_, split) in got.items():
            if split is not None:
                splits.setdefault(name, []).append(split)
        rounds.append(measured)
        base = measured["pgbench"]
        proxied = (f" (via toxiproxy {measured['pgbench_proxied']:7.1f}/s)"
                   if "pgbench_proxied" in measured else "")
        print(f"round {n}: pgbench {base:7.1f}/s{proxied}  " + "  ".join(
            f"{s} {measured[s]:6.1f}/s ({measured[s] / base:.2f})" for s in strategies),
            flush=True)
        for name, (_, split) in got.items():
            if split is not None:
                print(_cpu_line(name, split), flush=True)
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
    cpu = _cpu_summary(splits, strategies) if splits else {}
    print(json.dumps({"rounds": rounds, "ratio": ratios, **cpu}))
    return 0


if __name__ == "__main__":
    # on uvloop like the service: the client shares the cores with what it measures, so the
    # cheaper it is the less it skews
    sys.exit(event_loop.run(main()))
