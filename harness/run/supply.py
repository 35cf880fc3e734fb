"""The run's supply of seats: rolling on-sales beside the load (``[supply]``).

Every ``every_s`` seconds of the load the harness asks the service (``POST /admin/on-sale``,
its direct port) to open one more wave of each section of the buyers' event whose free seats
fell below ``low_water`` of its seeded size; the service decides and writes (the harness never
touches its tables). So the buyers, who read the seat map before each purchase, always find
free seats in the hot section, however long the run (docs/load.md). A call that gets no answer
(a paused or crashed service process) is skipped; the next tick tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.run.scenario import SupplySection
from harness.stack import StackState

#: How long one on-sale call may take (a paused service process must not stall the timer).
CALL_TIMEOUT_S = 3.0




@dataclass(slots=True)
class SupplyLog:
    """What the on-sale timer did: the waves it opened (load second, section, wave, seats)
    and how many calls got no answer."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    unanswered: int = 0

    def summary(self) -> dict[str, Any]:
        return {"waves_opened": len(self.opened), "opened": self.opened, "calls": self.calls,
                "unanswered": self.unanswered}


async def on_sale_once(client: httpx.AsyncClient, state: StackState, event_id: str,
                       low_water: float) -> dict[str, Any] | None:
    """One ``POST /admin/on-sale``; its answer, or None when there was none (or not a 200)."""
    try:
        response = await client.post(
            state.url("target") + "/admin/on-sale",
            json={"event_id": event_id, "low_water": low_water},
            headers={"X-Admin-Token": state.admin_token})
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    answer: dict[str, Any] = response.json()
    return answer


async def run_supply(supply: SupplySection, state: StackState, event_id: str, *, t0: float,
                     stop: asyncio.Event) -> SupplyLog:
    """Run the on-sale timer until ``stop`` (nothing for ``on_sale = "none"``)."""
    log = SupplyLog()
    if supply.on_sale == "none":
        await stop.wait()
        return log
    async with httpx.AsyncClient(timeout=CALL_TIMEOUT_S) as client:
        while not stop.is_set():
            log.calls += 1
            answer = await on_sale_once(client, state, event_id, supply.low_water)
            if answer is None:
                log.unanswered += 1
            else:
                at = round(time.monotonic() - t0, 1)
                log.opened.extend({"at_s": at, **o} for o in answer.get("opened", []))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), supply.every_s)
    return log
