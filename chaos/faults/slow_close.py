"""``slow_close``: closing a connection is delayed by ``delay_ms``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.faults.network import ToxicFault, ToxicSpec, streams_of
from chaos.params import FaultParams, param


@dataclass(frozen=True, slots=True)
class SlowCloseParams(FaultParams):
    delay_ms: int = param(1000, min=0, max=600_000, doc="delay before the close goes through")
    stream: Literal["downstream", "upstream", "both"] = param(
        "downstream", doc="downstream, upstream or both"
    )


class SlowClose(ToxicFault[SlowCloseParams]):
    """The close of a connection reaches the other side ``delay_ms`` late."""

    kind = "slow_close"
    doc = "connection close is delayed by delay_ms"
    Params = SlowCloseParams

    def toxics(self) -> list[ToxicSpec]:
        attrs = {"delay": self.params.delay_ms}
        return [ToxicSpec("slow_close", s, attrs) for s in streams_of(self.params.stream)]
