"""Every error path of docs/contract.md section 8, with problem JSON and the idempotency rules."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from harness.stack.toxiproxy import Toxiproxy
from target_service.strategies import STRATEGIES
from tests.service.client import Api

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_400_bad_bodies_never_500(api: Api) -> None:
    key = str(uuid.uuid4())
    cases: list[tuple[bytes, str]] = [
        (b"{not json", "INVALID_JSON"),
        (b"[1, 2]", "BAD_REQUEST"),
        (b'{"event_id": 5, "seats": ["A-01"], "strategy": "saga"}', "BAD_REQUEST"),
        (b'{"seats": ["A-01"], "strategy": "saga"}', "BAD_REQUEST"),
        (b'{"event_id": "evt_default", "seats": "A-01", "strategy": "saga"}', "BAD_REQUEST"),
        (b'{"event_id": "evt_default", "seats": ["A-01"], "strategy": "saga", "x": 1}',
         "BAD_REQUEST"),
        (b'{"a":' * 50 + b"1" + b"}" * 50, "BAD_REQUEST"),
        (b"[" * 5000 + b"]" * 5000, "BAD_REQUEST"),
        (b"", "BAD_REQUEST"),
    ]
    for raw, code in cases:
        r = await api.call("POST", "/api/orders", key=key, content=raw,
                           headers={"Content-Type": "application/json"})
        assert (r.status, r.code) == (400, code), (raw[:40], r.body)
    big = b'{"event_id": "' + b"x" * 20000 + b'"}'
    r = await api.call("POST", "/api/orders", key=key, content=big,
                       headers={"Content-Type": "application/json"})
    assert (r.status, r.code) == (413, "PAYLOAD_TOO_LARGE")
    r = await api.call("POST", "/api/orders", key=key, content=b"a=b",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status, r.code) == (415, "UNSUPPORTED_MEDIA_TYPE")


async def test_400_idempotency_key_missing_or_invalid(api: Api) -> None:
    body = {"event_id": "evt_default", "seats": ["A-01"], "strategy": "saga"}
    r = await api.call("POST", "/api/orders", json=body)
    assert (r.status, r.code) == (400, "IDEMPOTENCY_KEY_MISSING")
    for bad in ("x" * 256, "tab\there"):
        r = await api.call("POST", "/api/orders", json=body,
                           headers={"Idempotency-Key": bad})
        assert (r.status, r.code) == (400, "IDEMPOTENCY_KEY_INVALID"), bad


async def test_401_without_or_with_unknown_token(api: Api) -> None:
    anon = Api(api.http)
    r = await anon.order(["A-01"], "saga")
    assert (r.status, r.code) == (401, "UNAUTHENTICATED")
    r = await anon.call("GET", f"/api/orders/{uuid.uuid4()}", token="cus_nope")
    assert (r.status, r.code) == (401, "UNAUTHENTICATED")


async def test_404_event_order_and_another_customers_order(api: Api) -> None:
    r = await api.order(["A-01"], "saga", event_id="evt_missing")
    assert (r.status, r.code) == (404, "EVENT_NOT_FOUND")
    r = await api.call("GET", "/api/events/evt_missing/seats")
    assert (r.status, r.code) == (404, "EVENT_NOT_FOUND")
    r = await api.get(str(uuid.uuid4()))
    assert (r.status, r.code) == (404, "ORDER_NOT_FOUND")
    r = await api.get("not-a-uuid")
    assert (r.status, r.code) == (404, "ORDER_NOT_FOUND")
    mine = (await api.order(["A-01"], "saga")).body["order_id"]
    other = await api.new_customer()
    assert (await other.get(mine)).status == 404
    r = await other.confirm(mine)
    assert (r.status, r.code) == (404, "ORDER_NOT_FOUND")
    assert (await api.get(mine)).body["status"] == "PENDING"  # untouched by the other
    r = await api.call("POST", f"/api/orders/{mine}:explode", key="k", validate=False)
    assert (r.status, r.code) == (404, "NOT_FOUND")  # undocumented path, still problem JSON
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_422_unprocessable_orders(api: Api) -> None:
    for seats, strategy in ((["A-01"], "paxos"), ([], "saga"), (["A-01", "A-01"], "saga"),
                            (["Z-99"], "saga"), ([f"C-{i:02d}" for i in range(1, 12)], "saga")):
        r = await api.order(seats, strategy)
        assert (r.status, r.code) == (422, "UNPROCESSABLE"), (seats, strategy)


async def test_idempotent_replay_and_mismatch(api: Api, seats_db: Any) -> None:
    key = str(uuid.uuid4())
    first = await api.order(["A-03"], "saga", key=key)
    again = await api.order(["A-03"], "saga", key=key)
    assert first.status == again.status == 201
    assert again.replayed and not first.replayed
    assert again.body == first.body
    assert await seats_db.fetchval("SELECT count(*) FROM orders") == 1
    other = await api.order(["A-04"], "saga", key=key)
    assert (other.status, other.code) == (422, "IDEMPOTENCY_KEY_MISMATCH")
    # the same key is a different record for another customer (scoped)
    stranger = await api.new_customer()
    theirs = await stranger.order(["A-04"], "saga", key=key)
    assert theirs.status == 201 and not theirs.replayed
    # errors are replayed too
    order_id = first.body["order_id"]
    ckey = str(uuid.uuid4())
    declined = await api.confirm(order_id, "tok_decline", key=ckey)
    replay = await api.confirm(order_id, "tok_decline", key=ckey)
    assert (declined.status, declined.code) == (402, "PAYMENT_FAILED")
    assert replay.status == 402 and replay.replayed and replay.body == declined.body


async def test_409_seat_unavailable_and_wrong_state(api: Api) -> None:
    oid, ok = await api.buy(["A-05"], "saga")
    assert ok.status == 202
    _, taken = await api.buy(["A-05"], "saga")
    assert (taken.status, taken.code) == (409, "SEAT_UNAVAILABLE")
    pending = (await api.order(["A-06"], "saga")).body["order_id"]
    r = await api.finalize(pending)
    assert (r.status, r.code) == (409, "ORDER_STATE_CONFLICT")
    assert (await api.finalize(oid)).status == 200
    r = await api.cancel(oid)
    assert (r.status, r.code) == (409, "ORDER_STATE_CONFLICT")


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_402_declined_releases_seats(api: Api, strategy: str, payments_db: Any) -> None:
    order_id = (await api.order(["B-01"], strategy)).body["order_id"]
    r = await api.confirm(order_id, "tok_decline")
    assert (r.status, r.code) == (402, "PAYMENT_FAILED")
    assert (await api.get(order_id)).body["status"] == "FAILED"
    assert await payments_db.fetchval(
        "SELECT count(*) FROM payments WHERE order_id = $1::uuid AND status IN"
        " ('AUTHORIZED', 'CAPTURED')", order_id) == 0
    _, again = await api.buy(["B-01"], strategy)
    assert again.status == 202


async def _toxiproxy(stack: Any) -> Toxiproxy:
    return Toxiproxy(stack.toxiproxy_url)


async def test_503_when_provider_partitioned_then_compensated(api: Api, stack: Any,
                                                              payments_db: Any) -> None:
    order_id = (await api.order(["B-02"], "saga")).body["order_id"]
    async with httpx.AsyncClient(base_url=stack.toxiproxy_url, timeout=5) as tp:
        r = await tp.post("/proxies/payments_api", json={"enabled": False})
        assert r.status_code == 200, r.text
        try:
            res = await api.confirm(order_id)
        finally:
            await tp.post("/proxies/payments_api", json={"enabled": True})
    assert (res.status, res.code) == (503, "DEPENDENCY_UNAVAILABLE")
    order = (await api.get(order_id)).body
    assert order["status"] == "FAILED"
    # the seat is free again and no authorization survives recovery
    await api.call("POST", "/admin/recover?force=1", headers={"X-Admin-Token": stack.admin_token})
    assert await payments_db.fetchval(
        "SELECT count(*) FROM payments WHERE order_id = $1::uuid AND status = 'AUTHORIZED'",
        order_id) == 0
    _, again = await api.buy(["B-02"], "saga")
    assert again.status == 202


async def test_409_while_the_first_request_is_in_flight(api: Api, stack: Any) -> None:
    order_id = (await api.order(["B-03"], "saga")).body["order_id"]
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=stack.toxiproxy_url, timeout=5) as tp:
        r = await tp.post("/proxies/payments_api/toxics", json={
            "name": "slow", "type": "latency", "stream": "downstream",
            "attributes": {"latency": 1500}})
        assert r.status_code == 200, r.text
        try:
            first = asyncio.create_task(api.confirm(order_id, key=key))
            await asyncio.sleep(0.5)
            dup = await api.confirm(order_id, key=key)
            done = await first
        finally:
            await tp.delete("/proxies/payments_api/toxics/slow")
    assert (dup.status, dup.code) == (409, "IDEMPOTENCY_KEY_IN_USE")
    assert done.status == 202
    replay = await api.confirm(order_id, key=key)
    assert replay.status == 202 and replay.replayed and replay.body == done.body


async def _raw_http(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` bytes as they are; the status, headers and body of the answer."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)  # the server closes
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("request_bytes", [
    b"GET /health HTTP/1.1\r\nHost: x\r\nno colon in this header\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n",
    b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
])
async def test_unparsable_http_gets_problem_json(stack: Any, request_bytes: bytes) -> None:
    status, headers, body = await _raw_http(stack.target_url, request_bytes)
    assert status == 400
    assert headers["content-type"].startswith("application/problem+json"), headers
    problem = json.loads(body)
    assert (problem["status"], problem["code"]) == (400, "BAD_REQUEST"), problem
    assert problem["detail"].startswith("the HTTP request could not be parsed")


async def test_409_an_admin_change_served_after_its_not_after_changes_nothing(
    api: Api, stack: Any, seats_db: Any
) -> None:
    admin = {"X-Admin-Token": stack.admin_token}
    now = await seats_db.fetchval("SELECT extract(epoch FROM clock_timestamp())::float8")
    late = await api.call("POST", "/admin/failpoints", headers=admin, json={
        "arm": {"finalize-after-capture": 1}, "not_after": now - 1})
    assert (late.status, late.code) == (409, "REQUEST_EXPIRED")
    assert await seats_db.fetchval("SELECT count(*) FROM failpoints") == 0
    bad = await api.call("POST", "/admin/failpoints", headers=admin, json={
        "arm": {"finalize-after-capture": 1}, "not_after": "soon"})
    assert (bad.status, bad.code) == (400, "BAD_REQUEST")
    in_time = await api.call("POST", "/admin/failpoints", headers=admin, json={
        "disarm": ["finalize-after-capture"], "not_after": now + 60})
    assert in_time.status == 200, in_time.body
    assert in_time.body["armed"] == {}
