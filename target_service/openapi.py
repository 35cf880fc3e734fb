"""The OpenAPI 3.1 document served at ``GET /openapi.json`` (schemas are JSON Schema 2020-12).

Every constraint the server enforces on input is published here (patterns and lengths come from
the modules that check them), and every status an operation can answer is listed, so a request
that conforms to the document is never refused for its shape, and a fuzzer that reads the
document can judge every answer (``tests/service/test_fuzz_openapi.py``).
"""

from __future__ import annotations

from typing import Any

from target_service.idempotency import KEY_PATTERN, MAX_KEY_LEN
from target_service.problems import CODES
from target_service.strategies import STRATEGIES
from target_service.validation import (
    ID_PATTERN,
    MAX_EVENT_ID_LEN,
    MAX_PAYMENT_TOKEN_LEN,
    MAX_SEAT_ID_LEN,
    PAYMENT_TOKEN_PATTERN,
)

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str, *,
          headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "headers": {**_replay_header(), **(headers or {})},
            "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _replay_header() -> dict[str, Any]:
    return {"Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with the"
                       " same Idempotency-Key", "schema": {"type": "string", "enum": ["true"]}}}


def _required_header(description: str) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "string"}}


_UNAUTHENTICATED = _problem(
    "Missing, malformed or unknown bearer token",
    {"WWW-Authenticate": _required_header("`Bearer`, or `Bearer error=\"invalid_token\"` when"
                                          " a token was sent")})
_UNPARSABLE = _problem("The HTTP request could not be parsed (a malformed header, say)")
_ACTION_NOT_ALLOWED = _problem(
    "The id names an order action (`{order_id}:confirm`, `:finalize`, `:cancel`), which is a POST",
    {"Allow": _required_header("`POST`")})


_IDEM_PARAM = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "description": "1 to 255 printable ASCII characters, scoped to the customer. Missing: 400;"
                   " reused for a different request: 422; the first request still in flight:"
                   " 409; finished (2xx/4xx): the stored response is replayed with"
                   " `Idempotent-Replayed: true`. 5xx answers are not stored (retry resumes)."
                   " Records are kept 24 hours (IDEMPOTENCY_TTL_S).",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LEN,
               "pattern": KEY_PATTERN},
}
_ORDER_ID = {"name": "order_id", "in": "path", "required": True,
             "description": "A UUID; anything else names no order (404)",
             "schema": {"type": "string", "format": "uuid"}}
_EVENT_ID = {"name": "event_id", "in": "path", "required": True,
             "description": "Any other string names no event (404)",
             "schema": {"type": "string", "minLength": 1, "maxLength": MAX_EVENT_ID_LEN,
                        "pattern": ID_PATTERN}}
#: the optional body of ``:finalize`` and ``:cancel``: nothing, or an empty JSON object
_EMPTY_BODY = {"required": False, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False}}}}

_COMMON = {"400": _problem("Malformed request: a body that is not UTF-8 JSON or is nested too"
                           " deep, wrong types, a string holding U+0000 or a lone surrogate,"
                           " a missing or invalid Idempotency-Key"),
           "401": _UNAUTHENTICATED,
           "413": _problem("Body too large"),
           "415": _problem("The Content-Type is missing or not `application/json` (with"
                           " charset utf-8 at most)"),
           "500": _problem("Internal error"),
           "503": _problem("A dependency is unavailable; the outcome is unknown")}


def _order_action(summary: str, ok_status: str, ok_desc: str, errors: dict[str, str],
                  body: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "security": [{"bearer": []}],
        "parameters": [_ORDER_ID, _IDEM_PARAM],
        "responses": {ok_status: _json(_ref("Order"), ok_desc, headers=_replay_header()),
                      "404": _problem("No such order (also another customer's order)"),
                      "409": _problem("Wrong state, busy, or key in flight"),
                      "422": _problem("Idempotency-Key reused for a different request"),
                      **{k: _problem(v) for k, v in errors.items()}, **_COMMON},
    }
    op["requestBody"] = body
    return op


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    ts = {"type": "string", "format": "date-time"}
    nullable_ts = {"type": ["string", "null"], "format": "date-time"}
    schemas: dict[str, Any] = {
        "Problem": {
            "type": "object", "required": ["type", "title", "status", "detail", "code"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "integer", "minimum": 400, "maximum": 599},
                           "detail": {"type": "string"}, "instance": {"type": "string"},
                           "code": {"type": "string", "enum": sorted(CODES)}},
        },
        "Ticket": {"type": "object", "required": ["ticket_id", "seat_id", "price_cents"],
                   "properties": {"ticket_id": {"type": "string", "format": "uuid"},
                                  "seat_id": {"type": "string"},
                                  "price_cents": {"type": "integer"}, "issued_at": ts}},
        "Order": {
            "type": "object",
            "required": ["order_id", "status", "event_id", "seats", "amount_cents", "strategy",
                         "currency", "tickets"],
            "properties": {
                "order_id": {"type": "string", "format": "uuid"},
                "status": {"type": "string", "enum": ["PENDING", "AUTHORIZED", "SOLD", "FAILED",
                                                      "EXPIRED", "CANCELLED"]},
                "event_id": {"type": "string"},
                "seats": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "amount_cents": {"type": "integer", "minimum": 1},
                "currency": {"type": "string"},
                "strategy": {"type": "string", "enum": list(STRATEGIES)},
                "hold_expires_at": nullable_ts, "payment_id": {"type": ["string", "null"]},
                "created_at": ts, "updated_at": ts,
                "tickets": {"type": "array", "items": _ref("Ticket")},
                "failure": {"type": "object", "required": ["code", "detail"],
                            "properties": {"code": {"type": "string"},
                                           "detail": {"type": "string"}}},
            },
        },
        "OrderRequest": {
            "type": "object", "required": ["event_id", "seats", "strategy"],
            "additionalProperties": False,
            "properties": {"event_id": {"type": "string", "minLength": 1,
                                        "maxLength": MAX_EVENT_ID_LEN, "pattern": ID_PATTERN},
                           "seats": {"type": "array", "minItems": 1, "maxItems": 10,
                                     "uniqueItems": True,
                                     "items": {"type": "string", "minLength": 1,
                                               "maxLength": MAX_SEAT_ID_LEN,
                                               "pattern": ID_PATTERN}},
                           "strategy": {"type": "string", "enum": list(STRATEGIES)}},
        },
        "ConfirmRequest": {
            "type": "object", "required": ["payment_token"], "additionalProperties": False,
            "properties": {"payment_token": {"type": "string", "minLength": 1,
                                             "maxLength": MAX_PAYMENT_TOKEN_LEN,
                                             "pattern": PAYMENT_TOKEN_PATTERN,
                                             "examples": ["tok_ok", "tok_decline"]}},
        },
        "Customer": {"type": "object", "required": ["customer_id", "token"],
                     "properties": {"customer_id": {"type": "string", "format": "uuid"},
                                    "token": {"type": "string"}}},
        "Event": {"type": "object",
                  "required": ["event_id", "name", "starts_at", "capacity", "available"],
                  "properties": {"event_id": {"type": "string"}, "name": {"type": "string"},
                                 "starts_at": ts, "capacity": {"type": "integer"},
                                 "available": {"type": "integer"},
                                 "held": {"type": "integer"}, "sold": {"type": "integer"},
                                 "currency": {"type": "string"}}},
        "Seat": {"type": "object",
                 "required": ["seat_id", "section", "row", "number", "price_cents", "state"],
                 "properties": {"seat_id": {"type": "string"}, "section": {"type": "string"},
                                "row": {"type": "string"}, "number": {"type": "integer"},
                                "price_cents": {"type": "integer"},
                                "state": {"type": "string",
                                          "enum": ["AVAILABLE", "HELD", "SOLD"]}}},
        "SeatMap": {"type": "object", "required": ["event_id", "seats"],
                    "properties": {"event_id": {"type": "string"},
                                   "seats": {"type": "array", "items": _ref("Seat")}}},
        "Health": {"type": "object", "required": ["status"],
                   "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]},
                                  "instance": {"type": "string"},
                                  "checks": {"type": "object",
                                             "additionalProperties": {"type": "boolean"}}}},
        "Failpoints": {"type": "object", "required": ["armed", "known", "instance"],
                       "properties": {"armed": {"type": "object",
                                                "additionalProperties": {
                                                    "type": ["integer", "null"]}},
                                      "known": {"type": "object",
                                                "additionalProperties": {"type": "string"}},
                                      "instance": {"type": "string"}}},
        "FailpointsRequest": {
            "type": "object", "additionalProperties": False,
            "properties": {"enable": {"type": "array", "items": {"type": "string"}},
                           "disable": {"type": "array", "items": {"type": "string"}},
                           "count": {"type": ["integer", "null"], "minimum": 1},
                           "arm": {"type": "object", "additionalProperties": {
                               "type": ["integer", "null"], "minimum": 0}},
                           "disarm": {"type": "array", "items": {"type": "string"}},
                           "clear": {"type": "boolean"},
                           "not_after": {"type": ["number", "null"]}}},
        "Introspection": {"type": "object", "additionalProperties": True,
                          "required": ["instance", "clocks", "failpoints", "pending", "locks"],
                          "properties": {
                              "instance": {"type": "string"},
                              "clocks": {"type": "object"},
                              "failpoints": {"type": "object"},
                              "pending": {"type": "object"},
                              "locks": {"type": "array", "items": {"type": "object"}}}},
        "OnSaleRequest": {
            "type": "object", "additionalProperties": False, "required": ["event_id"],
            "properties": {"event_id": {"type": "string", "minLength": 1, "maxLength": 64},
                           "low_water": {"type": "number", "minimum": 0, "maximum": 16}}},
        "OnSaleReport": {"type": "object", "additionalProperties": True,
                         "required": ["event_id", "opened", "free"],
                         "properties": {"opened": {"type": "array"},
                                        "free": {"type": "object", "additionalProperties": {
                                            "type": "integer"}}}},
        "RecoverReport": {"type": "object", "additionalProperties": True,
                          "required": ["errors"],
                          "properties": {"errors": {"type": "array",
                                                    "items": {"type": "string"}}}},
    }
    admin_hdr = {"name": "X-Admin-Token", "in": "header", "required": True,
                 "schema": {"type": "string", "pattern": "^[!-~]+$"}}
    admin_errors = {"400": _problem("Malformed request"),
                    "403": _problem("Missing or wrong X-Admin-Token (or admin disabled)"),
                    "409": _problem("Served after its not_after (REQUEST_EXPIRED)"),
                    "500": _problem("Internal error"),
                    "503": _problem("Database unavailable")}
    paths: dict[str, Any] = {
        "/health": {"get": {"summary": "200 when the databases answer", "responses": {
            "200": _json(_ref("Health"), "Healthy"),
            "503": _json(_ref("Health"), "A database does not answer")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
            "description": "Text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": _json({"type": "object"}, "The OpenAPI document")}}},
        "/api/customers": {"post": {"summary": "Create a customer and its bearer token",
                                    "responses": {"201": _json(_ref("Customer"), "Created"),
                                                  "500": _problem("Internal error"),
                                                  "503": _problem("Database unavailable")}}},
        "/api/events": {"get": {"summary": "Events with availability", "responses": {
            "200": _json({"type": "object", "required": ["events"], "properties": {
                "events": {"type": "array", "items": _ref("Event")}}}, "Events"),
            "500": _problem("Internal error"), "503": _problem("Database unavailable")}}},
        "/api/events/{event_id}": {"get": {"summary": "One event", "parameters": [_EVENT_ID],
                                           "responses": {"200": _json(_ref("Event"), "Event"),
                                                         "404": _problem("No such event"),
                                                         "500": _problem("Internal error"),
                                                         "503": _problem("Unavailable")}}},
        "/api/events/{event_id}/seats": {"get": {
            "summary": "Seat map with each seat's state", "parameters": [_EVENT_ID],
            "responses": {"200": _json(_ref("SeatMap"), "Seat map"),
                          "404": _problem("No such event"), "500": _problem("Internal error"),
                          "503": _problem("Database unavailable")}}},
        "/api/orders": {
            "post": {"summary": "Create an order (PENDING)", "security": [{"bearer": []}],
                     "parameters": [_IDEM_PARAM],
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _ref("OrderRequest")}}},
                     "responses": {
                         "201": _json(_ref("Order"), "Created", headers=_replay_header()),
                         "404": _problem("No such event"),
                         "409": _problem("Idempotency-Key in flight"),
                         "422": _problem("Unknown/duplicate seats, bad strategy, too many"
                                         " seats, or key reused for a different request"),
                         **_COMMON}},
            "get": {"summary": "The caller's orders (newest first, at most 100)",
                    "security": [{"bearer": []}],
                    "responses": {"200": _json({"type": "object", "required": ["orders"],
                                                "properties": {"orders": {
                                                    "type": "array",
                                                    "items": _ref("Order")}}}, "Orders"),
                                  "401": _COMMON["401"], "500": _COMMON["500"],
                                  "503": _COMMON["503"]}},
        },
        "/api/orders/{order_id}": {"get": {
            "summary": "One of the caller's orders", "security": [{"bearer": []}],
            "parameters": [_ORDER_ID],
            "responses": {"200": _json(_ref("Order"), "The order"),
                          "404": _problem("No such order (also another customer's), or an"
                                          " unknown action after `:`"),
                          "405": _ACTION_NOT_ALLOWED,
                          "401": _COMMON["401"], "500": _COMMON["500"],
                          "503": _COMMON["503"]}}},
        "/api/orders/{order_id}:confirm": {"post": _order_action(
            "Hold the seats and authorize the payment", "202", "AUTHORIZED",
            {"402": "Payment declined"},
            {"required": True, "content": {"application/json": {
                "schema": _ref("ConfirmRequest")}}})},
        "/api/orders/{order_id}:finalize": {"post": _order_action(
            "Capture the payment and issue tickets", "200", "SOLD, with tickets",
            {"402": "Capture refused"}, _EMPTY_BODY)},
        "/api/orders/{order_id}:cancel": {"post": _order_action(
            "Cancel a PENDING or AUTHORIZED order (release seats, void)", "200", "CANCELLED",
            {}, _EMPTY_BODY)},
        "/admin/failpoints": {
            "get": {"summary": "Armed failpoints", "parameters": [admin_hdr],
                    "responses": {"200": _json(_ref("Failpoints"), "Armed"), **admin_errors}},
            "post": {"summary": "Arm/disarm failpoints for every process (shared table)",
                     "parameters": [admin_hdr],
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _ref("FailpointsRequest")}}},
                     "responses": {"200": _json(_ref("Failpoints"), "Armed"),
                                   "413": _COMMON["413"], "415": _COMMON["415"],
                                   **admin_errors}},
        },
        "/admin/recover": {"post": {
            "summary": "Run every sweeper once now (force: ignore staleness; only when idle)",
            "parameters": [admin_hdr,
                           {"name": "force", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref("RecoverReport"), "What was done"),
                          **admin_errors}}},
        "/admin/on-sale": {"post": {
            "summary": "Open one more wave of every section of an event low on free seats",
            "parameters": [admin_hdr],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("OnSaleRequest")}}},
            "responses": {"200": _json(_ref("OnSaleReport"), "What went on sale"),
                          "404": _problem("No such event (EVENT_NOT_FOUND)"),
                          "413": _COMMON["413"], "415": _COMMON["415"], **admin_errors}}},
        "/admin/introspect": {"get": {
            "summary": "What the service holds: clocks, failpoints, pending work, seat locks",
            "parameters": [admin_hdr],
            "responses": {"200": _json(_ref("Introspection"), "The door's answers"),
                          **admin_errors}}},
    }
    for item in paths.values():  # any request may carry a header aiohttp cannot parse
        for op in item.values():
            op["responses"].setdefault("400", _UNPARSABLE)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Booking target service", "version": "1.0.0",
                 "description": "Ticketing API with three coordination strategies (lock, saga,"
                                " 2pc). Errors are RFC 9457 problem details with a stable"
                                " `code`. A method that a path does not list answers 405"
                                " with an `Allow` header naming the ones it does (RFC 9110)."
                                " Request bodies are `application/json` in UTF-8."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }
