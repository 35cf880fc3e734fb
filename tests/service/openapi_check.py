"""Validate a response against the service's OpenAPI document (status, headers, content type,
body), and a 405 for a method the document does not list (its ``Allow`` names the ones it does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from target_service.openapi import document
from target_service.problems import PROBLEM_CONTENT_TYPE

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def _doc() -> dict[str, Any]:
    return document()


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Path templates, most literal characters first: ``{order_id}:confirm`` before
    ``{order_id}``, as a path parameter may hold a colon (OpenAPI only excludes ``/``)."""
    out = []
    for template in _doc()["paths"]:
        rx = re.escape(template)
        rx = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", rx)
        out.append((re.compile("^" + rx + "$"), template))
    return sorted(out, key=lambda t: -len(re.sub(r"\{[a-z_]+\}", "", t[1])))


def template_for(path: str) -> str:
    """The OpenAPI path template matching a concrete path (the most specific one)."""
    for rx, template in _templates():
        if rx.match(path):
            return template
    raise AssertionError(f"no OpenAPI path for {path}")


def check(method: str, path: str, status: int, content_type: str, body: Any,
          headers: Mapping[str, str] | None = None) -> None:
    """Raise AssertionError unless the response is documented and its body matches.

    ``headers`` (when given) must hold every header the document marks required; a method
    the path does not list must be a 405 problem whose ``Allow`` names exactly the listed ones
    (and HEAD with GET).
    """
    template = template_for(path.split("?", 1)[0])
    item = _doc()["paths"][template]
    op = item.get(method.lower())
    if op is None:
        _check_not_allowed(method, template, item, status, content_type, body, headers)
        return
    responses = op["responses"]
    assert str(status) in responses, f"{method} {template} -> {status} is not documented"
    spec = responses[str(status)]
    if headers is not None:
        lower = {k.lower() for k in headers}
        for name, header in spec.get("headers", {}).items():
            assert not header.get("required") or name.lower() in lower, \
                f"{method} {template} -> {status}: header {name} is missing"
    media = content_type.split(";")[0].strip()
    content = spec.get("content", {})
    assert media in content, f"{method} {template} -> {status}: content type {media!r} not in" \
                             f" {sorted(content)}"
    schema = {**content[media]["schema"], "components": _doc()["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {path} -> {status}: {errors[0].message} at" \
                       f" {list(errors[0].absolute_path)}"


def _check_not_allowed(method: str, template: str, item: dict[str, Any], status: int,
                       content_type: str, body: Any, headers: Mapping[str, str] | None) -> None:
    listed = {m.upper() for m in item if m in _METHODS}
    if "GET" in listed:
        listed.add("HEAD")
    assert status == 405, f"{method} {template} is not documented, yet answered {status}"
    assert content_type.split(";")[0].strip() == PROBLEM_CONTENT_TYPE, content_type
    assert isinstance(body, dict) and body.get("code") == "METHOD_NOT_ALLOWED", body
    if headers is not None:
        allow = next((v for k, v in headers.items() if k.lower() == "allow"), None)
        assert allow is not None, f"{method} {template} -> 405 without Allow"
        assert {m.strip() for m in allow.split(",")} == listed, \
            f"{method} {template} -> 405 Allow: {allow}, the document lists {sorted(listed)}"
