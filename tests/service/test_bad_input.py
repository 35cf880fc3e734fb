"""Bad input at the HTTP edge (issue 17): each case is a 4xx problem with a ``code``, never a
500, and every answer is checked against the OpenAPI document (``client.Api``)."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest

from tests.service.client import Api, Resp

pytestmark = pytest.mark.asyncio(loop_scope="session")

ORDER = {"event_id": "evt_default", "seats": ["A-01"], "strategy": "saga"}
JSON = {"Content-Type": "application/json"}


async def _post_raw(api: Api, path: str, raw: bytes, headers: dict[str, str | bytes]) -> Resp:
    return await api.call("POST", path, key=str(uuid.uuid4()), content=raw, headers=headers)


def _is_problem(r: Resp, status: int, code: str) -> None:
    assert (r.status, r.code) == (status, code), r.body
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_nul_and_lone_surrogates_in_json_strings_are_400(api: Api, seats_db: Any) -> None:
    bodies = [b'{"event_id": "a\\u0000", "seats": ["A-01"], "strategy": "saga"}',
              b'{"event_id": "evt_default", "seats": ["A\\u0000"], "strategy": "saga"}',
              b'{"event_id": "\\ud800", "seats": ["A-01"], "strategy": "saga"}',
              b'{"event_id": "evt_default", "seats": ["\\udcf6"], "strategy": "saga"}',
              b'{"event_id": "evt_default", "seats": ["A-01"], "strategy": "saga", "\\u0000": 1}']
    for raw in bodies:
        _is_problem(await _post_raw(api, "/api/orders", raw, JSON), 400, "BAD_REQUEST")
    for event_id in ("evt\n", "evt\x7f", "evt\x85"):  # ids take no control character either
        r = await api.order(["A-01"], "saga", event_id=event_id)
        _is_problem(r, 400, "BAD_REQUEST")
    assert await seats_db.fetchval("SELECT count(*) FROM orders") == 0
    order_id = (await api.order(["A-02"], "saga")).body["order_id"]
    for token in (b'"tok_ok\\u0000"', b'"\\ud800"', b'"t\\u00f6k"'):
        r = await _post_raw(api, f"/api/orders/{order_id}:confirm",
                            b'{"payment_token": ' + token + b"}", JSON)
        _is_problem(r, 400, "BAD_REQUEST")
    assert (await api.get(order_id)).body["status"] == "PENDING"


async def test_nul_in_a_path_id_is_404(api: Api) -> None:
    for method, path in (("GET", "/api/events/%00/seats"), ("GET", "/api/events/a%00b"),
                         ("GET", "/api/orders/%00"), ("POST", "/api/orders/%00:cancel"),
                         ("POST", "/api/orders/%00:confirm")):
        r = await api.call(method, path, key=str(uuid.uuid4()), json=None)
        _is_problem(r, 404, "NOT_FOUND")
    r = await api.call("GET", "/api/events/evt%0Adefault")  # a control character names nothing
    _is_problem(r, 404, "EVENT_NOT_FOUND")


async def test_a_non_ascii_byte_in_authorization_is_401_everywhere(api: Api, stack: Any) -> None:
    order_id = (await api.order(["A-03"], "saga")).body["order_id"]
    anon = Api(api.http)
    bad: dict[str, str | bytes] = {"Authorization": b"Bearer t\xf6k"}
    for method, path, body in (("GET", "/api/orders", None), ("POST", "/api/orders", ORDER),
                               ("GET", f"/api/orders/{order_id}", None),
                               ("POST", f"/api/orders/{order_id}:confirm",
                                {"payment_token": "tok_ok"}),
                               ("POST", f"/api/orders/{order_id}:finalize", None),
                               ("POST", f"/api/orders/{order_id}:cancel", None)):
        r = await anon.call(method, path, json=body, key=str(uuid.uuid4()), headers=bad)
        _is_problem(r, 401, "UNAUTHENTICATED")
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    r = await anon.call("GET", "/api/orders")
    _is_problem(r, 401, "UNAUTHENTICATED")
    assert r.headers["www-authenticate"] == "Bearer"
    # the scheme is case-insensitive (RFC 9110 section 11.1)
    r = await anon.call("GET", f"/api/orders/{order_id}",
                        headers={"Authorization": f"bearer {api.token}"})
    assert r.status == 200, r.body
    r = await anon.call("GET", "/admin/failpoints", headers={"X-Admin-Token": b"t\xf6k"})
    _is_problem(r, 403, "FORBIDDEN")


async def test_405_names_the_allowed_methods(api: Api) -> None:
    order_id = (await api.order(["A-04"], "saga")).body["order_id"]
    cases = [("PUT", "/api/orders", {"GET", "HEAD", "POST"}),
             ("DELETE", "/health", {"GET", "HEAD"}),
             ("GET", f"/api/orders/{order_id}:confirm", {"POST"}),
             ("GET", "/api/orders/abc:confirm", {"POST"}),
             ("POST", f"/api/orders/{order_id}", {"GET", "HEAD"}),
             ("PATCH", f"/api/orders/{order_id}:cancel", {"POST"}),
             ("OPTIONS", "/api/events", {"GET", "HEAD"})]
    for method, path, allowed in cases:
        r = await api.call(method, path, key=str(uuid.uuid4()))  # checked: 405, Allow, problem
        _is_problem(r, 405, "METHOD_NOT_ALLOWED")
        assert {m.strip() for m in r.headers["allow"].split(",")} == allowed, (method, path)
    # an unknown action names nothing: 404, as the document lists for GET /api/orders/{order_id}
    _is_problem(await api.call("GET", "/api/orders/abc:x"), 404, "NOT_FOUND")
    assert (await api.get(order_id)).body["status"] == "PENDING"


@pytest.mark.parametrize("ctype", [None, "application/jsonx", "application/json-patch+json",
                                   "application/problem+json", "text/plain",
                                   "application/json; charset=utf-16",
                                   "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_application_json_is_415(api: Api, ctype: str | None,
                                                          seats_db: Any) -> None:
    headers: dict[str, str | bytes] = {} if ctype is None else {"Content-Type": ctype}
    r = await _post_raw(api, "/api/orders", json.dumps(ORDER).encode(), headers)
    _is_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    order_id = (await api.order(["A-05"], "saga")).body["order_id"]
    r = await _post_raw(api, f"/api/orders/{order_id}:confirm", b'{"payment_token": "tok_ok"}',
                        headers)
    _is_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    r = await _post_raw(api, f"/api/orders/{order_id}:cancel", b"{}", headers)
    _is_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await seats_db.fetchval(
        "SELECT count(*) FROM orders WHERE status <> 'PENDING'") == 0


async def test_what_counts_as_json(api: Api) -> None:
    raw = json.dumps(ORDER).encode()
    for ctype in ('Application/JSON; Charset="UTF-8"', "application/json;charset=utf-8"):
        r = await _post_raw(api, "/api/orders", raw, {"Content-Type": ctype})
        assert r.status == 201, (ctype, r.body)
        await api.cancel(r.body["order_id"])
    for body in (json.dumps(ORDER).encode("utf-16"), json.dumps(ORDER).encode("utf-32"),
                 '{"event_id": "évt", "seats": ["A-01"], "strategy": "saga"}'.encode("latin-1"),
                 b'{"event_id": "evt_default", "seats": ["A-01"], "strategy": NaN}'):
        _is_problem(await _post_raw(api, "/api/orders", body, JSON), 400, "INVALID_JSON")
    # a declared content coding is decoded; an unknown one is 415; a broken one is 400
    r = await _post_raw(api, "/api/orders", gzip.compress(raw),
                        {**JSON, "Content-Encoding": "gzip"})
    assert r.status == 201, r.body
    r = await _post_raw(api, "/api/orders", raw, {**JSON, "Content-Encoding": "rot13"})
    _is_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    r = await _post_raw(api, "/api/orders", b"not gzip", {**JSON, "Content-Encoding": "gzip"})
    _is_problem(r, 400, "BAD_REQUEST")
    assert r.headers["connection"] == "close"  # the connection is not reused for the next one
    # :finalize and :cancel take no body, or an empty object; an empty one needs no type
    order_id = (await api.order(["A-06"], "saga")).body["order_id"]
    r = await _post_raw(api, f"/api/orders/{order_id}:cancel", b"", {})
    assert r.status == 200 and r.body["status"] == "CANCELLED", r.body
