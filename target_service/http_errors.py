"""Problem JSON for requests aiohttp refuses before any handler runs.

A request line or header that cannot be parsed (a header without a colon, a line too long, a
bad method) is answered by aiohttp's protocol layer itself, as ``text/plain``. The runner here
makes those answers RFC 9457 problem JSON with a stable ``code`` too, so every 4xx a client
can see has one shape. 5xx answers keep aiohttp's own handling.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from target_service.problems import Problem, problem_response

log = logging.getLogger(__name__)

_CODES = {400: "BAD_REQUEST", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


class _ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler with a problem-JSON answer for unparsable requests."""

    __slots__ = ()

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not 400 <= status < 500:
            return super().handle_error(request, status, exc, message)
        log.info("unparsable request from %s: %s", request.remote, exc or message)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent on this connection")
        code = _CODES.get(status, "BAD_REQUEST")
        detail = (message or str(exc or "") or "the request could not be parsed")[:300]
        problem = Problem(code, f"the HTTP request could not be parsed: {detail}",
                          status=status)
        resp = problem_response(problem)
        resp.force_close()
        return resp


class _ProblemServer(web.Server):
    """A ``web.Server`` whose connections use :class:`_ProblemRequestHandler`."""

    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _ProblemRequestHandler  # same slots: only handle_error differs
        return handler


class ProblemAppRunner(web.AppRunner):
    """``web.AppRunner`` that answers unparsable HTTP with problem JSON (see module doc)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _ProblemServer
        return server
