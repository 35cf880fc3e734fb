"""The provider's HTTP API (aiohttp).

* ``POST /v1/authorizations`` (``Idempotency-Key``) ``{order_id, amount_cents, payment_token}``
  -> 201/200 payment | 402 declined | 409 key voided/reused
* ``GET /v1/authorizations/by-key/{key}`` -> 200 payment | 404
* ``POST /v1/authorizations/void-by-key`` ``{idempotency_key, order_id}`` -> 200 | 409 captured
* ``POST /v1/payments/{payment_id}/{capture|void|refund}`` (``Idempotency-Key``) -> 200 | 404 | 409
* ``GET /v1/payments/{payment_id}``, ``GET /admin/ledger[?order_id=]``, ``GET /health``

Errors are ``{"error": CODE, "payment": ...}``; 503 ``PROVIDER_UNAVAILABLE`` means "not done".
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from target_service import db
from target_service.failpoints import Failpoints, parse_failpoints
from target_service.migrate import migrate
from target_service.provider import ledger

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Provider configuration (``PROVIDER_*`` environment variables)."""

    host: str = "127.0.0.1"
    port: int = 8090
    payments_dsn: str = ""
    failure_rate: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0
    failpoints: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls) -> ProviderSettings:
        env = os.environ
        dsn = env.get("PAYMENTS_DSN", "")
        if not dsn:
            raise ValueError("PAYMENTS_DSN is required")
        rate = float(env.get("PROVIDER_FAILURE_RATE", "0") or 0)
        if not 0 <= rate <= 1:
            raise ValueError(f"PROVIDER_FAILURE_RATE={rate} must be within 0..1")
        return cls(
            host=env.get("PROVIDER_HOST", "127.0.0.1") or "127.0.0.1",
            port=int(env.get("PROVIDER_PORT", "8090") or 8090),
            payments_dsn=dsn,
            failure_rate=rate,
            latency_ms=float(env.get("PROVIDER_LATENCY_MS", "0") or 0),
            seed=int(env.get("PROVIDER_SEED", "0") or 0),
            failpoints=parse_failpoints(env.get("HARNESS_FAILPOINTS", "")),
        )


POOL: web.AppKey[Any] = web.AppKey("pool")
SETTINGS = web.AppKey("settings", ProviderSettings)
RNG = web.AppKey("rng", random.Random)
FAILS = web.AppKey("failpoints", Failpoints)


def _err(status: int, code: str, payment: dict[str, Any] | None = None) -> web.Response:
    return web.json_response({"error": code, "payment": payment}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > 8192:
        raise web.HTTPRequestEntityTooLarge(max_size=8192, actual_size=request.content_length)
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise web.HTTPBadRequest(text='{"error":"INVALID_JSON"}',
                                 content_type="application/json") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"error":"NOT_AN_OBJECT"}', content_type="application/json")
    return data


def _bad(code: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": code}), content_type="application/json")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def chaos_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency and random failures for mutating calls; database trouble becomes 503."""
    settings = request.app[SETTINGS]
    if request.method == "POST":
        if settings.latency_ms > 0:
            await asyncio.sleep(settings.latency_ms / 1000)
        if settings.failure_rate > 0 and request.app[RNG].random() < settings.failure_rate:
            return _err(503, "PROVIDER_UNAVAILABLE")
    try:
        return await handler(request)
    except db.DB_ERRORS + db.LOCK_ERRORS:
        log.warning("payments database unavailable for %s %s", request.method, request.path)
        return _err(503, "PROVIDER_UNAVAILABLE")


def _uuid(raw: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise _bad("INVALID_ORDER_ID") from exc


def _key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not 0 < len(key) <= 255:
        raise _bad("IDEMPOTENCY_KEY_REQUIRED")
    return key


def _reply(out: ledger.Outcome) -> web.Response:
    if out.error:
        return _err(out.status, out.error, out.payment)
    return web.json_response(out.payment, status=out.status)


async def authorize(request: web.Request) -> web.Response:
    key = _key(request)
    body = await _body(request)
    amount = body.get("amount_cents")
    token = body.get("payment_token")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise _bad("INVALID_AMOUNT")
    if not isinstance(token, str) or not 0 < len(token) <= 64:
        raise _bad("INVALID_TOKEN")
    currency = body.get("currency", "USD")
    if not isinstance(currency, str) or len(currency) != 3:
        raise _bad("INVALID_CURRENCY")
    async with request.app[POOL].acquire() as conn:
        out = await ledger.authorize(conn, key=key, order_id=_uuid(body.get("order_id")),
                                     amount_cents=amount, currency=currency, token=token)
    await request.app[FAILS].hit("provider-after-authorize")
    return _reply(out)


async def get_by_key(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        pay = await ledger.by_key(conn, request.match_info["key"])
    return web.json_response(pay) if pay else _err(404, "NOT_FOUND")


async def get_payment(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        pay = await ledger.by_id(conn, request.match_info["payment_id"])
    return web.json_response(pay) if pay else _err(404, "NOT_FOUND")


async def void_by_key(request: web.Request) -> web.Response:
    op_key = _key(request)
    body = await _body(request)
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        raise _bad("INVALID_KEY")
    async with request.app[POOL].acquire() as conn:
        out = await ledger.void_by_key(conn, key, _uuid(body.get("order_id")), op_key)
    return _reply(out)


async def payment_op(request: web.Request) -> web.Response:
    op = request.match_info["op"]
    if op not in ("capture", "void", "refund"):
        return _err(404, "NOT_FOUND")
    key = _key(request)
    async with request.app[POOL].acquire() as conn:
        out = await ledger.transition(conn, op, request.match_info["payment_id"], key)
    return _reply(out)


async def admin_ledger(request: web.Request) -> web.Response:
    raw = request.query.get("order_id")
    limit = min(int(request.query.get("limit", "1000") or 1000), 10000)
    async with request.app[POOL].acquire() as conn:
        rows = await ledger.ledger(conn, _uuid(raw) if raw else None, limit)
    return web.json_response({"payments": rows})


async def health(request: web.Request) -> web.Response:
    ok = await db.ping(request.app[POOL])
    return web.json_response({"status": "ok" if ok else "unavailable", "payments_db": ok},
                             status=200 if ok else 503)


async def _startup(app: web.Application) -> None:
    settings = app[SETTINGS]
    await migrate(settings.payments_dsn, "payments")
    app[POOL] = await db.create_pool(settings.payments_dsn, max_size=20, timeout_s=5.0,
                                     min_size=2)


async def _cleanup(app: web.Application) -> None:
    await app[POOL].close()


def create_app(settings: ProviderSettings) -> web.Application:
    """The provider application (migrations and pool on start-up)."""
    app = web.Application(middlewares=[chaos_middleware], client_max_size=16384)
    app[SETTINGS] = settings
    app[RNG] = random.Random(settings.seed)
    app[FAILS] = Failpoints(settings.failpoints)
    app.on_startup.append(_startup)
    app.on_cleanup.append(_cleanup)
    app.router.add_post("/v1/authorizations", authorize)
    app.router.add_post("/v1/authorizations/void-by-key", void_by_key)
    app.router.add_get("/v1/authorizations/by-key/{key}", get_by_key)
    app.router.add_get("/v1/payments/{payment_id}", get_payment)
    app.router.add_post("/v1/payments/{payment_id}/{op}", payment_op)
    app.router.add_get("/admin/ledger", admin_ledger)
    app.router.add_get("/health", health)
    return app
