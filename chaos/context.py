"""What a fault needs to act on a running stack: its state, a Toxiproxy client, supervisord, a seed.

``ChaosContext(state)`` is cheap; the Toxiproxy client is opened on first use and closed by
``aclose()`` (or ``async with``). All randomness of the fault layer comes from ``ctx.rng``, which
is seeded, so the same seed picks the same processes and magnitudes.
"""

from __future__ import annotations

import random

from harness.stack.control import Supervisor
from harness.stack.state import StackState
from harness.stack.toxiproxy import Toxiproxy
from target_service.introspection import Stores

#: Timeout of one Toxiproxy API call made by a fault.
TOXIPROXY_TIMEOUT_S = 5.0


class ChaosContext:
    """A running stack as the faults see it."""

    def __init__(self, state: StackState, *, seed: int | None = None) -> None:
        self.state = state
        self.rng = random.Random(seed)
        self._toxiproxy: Toxiproxy | None = None

    @property
    def toxiproxy(self) -> Toxiproxy:
        """The async Toxiproxy client of this stack (every call has a timeout)."""
        if self._toxiproxy is None:
            self._toxiproxy = Toxiproxy(self.state.toxiproxy_url, timeout=TOXIPROXY_TIMEOUT_S)
        return self._toxiproxy

    @property
    def supervisor(self) -> Supervisor:
        return Supervisor(self.state.supervisor_socket)

    @property
    def stores(self) -> Stores:
        """The service's stores, for its introspection door."""
        return self.state.stores()

    @property
    def lock_lease_s(self) -> float:
        """The running service's lock lease (its door's clocks)."""
        return self.state.clocks().lock_lease_s

    async def aclose(self) -> None:
        if self._toxiproxy is not None:
            await self._toxiproxy.aclose()
            self._toxiproxy = None

    async def __aenter__(self) -> ChaosContext:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
