"""Each strategy's purchase flow end to end, checked in both databases."""

from __future__ import annotations

from typing import Any

import pytest

from target_service.strategies import STRATEGIES
from tests.service.client import Api

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_purchase_sells_seats_and_captures_once(api: Api, strategy: str, seats_db: Any,
                                                      payments_db: Any) -> None:
    created = await api.order(["A-01", "A-02"], strategy)
    assert created.status == 201
    assert created.body["status"] == "PENDING"
    assert created.body["amount_cents"] == 30000
    order_id = created.body["order_id"]

    confirmed = await api.confirm(order_id)
    assert confirmed.status == 202, confirmed.body
    assert confirmed.body["status"] == "AUTHORIZED"
    assert confirmed.body["hold_expires_at"]

    sold = await api.finalize(order_id)
    assert sold.status == 200, sold.body
    assert sold.body["status"] == "SOLD"
    assert sorted(t["seat_id"] for t in sold.body["tickets"]) == ["A-01", "A-02"]

    seats = await seats_db.fetch(
        "SELECT seat_id, state, holder_order_id::text AS holder FROM seats"
        " WHERE event_id = 'evt_default' AND seat_id = ANY($1::text[])", ["A-01", "A-02"])
    assert {(r["state"], r["holder"]) for r in seats} == {("SOLD", order_id)}
    pays = await payments_db.fetch(
        "SELECT status, amount_cents FROM payments WHERE order_id = $1::uuid", order_id)
    assert [(p["status"], p["amount_cents"]) for p in pays] == [("CAPTURED", 30000)]
    assert (await api.get(order_id)).body["status"] == "SOLD"
    # confirm again (new key) on a SOLD order is a definite conflict, nothing changes
    again = await api.confirm(order_id)
    assert again.status == 409 and again.code == "ORDER_STATE_CONFLICT"


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_cancel_releases_seats_and_voids(api: Api, strategy: str,
                                               payments_db: Any) -> None:
    order_id, confirmed = await api.buy(["C-05"], strategy)
    assert confirmed.status == 202
    cancelled = await api.cancel(order_id)
    assert cancelled.status == 200 and cancelled.body["status"] == "CANCELLED"
    statuses = await payments_db.fetch(
        "SELECT status FROM payments WHERE order_id = $1::uuid", order_id)
    assert [s["status"] for s in statuses] == ["VOIDED"]
    # the seat is free again: another order gets it
    _, again = await api.buy(["C-05"], strategy)
    assert again.status == 202


async def test_discovery_endpoints_conform(api: Api) -> None:
    events = await api.call("GET", "/api/events")
    assert {e["event_id"] for e in events.body["events"]} >= {"evt_default", "evt_small"}
    seat_map = await api.call("GET", "/api/events/evt_default/seats")
    assert len(seat_map.body["seats"]) == 600
    assert (await api.call("GET", "/api/events/evt_default")).body["capacity"] == 600
    health = await api.call("GET", "/health")
    assert health.status == 200 and health.body["status"] == "ok"
    doc = await api.call("GET", "/openapi.json")
    assert doc.body["openapi"].startswith("3.")
    metrics = await api.call("GET", "/metrics")
    assert "booking_http_requests_total" in metrics.body
