"""The run's supply of seats: rolling on-sales beside the load (``[supply]``).

Every ``every_s`` seconds of the load the harness asks the service (``POST /admin/on-sale``,
its direct port) to open waves of each section of the buyers' event whose free seats fell
below ``low_water`` of its seeded size; when a call finds the hot section sold out (it sells
faster than that), the timer asks for twice as much from then on, and halves the ask again
after ``CALM_CALLS`` calls that found seats. The service decides and writes (the harness never
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
#: The timer asks for twice the free seats after a call found the hot section dry (it sells
#: faster than one interval's low water), up to this many seeded sizes (the service's limit),
#: and halves the ask again (down to the scenario's) after this many calls that found seats.
MAX_LOW_WATER = 16.0
CALM_CALLS = 40




@dataclass(slots=True)
class SupplyLog:
    """What the on-sale timer did: the waves it opened (load second, section, wave, seats),
    how many calls got no answer, and in how many answers the hot section had free seats
    before the call opened anything (the service's own count: unlike the history's
    ``hot_free_share``, it does not drop while faults keep buyers from winning)."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    unanswered: int = 0
    hot_free_answers: int = 0
    low_water_max: float = 0.0

    def summary(self) -> dict[str, Any]:
        answered = self.calls - self.unanswered
        return {"waves_opened": len(self.opened), "opened": self.opened, "calls": self.calls,
                "unanswered": self.unanswered, "low_water_max": self.low_water_max,
                "hot_free_before_call": round(self.hot_free_answers / answered, 3)
                if answered else None}


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


async def run_supply(supply: SupplySection, state: StackState, event_id: str, hot_section: str,
                     *, t0: float, stop: asyncio.Event) -> SupplyLog:
    """Run the on-sale timer until ``stop`` (nothing for ``on_sale = "none"``)."""
    log = SupplyLog()
    if supply.on_sale == "none":
        await stop.wait()
        return log
    low_water, calm = supply.low_water, 0
    async with httpx.AsyncClient(timeout=CALL_TIMEOUT_S) as client:
        while not stop.is_set():
            log.calls += 1
            log.low_water_max = max(log.low_water_max, low_water)
            answer = await on_sale_once(client, state, event_id, low_water)
            if answer is None:
                log.unanswered += 1
            else:
                at = round(time.monotonic() - t0, 1)
                opened = answer.get("opened", [])
                log.opened.extend({"at_s": at, **o} for o in opened)
                added = sum(o["seats"] for o in opened if o["section"] == hot_section)
                if answer.get("free", {}).get(hot_section, 0) - added > 0:
                    log.hot_free_answers += 1
                    calm += 1
                    if calm >= CALM_CALLS:
                        low_water, calm = max(supply.low_water, low_water / 2), 0
                else:  # it ran dry since the last call: ask for more next time
                    low_water, calm = min(MAX_LOW_WATER, low_water * 2), 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), supply.every_s)
    return log
