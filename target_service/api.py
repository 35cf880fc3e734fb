"""Handlers of the public API (``/api/...``); see docs/contract.md section 8 and ``openapi.py``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from target_service.auth import Authenticator
from target_service.cancel import cancel
from target_service.context import Deps
from target_service.coverage import hold_lapsed
from target_service.db import DB_ERRORS, LOCK_ERRORS
from target_service.idempotency import Claim, IdempotencyStore, fingerprint, validate_key
from target_service.orders import (
    Order,
    fetch_order,
    fetch_order_and_tickets,
    insert_order,
    order_json,
)
from target_service.problems import PROBLEM_CONTENT_TYPE, RETRY_CODES, Problem, json_response
from target_service.strategies.base import Strategy
from target_service.validation import (
    confirm_request,
    order_request,
    parse_uuid,
    read_json,
)

DEPS = web.AppKey("deps", Deps)
IDEM = web.AppKey("idempotency", IdempotencyStore)
AUTH = web.AppKey("auth", Authenticator)
STRATS: web.AppKey[dict[str, Any]] = web.AppKey("strategies")

Op = Callable[[Claim | None], Awaitable[tuple[int, Any, bool]]]


def _respond(status: int, body: Any, *, replayed: bool = False) -> web.Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    ctype = PROBLEM_CONTENT_TYPE if status >= 400 else "application/json"
    return json_response(body, status=status, content_type=ctype, headers=headers)


async def _idempotent(request: web.Request, customer_id: uuid.UUID, body: Any,
                      op: Op) -> web.Response:
    """Run ``op`` under the request's Idempotency-Key (see :mod:`target_service.idempotency`).

    ``op`` returns (status, body, stored) — ``stored`` when it saved the response itself in its
    own transaction — or raises :class:`Problem`.
    """
    deps = request.app[DEPS]
    validate_key(request.headers.get("Idempotency-Key"))
    key = request.headers["Idempotency-Key"]
    if deps.bug("idempotency-ignored"):
        # BUG idempotency-ignored: the key is required but never looked up nor stored, so a
        # retry repeats the effect (e.g. a second order) and no replay is ever returned.
        try:
            status, payload, _ = await op(None)
        except Problem as p:
            status, payload = p.status, p.body(request.path)
        return _respond(status, payload)
    store = request.app[IDEM]
    got = await store.begin(customer_id, key, request.method, request.path,
                            fingerprint(request.method, request.path, body))
    if not isinstance(got, Claim):
        deps.metrics.idempotency.labels("replayed").inc()
        await deps.coverage.hit("idempotent-replay")
        return _respond(got.status, got.body, replayed=True)
    deps.metrics.idempotency.labels("resumed" if got.resumed else "new").inc()
    if got.resumed:
        await deps.coverage.hit("idempotency-key-resumed")
    await deps.failpoints.hit("idempotency-before-effect")
    try:
        status, payload, stored = await op(got)
    except Problem as p:
        status, payload, stored = p.status, p.body(request.path), False
    except DB_ERRORS:
        status = 503
        payload = Problem("DEPENDENCY_UNAVAILABLE",
                          "the database did not answer; the outcome is unknown").body()
        stored = False
    except LOCK_ERRORS:  # the database rolled the statement's transaction back: retry
        status = 503
        payload = Problem("DEPENDENCY_UNAVAILABLE",
                          "the database gave up a row lock wait; retry").body()
        stored = False
    except BaseException:
        try:
            await store.release(got)
        finally:
            raise
    if status >= 500 or (isinstance(payload, dict) and payload.get("code") in RETRY_CODES):
        with contextlib.suppress(*DB_ERRORS):  # else the lock times out by itself
            await store.release(got)
        return _respond(status, payload)
    if not stored:
        await deps.failpoints.hit("idempotency-after-effect")
        try:
            other = await store.finish(got, status, payload)
        except DB_ERRORS:
            other = None  # a retry re-executes; the operation is idempotent by order state
        if other is not None:
            return _respond(other.status, other.body, replayed=True)
    return _respond(status, payload)


async def _customer(request: web.Request) -> uuid.UUID:
    customer: uuid.UUID = await request.app[AUTH].authenticate(
        request.headers.get("Authorization"))
    return customer


async def create_customer(request: web.Request) -> web.Response:
    customer_id, token = await request.app[AUTH].create_customer()
    return json_response({"customer_id": str(customer_id), "token": token}, status=201)


def _event_json(r: Any) -> dict[str, Any]:
    return {"event_id": r["event_id"], "name": r["name"], "starts_at": r["starts_at"].isoformat(),
            "capacity": r["capacity"], "currency": r["currency"], "available": r["available"],
            "held": r["held"], "sold": r["sold"]}


_EVENT_SQL = ("SELECT e.event_id, e.name, e.starts_at, e.capacity, e.currency,"
              " count(*) FILTER (WHERE s.state = 'AVAILABLE') AS available,"
              " count(*) FILTER (WHERE s.state = 'HELD') AS held,"
              " count(*) FILTER (WHERE s.state = 'SOLD') AS sold"
              " FROM events e LEFT JOIN seats s USING (event_id)")


async def list_events(request: web.Request) -> web.Response:
    rows = await request.app[DEPS].seats.fetch(
        _EVENT_SQL + " GROUP BY e.event_id ORDER BY e.event_id")
    return json_response({"events": [_event_json(r) for r in rows]})


async def get_event(request: web.Request) -> web.Response:
    row = await request.app[DEPS].seats.fetchrow(
        _EVENT_SQL + " WHERE e.event_id = $1 GROUP BY e.event_id",
        request.match_info["event_id"])
    if row is None:
        raise Problem("EVENT_NOT_FOUND", "no such event")
    return json_response(_event_json(row))


async def seat_map(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    rows = await request.app[DEPS].seats.fetch(
        "SELECT seat_id, section, row_label, seat_number, price_cents, state FROM seats"
        " WHERE event_id = $1 ORDER BY row_label, seat_number", event_id)
    if not rows:
        raise Problem("EVENT_NOT_FOUND", f"no event {event_id[:64]!r}")
    return json_response({"event_id": event_id, "seats": [
        {"seat_id": r["seat_id"], "section": r["section"], "row": r["row_label"],
         "number": r["seat_number"], "price_cents": r["price_cents"], "state": r["state"]}
        for r in rows]})


async def create_order(request: web.Request) -> web.Response:
    customer_id = await _customer(request)
    deps = request.app[DEPS]
    validate_key(request.headers.get("Idempotency-Key"))
    body = await read_json(request, max_bytes=deps.settings.max_body_bytes,
                           max_depth=deps.settings.max_json_depth)
    event_id, seats, strategy = order_request(body, deps.settings.max_seats_per_order)
    key = request.headers["Idempotency-Key"]

    async def op(claim: Claim | None) -> tuple[int, Any, bool]:
        rows = await deps.seats.fetch(
            "SELECT seat_id, price_cents FROM seats WHERE event_id = $1"
            " AND seat_id = ANY($2::text[])", event_id, seats)
        if len(rows) != len(seats):
            exists = await deps.seats.fetchval(
                "SELECT true FROM events WHERE event_id = $1", event_id)
            if not exists:
                raise Problem("EVENT_NOT_FOUND", f"no event {event_id!r}")
            unknown = sorted(set(seats) - {r["seat_id"] for r in rows})
            raise Problem("UNPROCESSABLE", f"unknown seats: {', '.join(unknown)[:200]}")
        order_id = uuid.uuid4()
        priced = sorted((r["seat_id"], r["price_cents"]) for r in rows)
        async with deps.seats.acquire() as conn, conn.transaction():
            order = await insert_order(conn, order_id=order_id, customer_id=customer_id,
                                       event_id=event_id, strategy=strategy, seats=priced,
                                       idempotency_key=key)
            payload = order_json(order)
            stored = False
            if claim is not None:  # one atomic phase: the order and its stored response
                other = await request.app[IDEM].finish(claim, 201, payload, order_id=order_id,
                                                       conn=conn)
                if other is not None:
                    raise Problem("IDEMPOTENCY_KEY_IN_USE", "another request finished first")
                stored = True
        return 201, payload, stored

    return await _idempotent(request, customer_id, body, op)


async def _own_order(request: web.Request, customer_id: uuid.UUID, ref: str) -> Order:
    order_id = parse_uuid(ref)
    async with request.app[DEPS].seats.acquire() as conn:
        order = await fetch_order(conn, order_id, customer_id)
    if order is None:
        raise Problem("ORDER_NOT_FOUND", f"no order {order_id}")
    return order


async def _render(request: web.Request, order_id: uuid.UUID) -> dict[str, Any]:
    async with request.app[DEPS].seats.acquire() as conn:
        order, tickets = await fetch_order_and_tickets(conn, order_id)
    assert order is not None
    return order_json(order, tickets)


#: the actions of ``POST /api/orders/{order_id}:{action}``
ORDER_ACTIONS = ("confirm", "finalize", "cancel")


async def order_resource(request: web.Request) -> web.Response:
    """``/api/orders/{ref}``: an order (GET) or one of its actions, ``{order_id}:{action}`` (POST).

    One route serves both forms, so a wrong method gets the 405 of the form the path names, with
    its ``Allow`` (RFC 9110 section 15.5.6); an unknown action names nothing (404).
    """
    _, sep, action = request.match_info["ref"].partition(":")
    if sep and action not in ORDER_ACTIONS:
        raise Problem("NOT_FOUND", "unknown order action; use :confirm, :finalize or :cancel")
    allowed = ("POST",) if sep else ("GET", "HEAD")
    if request.method not in allowed:
        raise Problem("METHOD_NOT_ALLOWED",
                      f"{request.method} is not allowed here; use {' or '.join(allowed)}",
                      headers={"Allow": ", ".join(allowed)})
    return await (order_action(request) if sep else get_order(request))


async def get_order(request: web.Request) -> web.Response:
    customer_id = await _customer(request)
    order = await _own_order(request, customer_id, request.match_info["ref"])
    return json_response(await _render(request, order.order_id))


async def list_orders(request: web.Request) -> web.Response:
    customer_id = await _customer(request)
    ids = await request.app[DEPS].seats.fetch(
        "SELECT order_id FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 100",
        customer_id)
    return json_response({"orders": [await _render(request, r["order_id"]) for r in ids]})


async def order_action(request: web.Request) -> web.Response:
    ref, _, action = request.match_info["ref"].partition(":")  # checked by order_resource
    customer_id = await _customer(request)
    deps = request.app[DEPS]
    validate_key(request.headers.get("Idempotency-Key"))
    body = await read_json(request, max_bytes=deps.settings.max_body_bytes,
                           max_depth=deps.settings.max_json_depth,
                           allow_empty=action != "confirm")
    token = confirm_request(body) if action == "confirm" else None
    if action != "confirm" and body:
        raise Problem("BAD_REQUEST", f":{action} takes no body fields")

    async def op(claim: Claim | None) -> tuple[int, Any, bool]:
        order = await _own_order(request, customer_id, ref)
        strategy: Strategy = request.app[STRATS][order.strategy]
        if action == "confirm":
            assert token is not None
            written = await strategy.confirm(order, token)
            return 202, written or await _render(request, order.order_id), False
        if action == "finalize":
            if hold_lapsed(order):
                await deps.coverage.hit("hold-expired-while-authorized")
            written = await strategy.finalize(order)
            return 200, written or await _render(request, order.order_id), False
        await cancel(deps, order, request.app[STRATS]["2pc"])
        return 200, await _render(request, order.order_id), False

    return await _idempotent(request, customer_id, body, op)
