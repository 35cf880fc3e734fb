"""What a ``lock-takeover-relay`` round looks for in the buyers, asked through the door.

:class:`BuyerLooks` is the half of :class:`~chaos.faults.relay_round.Round` that only looks:
which seat of A's a self-stopped process took over (B), which of B's seats a third buyer holds
(C), whether a rival sold a seat of A's. It names no table and no Redis key.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaos.context import ChaosContext
from chaos.faults.relay_aim import undeclined
from harness.stack.control import ProcessInfo
from target_service import introspection
from target_service.introspection import Seat


class BuyerLooks:
    """The looks of one round; the round sets these attributes (see Round.__init__)."""

    ctx: ChaosContext
    snapshot: dict[Seat, str]
    tokens: dict[Seat, int]
    owners: set[str]
    a_orders: set[str]
    b_orders: set[str]
    a_free: list[Seat]
    a_writers: dict[Seat, set[str]]
    b_owner: str | None
    b_own: list[Seat]
    _why: str

    async def _successor_seat(self, proc: ProcessInfo) -> Seat | None:
        """A seat of A's whose lock ``proc`` took over, the take-over claimed in Postgres (A is
        fenced out) and the seat still unwritten, its buyer's payment not declined."""
        instance = proc.name.removeprefix("target-")
        seats = sorted(self.snapshot)
        owners = await introspection.lock_owners(self.ctx.stores, seats)
        self._why = "no seat of A's"
        for seat in seats:
            owner = owners[seat]
            if owner is None or owner in self.owners or \
                    introspection.LockHold(seat, owner).instance != instance:
                continue
            fence = (await introspection.fence_counters(self.ctx.stores, [seat])).get(seat)
            row = (await introspection.seat_rows(self.ctx.stores, [seat])).get(seat)
            if row is None or row.state != "AVAILABLE":
                self._why = "seat written"
            elif fence is None or row.fence_token != fence:
                self._why = "take-over not claimed"
            elif not await undeclined(self.ctx, await self._confirms(seat) - self.a_orders):
                self._why = "declined"
            else:
                self.owners.add(owner)
                return seat
        return None

    async def _confirms(self, seat: Seat) -> set[str]:
        """Orders whose lock confirm on ``seat`` is past its check and not finished."""
        return (await introspection.confirms_past_check(self.ctx.stores, [seat])).get(seat, set())

    async def _third_buyer(self, proc: ProcessInfo, seats: Sequence[Seat],
                           *, unclaimed: bool = False) -> str | None:
        """The owner value under which ``proc`` holds one of ``seats`` (B's) anew, its buyer
        past its check on the still unwritten seat, its payment not declined; with
        ``unclaimed`` only one that took the lock with no take-over claim."""
        owners = await introspection.lock_owners(self.ctx.stores, seats)
        self._why = "no seat of B's"
        for seat in seats:
            owner = owners[seat]
            if owner is None or owner in self.owners or \
                    introspection.LockHold(seat, owner).instance != \
                    proc.name.removeprefix("target-"):
                continue
            row = (await introspection.seat_rows(self.ctx.stores, [seat])).get(seat)
            if row is None or row.state != "AVAILABLE":
                self._why = "seat written"
            elif not await undeclined(self.ctx, await self._confirms(seat) - self.b_orders):
                self._why = "declined or not past its check"
            elif unclaimed and not await self._unclaimed(seat):
                self._why = "claimed (B's lease ran out)"
            else:
                return owner
        return None

    async def _sold_by_rival(self, *, unclaimed: bool = False) -> bool:
        """A seat of :attr:`a_free` is SOLD to an order not A's; with ``unclaimed``, one whose
        fence token is still older than A's and whose confirm of A's was not declined: the
        rival wrote with no take-over claim, so A's write, continued now, lands on it."""
        seats = self.a_free
        if unclaimed:
            ok = await undeclined(self.ctx, set().union(*(self.a_writers[s] for s in seats)))
            seats = [s for s in seats if self.a_writers[s] & ok]
        rows = await introspection.seat_rows(self.ctx.stores, seats)
        return any(r.state == "SOLD" and r.holder_order_id is not None
                   and r.holder_order_id not in self.a_orders
                   and (not unclaimed or r.fence_token < self.tokens.get(s, 0))
                   for s, r in rows.items())

    async def _b_fenced(self) -> bool:
        """One of B's seats that are not A's is locked by another owner now: B is fenced out."""
        owners = await introspection.lock_owners(self.ctx.stores, self.b_own)
        return any(o is not None and o != self.b_owner for o in owners.values())

    async def _unclaimed(self, seat: Seat) -> bool:
        """The seat's holder took its lock with no take-over claim (its fence token in Postgres
        is older than the lock's): an unsafe release let it in."""
        fence = (await introspection.fence_counters(self.ctx.stores, [seat])).get(seat)
        row = (await introspection.seat_rows(self.ctx.stores, [seat])).get(seat)
        return fence is not None and row is not None and row.fence_token < fence

    async def _writes_to_come(self) -> None:
        """Note A's confirms past their check and :attr:`a_free`: their seats still AVAILABLE,
        where a write of A's is to come."""
        confirms = await introspection.confirms_past_check(self.ctx.stores, sorted(self.snapshot))
        for orders in confirms.values():
            self.a_orders |= orders
        self.a_writers = confirms
        rows = await introspection.seat_rows(self.ctx.stores, sorted(confirms))
        self.a_free = [s for s in sorted(confirms)
                       if s in rows and rows[s].state == "AVAILABLE"]
