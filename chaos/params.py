"""Typed fault parameters: frozen dataclasses, validated field by field from untyped input.

A fault's parameters are a frozen dataclass whose fields are declared with :func:`param` (a
default, bounds and a one-line doc). :func:`parse_params` turns a mapping from a scenario file, a
schedule or the command line into that dataclass, or raises :class:`InvalidParams` naming the
fault, the field and what is wrong; nothing is coerced silently (``"5"`` is not ``5``, ``true``
is not ``1``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from chaos.errors import InvalidParams


@dataclasses.dataclass(frozen=True, slots=True)
class FaultParams:
    """Base of every fault's parameter dataclass; ``check`` adds cross-field rules."""

    def check(self) -> None:
        """Raise ``ValueError("field: reason")`` when fields are inconsistent with each other."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


P = TypeVar("P", bound=FaultParams)


def param(
    default: Any, *, min: float | None = None, max: float | None = None, doc: str = ""
) -> Any:
    """A parameter field with a default, inclusive bounds and a one-line doc."""
    return dataclasses.field(default=default, metadata={"min": min, "max": max, "doc": doc})


def _check_type(value: Any, hint: Any) -> str | None:
    """None when ``value`` fits ``hint`` (int, float, str, bool or a Literal); else a reason."""
    if typing.get_origin(hint) is Literal:
        allowed = typing.get_args(hint)
        return None if value in allowed else f"must be one of {', '.join(map(repr, allowed))}"
    if hint is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "must be an integer"
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if hint is str:
        return None if isinstance(value, str) else "must be a string"
    raise TypeError(f"unsupported parameter type {hint!r}")  # a programming error


def parse_params(cls: type[P], raw: Mapping[str, Any] | P | None, *, fault: str) -> P:
    """``raw`` validated into ``cls``; :class:`InvalidParams` names ``fault`` and the field."""
    if isinstance(raw, cls):
        values: dict[str, Any] = dataclasses.asdict(raw)
    elif raw is None:
        values = {}
    elif isinstance(raw, Mapping):
        values = dict(raw)
    else:
        raise InvalidParams(f"fault {fault!r}: params must be a table, not {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise InvalidParams(
            f"fault {fault!r}: unknown parameter {unknown[0]!r}; known parameters: {known}"
        )
    for name, value in values.items():
        reason = _check_type(value, hints[name])
        meta = fields[name].metadata
        if reason is None and isinstance(value, (int, float)) and not isinstance(value, bool):
            if meta.get("min") is not None and value < meta["min"]:
                reason = f"must be >= {meta['min']:g}"
            elif meta.get("max") is not None and value > meta["max"]:
                reason = f"must be <= {meta['max']:g}"
        if reason is not None:
            raise InvalidParams(f"fault {fault!r}: parameter {name!r}={value!r} {reason}")
    values = {k: float(v) if hints[k] is float else v for k, v in values.items()}
    result = cls(**values)
    try:
        result.check()
    except ValueError as exc:
        raise InvalidParams(f"fault {fault!r}: parameter {exc}") from None
    return result


def describe(cls: type[FaultParams]) -> list[tuple[str, Any, str]]:
    """``(name, default, doc)`` of each parameter, for help texts."""
    return [(f.name, f.default, str(f.metadata.get("doc", ""))) for f in dataclasses.fields(cls)]
