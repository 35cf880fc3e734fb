"""``half-open``: a ``timeout`` toxic on one stream only.

On ``downstream`` (the default) requests still reach the far side, which acts on them, but its
answers never arrive: the client times out not knowing that its write happened. On ``upstream``
the far side never hears the requests while the client's connection stays open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.faults.network import ToxicFault, ToxicSpec
from chaos.params import FaultParams, param


@dataclass(frozen=True, slots=True)
class HalfOpenParams(FaultParams):
    stream: Literal["downstream", "upstream"] = param(
        "downstream", doc="the stream that is cut (downstream: answers are lost)"
    )
    timeout_ms: int = param(
        0, min=0, max=3_600_000, doc="0: hold forever; >0: close the connection after this long"
    )


class HalfOpen(ToxicFault[HalfOpenParams]):
    """One direction stalls: the far side acts, but its answer never reaches the client."""

    kind = "half-open"
    doc = "the far side acts but its answers never arrive (one stream held)"
    Params = HalfOpenParams

    def toxics(self) -> list[ToxicSpec]:
        return [ToxicSpec("timeout", self.params.stream, {"timeout": self.params.timeout_ms})]
