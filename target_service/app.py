"""The aiohttp application: middlewares, routes, start-up (migrations, pools, recovery)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from target_service import admin, api, db, redis_lock
from target_service.auth import Authenticator
from target_service.config import Settings
from target_service.context import Deps
from target_service.coverage import CoverageRecorder
from target_service.failpoints import Failpoints
from target_service.idempotency import IdempotencyStore
from target_service.metrics import Metrics
from target_service.migrate import migrate
from target_service.openapi import document
from target_service.problems import Problem, json_response, problem_response
from target_service.provider_client import ProviderClient
from target_service.redis_lock import LockManager
from target_service.strategies.lock import LockStrategy
from target_service.strategies.saga import SagaStrategy
from target_service.strategies.twopc import TwoPhaseCommit
from target_service.sweepers import Sweepers, SweepReport
from target_service.validation import path_guard

log = logging.getLogger(__name__)
SETTINGS = web.AppKey("settings", Settings)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
               415: "UNSUPPORTED_MEDIA_TYPE"}
_KEPT_HEADERS = frozenset({"Allow"})


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes RFC 9457 problem JSON; metrics per route."""
    start = time.monotonic()
    route = request.match_info.route.resource.canonical if request.match_info.route.resource \
        else "unmatched"
    try:
        resp = await handler(request)
    except Problem as p:
        resp = problem_response(p, request.path)
    except web.HTTPException as exc:
        code = _HTTP_CODES.get(exc.status, "BAD_REQUEST" if exc.status < 500 else
                               "INTERNAL_ERROR")
        # aiohttp's 405 carries the Allow header RFC 9110 requires
        headers = {k: v for k, v in exc.headers.items() if k in _KEPT_HEADERS}
        resp = problem_response(Problem(code, exc.reason, status=exc.status, headers=headers),
                                request.path)
    except db.DB_ERRORS:
        resp = problem_response(Problem("DEPENDENCY_UNAVAILABLE",
                                        "the database did not answer in time"), request.path)
    except db.LOCK_ERRORS:  # a deadlock victim or lock timeout: rolled back, so retry
        resp = problem_response(Problem("DEPENDENCY_UNAVAILABLE",
                                        "the database gave up a row lock wait; retry"),
                                request.path)
    except Exception:
        log.exception("unhandled error on %s %r", request.method, request.path)
        resp = problem_response(Problem("INTERNAL_ERROR", "unexpected error"), request.path)
    metrics = request.app[api.DEPS].metrics if api.DEPS in request.app else None
    if metrics is not None:
        if ":" in request.path and route.endswith("{ref}"):
            route = route + ":" + request.path.rsplit(":", 1)[-1][:10]
        metrics.requests.labels(request.method, route, str(resp.status)).inc()
        metrics.latency.labels(request.method, route).observe(time.monotonic() - start)
    return resp


async def health(request: web.Request) -> web.Response:
    deps = request.app[api.DEPS]
    seats_ok, pay_ok = await asyncio.gather(db.ping(deps.seats), db.ping(deps.payments))
    ok = seats_ok and pay_ok
    return json_response({"status": "ok" if ok else "unavailable",
                          "instance": deps.settings.instance,
                          "checks": {"seats_db": seats_ok, "payments_db": pay_ok}},
                         status=200 if ok else 503)


async def metrics_view(request: web.Request) -> web.Response:
    body = generate_latest(request.app[api.DEPS].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi_view(request: web.Request) -> web.Response:
    return json_response(document())


async def _poll_failpoints(app: web.Application) -> None:
    deps = app[api.DEPS]
    while True:
        await asyncio.sleep(deps.settings.failpoint_poll_s)
        with contextlib.suppress(Exception):
            await admin.refresh_failpoints(app)


async def _consume_failpoint(deps: Deps, name: str) -> bool:
    """Take one firing of ``name`` from the shared table: True when this hit took one.

    Once the decrement is in, the firing is this hit's: deleting the spent row is tidying
    only (a row at 0 fires no more), so its failure must not cancel the firing (a database
    reset during that delete would leave a crash arming spent and no process crashed)."""
    row = await deps.seats.fetchrow(
        "UPDATE failpoints SET remaining = remaining - 1 WHERE name = $1"
        " AND (remaining IS NULL OR remaining > 0) RETURNING remaining", name)
    if row is not None and row["remaining"] == 0:
        with contextlib.suppress(*db.DB_ERRORS):
            await deps.seats.execute(
                "DELETE FROM failpoints WHERE name = $1 AND remaining = 0", name)
    return row is not None


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    await migrate(s.seats_dsn, "seats")
    await migrate(s.payments_dsn, "payments")
    seats = await db.create_pool(s.seats_dsn, max_size=s.db_pool_max, timeout_s=s.db_timeout_s,
                                 lock_timeout_ms=s.lock_timeout_ms)
    payments = await db.create_pool(s.payments_dsn, max_size=max(2, s.db_pool_max // 2),
                                    timeout_s=s.db_timeout_s, lock_timeout_ms=s.lock_timeout_ms)
    redis = redis_lock.connect(s.redis_url, s.redis_timeout_s)
    provider = ProviderClient(s.provider_url, s.provider_timeout_s)
    await provider.start()
    failpoints = Failpoints(s.failpoints, instance=s.instance)
    coverage = CoverageRecorder(seats)
    deps = Deps(settings=s, seats=seats, payments=payments, redis=redis, provider=provider,
                locks=LockManager(redis, s.lock_lease_ms, instance=s.instance,
                                  unsafe_release=s.has_bug("lock-unsafe-release")),
                failpoints=failpoints, metrics=Metrics(s.instance), coverage=coverage)
    failpoints.set_consumer(lambda name: _consume_failpoint(deps, name))
    failpoints.set_on_fire(coverage.failpoint_fired)
    app[api.DEPS] = deps
    app[api.AUTH] = Authenticator(seats)
    app[api.IDEM] = IdempotencyStore(seats, ttl_s=s.idempotency_ttl_s,
                                     lock_timeout_s=s.idempotency_lock_timeout_s)
    twopc = TwoPhaseCommit(deps)
    app[api.STRATS] = {"lock": LockStrategy(deps), "saga": SagaStrategy(deps), "2pc": twopc}
    sweepers = Sweepers(deps)
    app[admin.SWEEPERS] = sweepers
    with contextlib.suppress(Exception):
        await admin.refresh_failpoints(app)
    with contextlib.suppress(Exception):
        await sweepers.recover_2pc(SweepReport(), False)
    tasks = [asyncio.create_task(sweepers.run_forever()),
             asyncio.create_task(_poll_failpoints(app))]
    if s.bug:
        log.warning("SEEDED BUG ENABLED: %s", s.bug)
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await provider.close()
        await redis.aclose()
        await seats.close()
        await payments.close()


def create_app(settings: Settings) -> web.Application:
    """The service application; pools and sweepers start with it."""
    app = web.Application(middlewares=[problems_middleware, path_guard],
                          client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_lifecycle)
    r = app.router
    r.add_get("/health", health)
    r.add_get("/metrics", metrics_view)
    r.add_get("/openapi.json", openapi_view)
    r.add_post("/api/customers", api.create_customer)
    r.add_get("/api/events", api.list_events)
    r.add_get("/api/events/{event_id}", api.get_event)
    r.add_get("/api/events/{event_id}/seats", api.seat_map)
    r.add_post("/api/orders", api.create_order)
    r.add_get("/api/orders", api.list_orders)
    r.add_route("*", "/api/orders/{ref}", api.order_resource)  # GET an order, POST an action
    r.add_get("/admin/failpoints", admin.get_failpoints)
    r.add_post("/admin/failpoints", admin.set_failpoints)
    r.add_post("/admin/recover", admin.recover)
    r.add_post("/admin/on-sale", admin.on_sale)
    r.add_get("/admin/introspect", admin.introspect)
    return app

