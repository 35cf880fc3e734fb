"""``latency``: every chunk on the stream is delayed by ``latency_ms`` +/- ``jitter_ms``.

The jitter is drawn per chunk by Toxiproxy's ``latency`` toxic. We deliberately do not re-draw
it ourselves by updating the toxic: Toxiproxy interrupts a toxic on update and lets the chunk it is
delaying through at once, which would break the promised lower bound. What is seeded and ours
is the choice of ``latency_ms`` and ``jitter_ms`` (by the schedule); toxicity is always 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.faults.network import ToxicFault, ToxicSpec, streams_of
from chaos.params import FaultParams, param


@dataclass(frozen=True, slots=True)
class LatencyParams(FaultParams):
    latency_ms: int = param(500, min=0, max=600_000, doc="added delay per chunk")
    jitter_ms: int = param(0, min=0, max=600_000, doc="uniform +/- spread, <= latency_ms")
    stream: Literal["downstream", "upstream", "both"] = param(
        "downstream", doc="downstream (answers), upstream or both"
    )

    def check(self) -> None:
        if self.jitter_ms > self.latency_ms:
            raise ValueError(
                f"'jitter_ms'={self.jitter_ms} must be <= latency_ms ({self.latency_ms})"
            )


class Latency(ToxicFault[LatencyParams]):
    """Delay within [latency - jitter, latency + jitter] per chunk and stream."""

    kind = "latency"
    doc = "every chunk is delayed by latency_ms +/- jitter_ms"
    Params = LatencyParams

    def toxics(self) -> list[ToxicSpec]:
        attrs = {"latency": self.params.latency_ms, "jitter": self.params.jitter_ms}
        return [ToxicSpec("latency", s, attrs) for s in streams_of(self.params.stream)]
