"""Rolling on-sales (``POST /admin/on-sale``): a section low on free seats gets one more wave."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.client import Api

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def on_sale(api: Api, stack: Any, body: dict[str, Any]) -> Any:
    return await api.call("POST", "/admin/on-sale", json=body,
                          headers={"X-Admin-Token": stack.admin_token})


async def test_a_wave_opens_only_below_the_low_water_and_the_capacity_follows(
    api: Api, stack: Any, seats_db: Any
) -> None:
    r = await on_sale(api, stack, {"event_id": "evt_small", "low_water": 0.5})
    assert (r.status, r.body["opened"], r.body["free"]) == (200, [], {"FLOOR": 20})
    for seats in (["A-01", "A-02", "A-03", "A-04", "A-05"], ["A-06", "A-07", "A-08", "A-09"],
                  ["A-10", "A-11"]):
        _, confirmed = await api.buy(seats, "saga", event_id="evt_small")
        assert confirmed.status == 202, confirmed.body
    r = await on_sale(api, stack, {"event_id": "evt_small", "low_water": 0.5})
    assert r.body["opened"] == [{"section": "FLOOR", "wave": 2, "seats": 20}]
    assert r.body["free"] == {"FLOOR": 29}
    assert await seats_db.fetchval(
        "SELECT capacity FROM events WHERE event_id = 'evt_small'") == 40
    seat_map = (await api.call("GET", "/api/events/evt_small/seats")).body["seats"]
    assert {s["seat_id"] for s in seat_map} >= {"A2-01", "A2-20"}
    again = await on_sale(api, stack, {"event_id": "evt_small", "low_water": 0.5})
    assert again.body["opened"] == []  # 29 free of a seeded 20: nothing runs low
    more = await on_sale(api, stack, {"event_id": "evt_small", "low_water": 3})
    assert [o["wave"] for o in more.body["opened"]] == [3, 4]  # 29 + 2 waves >= 3 sizes
    assert more.body["free"] == {"FLOOR": 69}


async def test_bad_on_sale_requests_are_4xx_problems(api: Api, stack: Any) -> None:
    for body, status in (({"event_id": "evt_nope"}, 404), ({"event_id": 3}, 400),
                         ({"event_id": "evt_small", "low_water": 17}, 400),
                         ({"event_id": "evt_small", "x": 1}, 400)):
        r = await on_sale(api, stack, body)
        assert r.status == status, (body, r.body)
    r = await api.call("POST", "/admin/on-sale", json={"event_id": "evt_small"})
    assert r.status == 403
