"""What the ``lock-takeover-relay`` adversary aims at, asked through the service's door.

Pure helpers and door questions shared by the relay's pick (:mod:`chaos.faults.relay`) and its
rounds (:mod:`chaos.faults.relay_round`): which self-stopped holder is worth freezing (its
confirm is at the step and rivals want its seats), how long a frozen buyer may stay frozen, and
whose payment was declined. No table or key of the service is named here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chaos.context import ChaosContext
from target_service import introspection
from target_service.introspection import Seat

#: The relay's holder A is picked among the processes that stop themselves at the step: one
#: whose seats rivals want (orders on them created in the last ``DEMAND_WINDOW_S``, not being
#: confirmed) is kept; the rivals it needs drop with time, so the pick is bounded (``pick_need``).
DEMAND_WINDOW_S = 3.0
#: (since the pick began, rivals needed): 2 at first, then 1, then anyone
PICK_NEEDS = ((1.5, 2), (3.0, 1))
#: a frozen buyer's lease must not run out before it is continued: keep this much of it
LEASE_MARGIN_S = 0.3


def pick_need(elapsed_s: float) -> int:
    """How many rival orders a self-stopped holder's seats need to be the relay's A."""
    for until, need in PICK_NEEDS:
        if elapsed_s < until:
            return need
    return 0


def frozen_until(now: float, cap_s: float, pttls_ms: Sequence[int]) -> float:
    """How long (monotonic deadline) a frozen buyer may stay frozen: at most ``cap_s``, and
    less than the shortest of its leases that can run out into a fenced take-over
    (``pttls_ms``: their remaining time; negative, i.e. gone, counts as no time left)."""
    limit = cap_s
    for ms in pttls_ms:
        limit = min(limit, max(0.0, ms / 1000) - LEASE_MARGIN_S)
    return now + max(0.0, limit)


async def seats_of_instance(ctx: ChaosContext, instance: str) -> dict[Seat, str]:
    """Seat -> owner value of the seat locks process ``target-<instance>`` holds now."""
    return {h.seat: h.owner for h in await introspection.lock_holds(ctx.stores)
            if h.instance == instance}


async def at_step(ctx: ChaosContext, seats: Sequence[Seat]) -> list[Seat]:
    """Of ``seats``, those of lock confirms at the critical step: past their seat check and
    authorized (their seat write comes next, unless fenced out)."""
    confirms = await introspection.confirms_past_check(ctx.stores, seats)
    authorized = await introspection.paid_orders(
        ctx.stores, set().union(*confirms.values()), "AUTHORIZED")
    return sorted(s for s, orders in confirms.items() if orders & authorized)


async def seat_demand(ctx: ChaosContext, seats: Sequence[Seat]) -> int:
    """Rival orders on the still free ``seats``, recent and not being confirmed (buyers that
    wanted a seat and will come back for it while it looks free)."""
    return await introspection.rival_demand(ctx.stores, seats, DEMAND_WINDOW_S)


async def undeclined(ctx: ChaosContext, orders: Iterable[str]) -> set[str]:
    """Of ``orders``, those whose payment was not declined (authorized or still on its way:
    a process stops at the step for one request, another may be authorizing)."""
    wanted = set(orders)
    return wanted - await introspection.paid_orders(ctx.stores, wanted, "DECLINED")
