"""Validate a response against the service's OpenAPI document (status, content type, body)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from target_service.openapi import document


@cache
def _doc() -> dict[str, Any]:
    return document()


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in _doc()["paths"]:
        rx = re.escape(template)
        rx = re.sub(r"\\\{[a-z_]+\\\}", "[^/:]+", rx)
        out.append((re.compile("^" + rx + "$"), template))
    return out


def template_for(path: str) -> str:
    """The OpenAPI path template matching a concrete path."""
    for rx, template in _templates():
        if rx.match(path):
            return template
    raise AssertionError(f"no OpenAPI path for {path}")


def check(method: str, path: str, status: int, content_type: str, body: Any) -> None:
    """Raise AssertionError unless the response is documented and its body matches."""
    template = template_for(path.split("?", 1)[0])
    op = _doc()["paths"][template].get(method.lower())
    assert op is not None, f"{method} {template} is not documented"
    responses = op["responses"]
    assert str(status) in responses, f"{method} {template} -> {status} is not documented"
    spec = responses[str(status)]
    media = content_type.split(";")[0].strip()
    content = spec.get("content", {})
    assert media in content, f"{method} {template} -> {status}: content type {media!r} not in" \
                             f" {sorted(content)}"
    schema = {**content[media]["schema"], "components": _doc()["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {path} -> {status}: {errors[0].message} at" \
                       f" {list(errors[0].absolute_path)}"
