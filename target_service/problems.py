"""RFC 9457 problem details with a stable upper-case ``code``.

:class:`Problem` is the one exception every handler raises for an expected error; the error
middleware renders it as ``application/problem+json``. Unexpected exceptions become a 500
``INTERNAL_ERROR`` (never for bad input: input is validated before any work).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://booking-harness.invalid/problems/"

#: code -> (status, title); the stable catalogue published in the OpenAPI document.
CODES: dict[str, tuple[int, str]] = {
    "BAD_REQUEST": (400, "The request is malformed"),
    "INVALID_JSON": (400, "The body is not valid JSON"),
    "IDEMPOTENCY_KEY_MISSING": (400, "An Idempotency-Key header is required"),
    "IDEMPOTENCY_KEY_INVALID": (400, "The Idempotency-Key header is malformed"),
    "UNAUTHENTICATED": (401, "A valid bearer token is required"),
    "PAYMENT_FAILED": (402, "The payment was declined"),
    "FORBIDDEN": (403, "Not allowed"),
    "NOT_FOUND": (404, "Not found"),
    "EVENT_NOT_FOUND": (404, "No such event"),
    "ORDER_NOT_FOUND": (404, "No such order"),
    "METHOD_NOT_ALLOWED": (405, "Method not allowed"),
    "SEAT_UNAVAILABLE": (409, "A requested seat is not available"),
    "ORDER_STATE_CONFLICT": (409, "The order is not in a state that allows this"),
    "ORDER_BUSY": (409, "Another request is working on this order"),
    "IDEMPOTENCY_KEY_IN_USE": (409, "A request with this Idempotency-Key is still in flight"),
    "REQUEST_EXPIRED": (409, "The request arrived after its not_after deadline"),
    "PAYLOAD_TOO_LARGE": (413, "The request body is too large"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "The body must be application/json"),
    "UNPROCESSABLE": (422, "The request cannot be processed"),
    "IDEMPOTENCY_KEY_MISMATCH": (422, "The Idempotency-Key was used for a different request"),
    "INTERNAL_ERROR": (500, "Internal error"),
    "DEPENDENCY_UNAVAILABLE": (503, "A dependency is unavailable; the outcome may be unknown"),
}


#: Answers that tell the client to retry (another request owns the order right now): like a
#: 5xx they are never stored under the Idempotency-Key, so the retry runs instead of replaying.
RETRY_CODES: frozenset[str] = frozenset({"ORDER_BUSY"})


class Problem(Exception):
    """An expected error answer: ``Problem("SEAT_UNAVAILABLE", "seat A-1 is sold")``."""

    def __init__(self, code: str, detail: str, *, status: int | None = None,
                 extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        default_status, title = CODES[code]
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.status = status or default_status
        self.title = title
        self.detail = detail
        self.extra = extra or {}
        #: response headers the answer needs (``Allow`` on a 405, ``WWW-Authenticate`` on a 401)
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem JSON object."""
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.code.lower().replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str | None = None,
                     headers: dict[str, str] | None = None) -> web.Response:
    """Render ``problem`` as an ``application/problem+json`` response (with its headers;
    ``Connection: close`` also closes the connection once the answer is sent)."""
    resp = json_response(problem.body(instance), status=problem.status,
                         content_type=PROBLEM_CONTENT_TYPE,
                         headers={**problem.headers, **(headers or {})} or None)
    if resp.headers.get("Connection", "").lower() == "close":
        resp.force_close()
    return resp


def json_response(body: Any, *, status: int = 200, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> web.Response:
    """A compact JSON response."""
    import json

    return web.Response(text=json.dumps(body, separators=(",", ":")), status=status,
                        content_type=content_type, headers=headers)
