"""``bandwidth``: the stream is throttled to ``rate_kbps`` kilobytes per second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.faults.network import ToxicFault, ToxicSpec, streams_of
from chaos.params import FaultParams, param


@dataclass(frozen=True, slots=True)
class BandwidthParams(FaultParams):
    rate_kbps: int = param(10, min=0, max=10_000_000, doc="KB/s (0 stalls the stream)")
    stream: Literal["downstream", "upstream", "both"] = param(
        "downstream", doc="downstream (answers), upstream or both"
    )


class Bandwidth(ToxicFault[BandwidthParams]):
    """Throughput of the link limited to ``rate_kbps`` KB/s."""

    kind = "bandwidth"
    doc = "throughput limited to rate_kbps KB/s"
    Params = BandwidthParams

    def toxics(self) -> list[ToxicSpec]:
        attrs = {"rate": self.params.rate_kbps}
        return [ToxicSpec("bandwidth", s, attrs) for s in streams_of(self.params.stream)]
