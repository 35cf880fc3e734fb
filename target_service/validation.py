"""Request-body parsing with size and nesting limits; bad input is a 4xx, never a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from target_service.problems import Problem
from target_service.strategies import STRATEGIES


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a JSON value (iterative; stops counting past ``limit``)."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


async def read_json(request: web.Request, *, max_bytes: int, max_depth: int,
                    allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object; 400/413/415 problems for anything else."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise Problem("PAYLOAD_TOO_LARGE", f"the body exceeds {max_bytes} bytes")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise Problem("PAYLOAD_TOO_LARGE", f"the body exceeds {max_bytes} bytes")
    if not raw.strip():
        if allow_empty:
            return {}
        raise Problem("BAD_REQUEST", "the request body is empty; a JSON object is required")
    ctype = request.headers.get("Content-Type", "application/json")
    if ctype and not (ctype.startswith("application/json") or "+json" in ctype):
        raise Problem("UNSUPPORTED_MEDIA_TYPE", f"Content-Type {ctype[:60]!r} is not JSON")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise Problem("BAD_REQUEST", f"the JSON is nested deeper than {max_depth} levels"
                      ) from None
    except ValueError as exc:
        raise Problem("INVALID_JSON", f"the body is not valid JSON: {str(exc)[:120]}") from None
    if _depth(data, max_depth) > max_depth:
        raise Problem("BAD_REQUEST", f"the JSON is nested deeper than {max_depth} levels")
    if not isinstance(data, dict):
        raise Problem("BAD_REQUEST", "the body must be a JSON object")
    return data


def _field(data: dict[str, Any], name: str, kind: type, what: str) -> Any:
    if name not in data:
        raise Problem("BAD_REQUEST", f"missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Problem("BAD_REQUEST", f"field {name!r} must be {what}")
    return value


def _reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise Problem("BAD_REQUEST", f"unknown fields: {', '.join(extra)[:200]}")


def order_request(data: dict[str, Any], max_seats: int) -> tuple[str, list[str], str]:
    """(event_id, seats, strategy) of a ``POST /api/orders`` body; 400 shape, 422 meaning."""
    _reject_unknown(data, {"event_id", "seats", "strategy"})
    event_id = _field(data, "event_id", str, "a string")
    seats = _field(data, "seats", list, "an array of seat ids")
    strategy = _field(data, "strategy", str, "a string")
    if not 0 < len(event_id) <= 64:
        raise Problem("BAD_REQUEST", "event_id must be 1 to 64 characters")
    if not all(isinstance(s, str) and 0 < len(s) <= 32 for s in seats):
        raise Problem("BAD_REQUEST", "every seat id must be a string of 1 to 32 characters")
    if strategy not in STRATEGIES:
        raise Problem("UNPROCESSABLE", f"strategy must be one of {', '.join(STRATEGIES)}")
    if not seats:
        raise Problem("UNPROCESSABLE", "an order needs at least one seat")
    if len(seats) > max_seats:
        raise Problem("UNPROCESSABLE", f"an order may hold at most {max_seats} seats")
    if len(set(seats)) != len(seats):
        raise Problem("UNPROCESSABLE", "a seat is listed twice")
    return event_id, sorted(seats), strategy


def confirm_request(data: dict[str, Any]) -> str:
    """The payment token of a ``:confirm`` body."""
    _reject_unknown(data, {"payment_token"})
    token = _field(data, "payment_token", str, "a string")
    if not 0 < len(token) <= 64 or not token.isprintable():
        raise Problem("BAD_REQUEST", "payment_token must be 1 to 64 printable characters")
    return str(token)


def parse_uuid(raw: str, code: str = "ORDER_NOT_FOUND") -> uuid.UUID:
    """A UUID path segment; anything else is a 404 (it cannot name a resource)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Problem(code, f"no such resource: {raw[:60]!r}") from None
