"""Shared shape of the network faults: they aim at a Toxiproxy proxy (docs/contract.md section 3).

A :class:`ToxicFault` adds its toxics under unique names (``chaos-<kind>-<stream>-<id>``) and
removes exactly those on stop, so two faults on one proxy never undo each other. Toxicity is
always 1.0: whether a fault applies is decided by the (seeded) schedule, never by Toxiproxy.
"""

from __future__ import annotations

import abc
import contextlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chaos.context import ChaosContext
from chaos.faults.base import Fault, P
from chaos.params import FaultParams
from harness.stack.toxiproxy import ProxyNotFound, Stream
from harness.topology import PROXY_NAMES

Streams = Literal["downstream", "upstream", "both"]


def streams_of(value: str) -> tuple[Stream, ...]:
    """``both`` -> (upstream, downstream); otherwise the one stream."""
    if value == "both":
        return ("upstream", "downstream")
    return ("upstream",) if value == "upstream" else ("downstream",)


@dataclass(frozen=True, slots=True)
class ToxicSpec:
    """One toxic to add: its Toxiproxy type, stream and attributes."""

    type: str
    stream: Stream
    attributes: Mapping[str, Any]


class ProxyFault(Fault[P]):
    """A fault aimed at one of the contract's Toxiproxy proxies."""

    @classmethod
    def valid_targets(cls) -> tuple[str, ...]:
        return PROXY_NAMES


class ToxicFault(ProxyFault[P]):
    """A fault made of toxics on the target proxy."""

    def __init__(self, target: str, params: Mapping[str, Any] | FaultParams | None = None):
        super().__init__(target, params)
        self._id = secrets.token_hex(4)
        self._toxic_names: list[str] = []

    @abc.abstractmethod
    def toxics(self) -> list[ToxicSpec]:
        """The toxics this fault adds, from its parameters."""

    @property
    def toxic_names(self) -> tuple[str, ...]:
        """Names of the toxics this fault added (and has not yet removed)."""
        return tuple(self._toxic_names)

    async def _apply(self, ctx: ChaosContext) -> None:
        await ctx.toxiproxy.get_proxy(self.target)  # a clear ProxyNotFound before any change
        for spec in self.toxics():
            name = f"chaos-{self.kind}-{spec.stream}-{self._id}"
            self._toxic_names.append(name)  # recorded first: a timed-out add is still removed
            await ctx.toxiproxy.add_toxic(
                self.target, spec.type, name=name, stream=spec.stream, toxicity=1.0,
                attributes=spec.attributes,
            )

    async def _remove(self, ctx: ChaosContext) -> None:
        while self._toxic_names:
            with contextlib.suppress(ProxyNotFound):
                await ctx.toxiproxy.remove_toxic(self.target, self._toxic_names[-1])
            self._toxic_names.pop()
