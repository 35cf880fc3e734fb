"""``reset_peer``: connections are reset (TCP RST, "connection reset by peer")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.faults.network import ToxicFault, ToxicSpec, streams_of
from chaos.params import FaultParams, param


@dataclass(frozen=True, slots=True)
class ResetPeerParams(FaultParams):
    timeout_ms: int = param(0, min=0, max=3_600_000, doc="reset after this long (0: at once)")
    stream: Literal["downstream", "upstream", "both"] = param(
        "downstream", doc="downstream, upstream or both"
    )


class ResetPeer(ToxicFault[ResetPeerParams]):
    """Every connection through the proxy is reset ``timeout_ms`` after data flows."""

    kind = "reset_peer"
    doc = "connections are reset (connection reset by peer) after timeout_ms"
    Params = ResetPeerParams

    def toxics(self) -> list[ToxicSpec]:
        attrs = {"timeout": self.params.timeout_ms}
        return [ToxicSpec("reset_peer", s, attrs) for s in streams_of(self.params.stream)]
