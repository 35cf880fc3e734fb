"""``blackhole``: a ``timeout`` toxic on both streams; connections open but nothing gets through."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.faults.network import ToxicFault, ToxicSpec
from chaos.params import FaultParams, param


@dataclass(frozen=True, slots=True)
class BlackholeParams(FaultParams):
    timeout_ms: int = param(
        0, min=0, max=3_600_000,
        doc="0: hold every byte forever; >0: close the connection after this long",
    )


class Blackhole(ToxicFault[BlackholeParams]):
    """Both directions stall: a client hangs until its own timeout, the far side sees nothing."""

    kind = "blackhole"
    doc = "nothing gets through either way: clients hang until their own timeout"
    Params = BlackholeParams

    def toxics(self) -> list[ToxicSpec]:
        attrs = {"timeout": self.params.timeout_ms}
        return [ToxicSpec("timeout", "upstream", attrs), ToxicSpec("timeout", "downstream", attrs)]
