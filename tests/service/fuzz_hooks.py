"""Schemathesis hooks of the OpenAPI fuzz pass (``SCHEMATHESIS_HOOKS=tests.service.fuzz_hooks``).

- Every request that carries a well-formed Idempotency-Key gets a fresh one: the fuzzer draws
  keys from a small space and reuses them across operations and bodies, and a reused key is
  answered from the record of another request (a replay or 422 ``IDEMPOTENCY_KEY_MISMATCH``),
  which would judge that request instead of this one. A malformed or missing key is left as it
  was drawn, so the service's 400 for it is still tested.
- ``problem_has_code`` fails any error answer that is not an RFC 9457 problem with the stable
  upper-case ``code`` of the service's catalogue and the status of the response.
- With ``FUZZ_CALL_LOG=<file>``, every request sent appends one line ``<status> <method>
  <operation>`` to that file: the pass's own count of requests and of 5xx answers.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import schemathesis

from target_service.idempotency import KEY_PATTERN, MAX_KEY_LEN
from target_service.problems import CODES, PROBLEM_CONTENT_TYPE

_KEY = re.compile(KEY_PATTERN)


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case,
                kwargs: dict[str, Any]) -> None:
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        value = headers[name]
        if isinstance(value, str) and len(value) <= MAX_KEY_LEN and _KEY.fullmatch(value):
            headers[name] = f"fuzz-{uuid.uuid4()}"


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: schemathesis.Case,
               response: schemathesis.Response) -> None:
    log = os.environ.get("FUZZ_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{response.status_code} {case.method.upper()} {case.operation.path}\n")


@schemathesis.check
def problem_has_code(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                     case: schemathesis.Case) -> bool | None:
    """Every 4xx/5xx is problem JSON with a catalogued ``code`` and the response's status."""
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return None
    ctype = response.headers.get("content-type", [""])[0]
    assert ctype.split(";")[0].strip() == PROBLEM_CONTENT_TYPE, \
        f"{response.status_code} answered with Content-Type {ctype!r}, not problem JSON"
    body = json.loads(response.content)
    assert isinstance(body, dict), f"the problem is not a JSON object: {body!r}"
    code = body.get("code")
    assert isinstance(code, str) and code in CODES, f"the problem has no catalogued code: {body}"
    assert body.get("status") == response.status_code, \
        f"the problem's status {body.get('status')} is not the response's {response.status_code}"
    return True
