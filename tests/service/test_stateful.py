"""Hypothesis drives the API with random orders, confirms, finalizes and cancels on a few
contended seats, and compares every answer and the seat map with a simple model."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from target_service.seed import reset_data
from target_service.strategies import STRATEGIES
from tests.service.openapi_check import check

SEATS = ["A-01", "A-02", "A-03", "A-04", "A-05"]
EVENT = "evt_small"


@dataclass
class ModelOrder:
    order_id: str
    seats: list[str]
    strategy: str
    status: str = "PENDING"
    failure: str | None = None


@dataclass
class Model:
    orders: dict[str, ModelOrder] = field(default_factory=dict)
    seat_owner: dict[str, tuple[str, str]] = field(default_factory=dict)  # seat -> (order, state)

    def free(self, seats: list[str]) -> bool:
        return all(s not in self.seat_owner for s in seats)


def _run(coro: Any) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


class BookingMachine(RuleBasedStateMachine):
    """The model: orders with statuses and which order holds/owns each seat."""

    stack: Any = None
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        _run(reset_data(self.stack.seats_dsn, self.stack.payments_dsn))
        self.http = httpx.Client(base_url=self.stack.target_url, timeout=30)
        token = self.http.post("/api/customers").json()["token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.model = Model()
        self.last: tuple[str, str, Any, str, int, Any] | None = None

    def teardown(self) -> None:
        self.http.close()

    def _post(self, path: str, body: Any) -> tuple[int, Any]:
        key = str(uuid.uuid4())
        r = self.http.post(path, json=body, headers={**self.headers, "Idempotency-Key": key})
        data = r.json()
        check("POST", path, r.status_code, r.headers["content-type"], data)
        self.last = ("POST", path, body, key, r.status_code, data)
        return r.status_code, data

    @initialize()
    def start(self) -> None:
        pass

    @rule(target=orders, seats=st.lists(st.sampled_from(SEATS), min_size=1, max_size=2,
                                        unique=True),
          strategy=st.sampled_from(STRATEGIES))
    def create(self, seats: list[str], strategy: str) -> Any:
        status, body = self._post("/api/orders", {"event_id": EVENT, "seats": seats,
                                                  "strategy": strategy})
        assert status == 201, body
        assert body["status"] == "PENDING" and body["seats"] == sorted(seats)
        self.model.orders[body["order_id"]] = ModelOrder(body["order_id"], sorted(seats),
                                                         strategy)
        return multiple(body["order_id"])

    def _expect_failed(self, o: ModelOrder, status: int, body: Any) -> None:
        if o.failure == "PAYMENT_FAILED":
            assert (status, body["code"]) == (402, "PAYMENT_FAILED"), body
        else:
            assert status == 409, body

    @rule(order_id=orders, decline=st.booleans())
    def confirm(self, order_id: str, decline: bool) -> None:
        o = self.model.orders[order_id]
        status, body = self._post(f"/api/orders/{order_id}:confirm",
                                  {"payment_token": "tok_decline" if decline else "tok_ok"})
        if o.status == "PENDING":
            if not self.model.free(o.seats):  # seats are checked before the payment
                assert (status, body["code"]) == (409, "SEAT_UNAVAILABLE"), body
                o.status, o.failure = "FAILED", "SEAT_UNAVAILABLE"
            elif decline:
                assert (status, body["code"]) == (402, "PAYMENT_FAILED"), body
                o.status, o.failure = "FAILED", "PAYMENT_FAILED"
            else:
                assert status == 202 and body["status"] == "AUTHORIZED", body
                o.status = "AUTHORIZED"
                for s in o.seats:
                    self.model.seat_owner[s] = (order_id, "HELD")
        elif o.status == "AUTHORIZED":
            assert status == 202 and body["status"] == "AUTHORIZED", body
        elif o.status == "FAILED":
            self._expect_failed(o, status, body)
        else:
            assert (status, body["code"]) == (409, "ORDER_STATE_CONFLICT"), body

    @rule(order_id=orders)
    def finalize(self, order_id: str) -> None:
        o = self.model.orders[order_id]
        status, body = self._post(f"/api/orders/{order_id}:finalize", None)
        if o.status in ("AUTHORIZED", "SOLD"):
            assert status == 200 and body["status"] == "SOLD", body
            assert sorted(t["seat_id"] for t in body["tickets"]) == o.seats
            o.status = "SOLD"
            for s in o.seats:
                self.model.seat_owner[s] = (order_id, "SOLD")
        elif o.status == "FAILED":
            self._expect_failed(o, status, body)
        else:
            assert (status, body["code"]) == (409, "ORDER_STATE_CONFLICT"), body

    @rule(order_id=consumes(orders))
    def cancel(self, order_id: str) -> None:
        o = self.model.orders[order_id]
        status, body = self._post(f"/api/orders/{order_id}:cancel", None)
        if o.status in ("PENDING", "AUTHORIZED", "CANCELLED"):
            assert status == 200 and body["status"] == "CANCELLED", body
            if o.status == "AUTHORIZED":
                for s in o.seats:
                    del self.model.seat_owner[s]
            o.status = "CANCELLED"
        else:
            assert status == 409, body

    @rule()
    def replay_last(self) -> None:
        if self.last is None:
            return
        _method, path, body, key, status, data = self.last
        r = self.http.post(path, json=body, headers={**self.headers, "Idempotency-Key": key})
        assert r.status_code == status and r.json() == data
        assert r.headers.get("Idempotent-Replayed") == "true"

    @invariant()
    def seat_map_matches_model(self) -> None:
        r = self.http.get(f"/api/events/{EVENT}/seats")
        check("GET", f"/api/events/{EVENT}/seats", r.status_code, r.headers["content-type"],
              r.json())
        states = {s["seat_id"]: s["state"] for s in r.json()["seats"] if s["seat_id"] in SEATS}
        expected = {s: self.model.seat_owner.get(s, ("", "AVAILABLE"))[1] for s in SEATS}
        assert states == expected


def test_api_matches_model(stack: Any) -> None:
    BookingMachine.stack = stack
    runner = BookingMachine.TestCase
    runner.settings = settings(max_examples=10, stateful_step_count=12, deadline=None,
                               suppress_health_check=list(HealthCheck))
    runner().runTest()
