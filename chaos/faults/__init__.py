"""Every fault kind, one small module each, listed in one explicit table.

``FAULTS[kind](target, params)`` builds a fault (validating both); ``await fault.start(ctx)`` /
``await fault.stop(ctx)`` apply and undo it, each safe to call twice. See :mod:`chaos.faults.base`
for the guarantees and :func:`make` for the one-call form with good errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.errors import UnknownFault
from chaos.faults.bandwidth import Bandwidth
from chaos.faults.base import Fault
from chaos.faults.blackhole import Blackhole
from chaos.faults.crash import Crash
from chaos.faults.explore import Explore
from chaos.faults.half_open import HalfOpen
from chaos.faults.kill import Kill
from chaos.faults.latency import Latency
from chaos.faults.limit_data import LimitData
from chaos.faults.partition import Partition
from chaos.faults.pause import Pause
from chaos.faults.relay import LockTakeoverRelay
from chaos.faults.reset_peer import ResetPeer
from chaos.faults.slow_close import SlowClose
from chaos.params import FaultParams

AnyFault = Fault[Any]

#: fault kind -> its class (docs/contract.md section 5.2); the schedules of section 5.1 are built
#: from these.
FAULTS: dict[str, type[AnyFault]] = {
    "partition": Partition,
    "blackhole": Blackhole,
    "half-open": HalfOpen,
    "latency": Latency,
    "bandwidth": Bandwidth,
    "reset_peer": ResetPeer,
    "slow_close": SlowClose,
    "limit_data": LimitData,
    "pause": Pause,
    "kill": Kill,
    "crash": Crash,
    "lock-takeover-relay": LockTakeoverRelay,
    "explore": Explore,
}


def fault_class(kind: str) -> type[AnyFault]:
    """The class of fault ``kind``; UnknownFault names it and lists the valid kinds."""
    try:
        return FAULTS[kind]
    except KeyError:
        raise UnknownFault(
            f"unknown fault {kind!r}; valid faults: {', '.join(FAULTS)}"
        ) from None


def make(
    kind: str, target: str, params: Mapping[str, Any] | FaultParams | None = None
) -> AnyFault:
    """A validated fault: UnknownFault, InvalidTarget or InvalidParams (exit 2) otherwise."""
    return fault_class(kind)(target, params)


__all__ = ["FAULTS", "AnyFault", "Fault", "fault_class", "make"]
