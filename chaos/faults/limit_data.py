"""``limit_data``: a connection is closed once ``bytes`` have passed on the stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.faults.network import ToxicFault, ToxicSpec, streams_of
from chaos.params import FaultParams, param


@dataclass(frozen=True, slots=True)
class LimitDataParams(FaultParams):
    bytes: int = param(1024, min=1, max=2**40, doc="bytes after which the connection is closed")
    stream: Literal["downstream", "upstream", "both"] = param(
        "downstream", doc="downstream, upstream or both"
    )


class LimitData(ToxicFault[LimitDataParams]):
    """Each connection is cut after ``bytes`` bytes: long answers arrive truncated."""

    kind = "limit_data"
    doc = "each connection is closed after `bytes` bytes"
    Params = LimitDataParams

    def toxics(self) -> list[ToxicSpec]:
        attrs = {"bytes": self.params.bytes}
        return [ToxicSpec("limit_data", s, attrs) for s in streams_of(self.params.stream)]
