"""The HTTP edge's input checks: every string that reaches SQL is checked here, once.

Postgres cannot hold U+0000 in ``text`` or ``jsonb``, and asyncpg cannot encode a lone surrogate
(it is not UTF-8), so a string carrying either must be refused before any statement runs:
:func:`path_guard` answers 404 for such a path (no resource can have that name), and
:func:`read_json` answers 400 for such a string anywhere in a body. Request headers that reach
SQL are checked where they are parsed (``idempotency.validate_key``, ``auth``). Bad input is a
4xx problem, never a 500.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from target_service.problems import Problem
from target_service.strategies import STRATEGIES

#: the one media type of request bodies; ``charset`` may only say utf-8 (RFC 8259 section 8.1)
JSON_MEDIA_TYPE = "application/json"
#: event and seat ids: no control character (Unicode category Cc); published in the OpenAPI
#: document, and the server's own check (``re`` reads the same ``\uXXXX`` escapes)
ID_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"
MAX_EVENT_ID_LEN = 64
MAX_SEAT_ID_LEN = 32
#: payment tokens: printable ASCII
PAYMENT_TOKEN_PATTERN = "^[ -~]+$"  # noqa: S105 (a pattern, not a secret)
MAX_PAYMENT_TOKEN_LEN = 64

#: the content codings aiohttp decodes before the body reaches :func:`read_json`
_CONTENT_CODINGS = ("identity", "gzip", "deflate", "br")

_ID = re.compile(ID_PATTERN)
_PAYMENT_TOKEN = re.compile(PAYMENT_TOKEN_PATTERN)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """Whether Postgres can store and compare ``text``: no U+0000, no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def _first_unstorable(value: Any) -> str | None:
    """The first string (key or value) of a JSON value that :func:`storable` refuses."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


@web.middleware
async def path_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """404 for a path holding U+0000 or a lone surrogate, before any handler looks it up.

    Every path id (``event_id``, ``order_id``) and the path itself (stored with an
    Idempotency-Key) reach SQL; such a path can name no resource.
    """
    if not storable(request.path):
        raise Problem("NOT_FOUND", "no resource has this name (it holds U+0000 or is not UTF-8)")
    response: web.StreamResponse = await handler(request)
    return response


def is_id(text: str, max_len: int) -> bool:
    """Whether ``text`` is a well-formed event or seat id (see :data:`ID_PATTERN`)."""
    return len(text) <= max_len and _ID.fullmatch(text) is not None


def _json_media_type(ctype: str) -> bool:
    """``application/json``, with at most a ``charset=utf-8`` parameter (case-insensitive)."""
    media, *params = ctype.split(";")
    if media.strip().lower() != JSON_MEDIA_TYPE:
        return False
    for param in filter(None, (p.strip() for p in params)):
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            return False
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
    """The body as a JSON object; 400/413/415 problems for anything else.

    The body must be ``application/json`` (415 otherwise, also when the Content-Type is missing;
    a ``+json`` type such as ``application/json-patch+json`` is a different media type), UTF-8
    (400: JSON has no other encoding), and hold no string Postgres cannot store (400). An empty
    body is ``{}`` where ``allow_empty``, whatever its Content-Type.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise Problem("PAYLOAD_TOO_LARGE", f"the body exceeds {max_bytes} bytes")
    try:
        raw = await request.content.read(max_bytes + 1)
    except (RequestPayloadError, HttpProcessingError) as exc:
        # the rest of the body cannot be read either: the connection cannot serve another
        # request, and the client must know it before it sends one
        raise Problem("BAD_REQUEST", f"the body could not be read: {str(exc)[:120]}",
                      headers={"Connection": "close"}) from None
    if len(raw) > max_bytes:
        raise Problem("PAYLOAD_TOO_LARGE", f"the body exceeds {max_bytes} bytes")
    if allow_empty and not raw.strip():
        return {}
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding not in _CONTENT_CODINGS:
        raise Problem("UNSUPPORTED_MEDIA_TYPE", f"Content-Encoding {coding[:40]!r} is not one"
                      f" of {', '.join(_CONTENT_CODINGS)}")
    ctype = request.headers.get("Content-Type")
    if ctype is None:
        raise Problem("UNSUPPORTED_MEDIA_TYPE", "the body needs Content-Type: application/json")
    if not _json_media_type(ctype):
        raise Problem("UNSUPPORTED_MEDIA_TYPE",
                      f"Content-Type {ctype[:60]!r} is not application/json (charset utf-8)")
    if not raw.strip():
        raise Problem("BAD_REQUEST", "the request body is empty; a JSON object is required")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem("INVALID_JSON", f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Problem("BAD_REQUEST", f"the JSON is nested deeper than {max_depth} levels"
                      ) from None
    except ValueError as exc:
        raise Problem("INVALID_JSON", f"the body is not valid JSON: {str(exc)[:120]}") from None
    if _depth(data, max_depth) > max_depth:
        raise Problem("BAD_REQUEST", f"the JSON is nested deeper than {max_depth} levels")
    if not isinstance(data, dict):
        raise Problem("BAD_REQUEST", "the body must be a JSON object")
    bad = _first_unstorable(data)
    if bad is not None:
        raise Problem("BAD_REQUEST", f"a string holds U+0000 or a lone surrogate: {bad[:40]!r}")
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
    if not is_id(event_id, MAX_EVENT_ID_LEN):
        raise Problem("BAD_REQUEST", f"event_id must be 1 to {MAX_EVENT_ID_LEN} characters,"
                      " none of them a control character")
    if not all(isinstance(s, str) and is_id(s, MAX_SEAT_ID_LEN) for s in seats):
        raise Problem("BAD_REQUEST", f"every seat id must be a string of 1 to {MAX_SEAT_ID_LEN}"
                      " characters, none of them a control character")
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
    if len(token) > MAX_PAYMENT_TOKEN_LEN or not _PAYMENT_TOKEN.fullmatch(token):
        raise Problem("BAD_REQUEST", f"payment_token must be 1 to {MAX_PAYMENT_TOKEN_LEN}"
                      " printable ASCII characters")
    return str(token)


def parse_uuid(raw: str, code: str = "ORDER_NOT_FOUND") -> uuid.UUID:
    """A UUID path segment; anything else is a 404 (it cannot name a resource)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Problem(code, f"no such resource: {raw[:60]!r}") from None
