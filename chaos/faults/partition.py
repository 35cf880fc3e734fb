"""``partition``: the proxy is disabled, so new connections are refused and open ones are cut."""

from __future__ import annotations

from chaos.context import ChaosContext
from chaos.faults.network import ProxyFault
from chaos.params import FaultParams


class Partition(ProxyFault[FaultParams]):
    """Disable the proxy on start, enable it on stop."""

    kind = "partition"
    doc = "the link is down: new connections are refused and open ones are cut"
    Params = FaultParams

    async def _apply(self, ctx: ChaosContext) -> None:
        await ctx.toxiproxy.set_enabled(self.target, False)

    async def _remove(self, ctx: ChaosContext) -> None:
        await ctx.toxiproxy.set_enabled(self.target, True)
