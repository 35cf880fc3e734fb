"""The buyer: signs up, looks at the seat map, and buys seats: create -> confirm -> finalize.

Run by `harness run` (headless), `harness ui` (web UI) or plain
``locust -f locustfiles/buyer.py --host http://127.0.0.1:<target_api>``.

What a buyer does is chosen by a seeded planner (:mod:`locustfiles.workload`): which seats, which
card (a share is declined), and whether they walk away after confirm (their hold must expire).
Each of the three order requests is one operation of the client history, retried with the same
Idempotency-Key the way a careful client retries (:mod:`locustfiles.operation`). Business answers
(a seat lost to a rival, a declined card) are successes in Locust's statistics; timeouts,
dropped connections and server errors are failures.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import FastHttpUser, task
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.runners import WorkerRunner

from locustfiles import final_stats  # noqa: F401  (registers the final CSV rewrite)
from locustfiles.history_hook import PROCESS, workload_of
from locustfiles.operation import Completion, OperationRunner, OperationSpec
from locustfiles.outcomes import AttemptResult, Kind, classify, locust_failure
from locustfiles.retry import RetryPolicy
from locustfiles.workload import (
    Planner,
    PurchasePlan,
    Seat,
    Workload,
    parse_seat_map,
    user_rng,
)

_user_numbers = itertools.count()

#: The last seat map of each event this Locust process fetched, with when (monotonic seconds):
#: shared by its buyers when the workload's ``seat_map_max_age_s`` allows (a 15,000-seat map
#: costs a buyer about 100 ms of CPU to parse and rank, which a 2-core soak cannot pay per
#: purchase).
_recent_maps: dict[str, tuple[float, list[Seat]]] = {}


class Buyer(FastHttpUser):
    """One simulated buyer of the booking system."""

    # A client gives up on one attempt after this long (the workload may shorten it).
    network_timeout = 5.0
    connection_timeout = 5.0

    def __init__(self, environment: Any) -> None:
        workload = workload_of(environment)
        self.network_timeout = self.connection_timeout = workload.client_timeout_s
        super().__init__(environment)
        self.workload: Workload = workload
        worker = environment.runner.worker_index if isinstance(
            environment.runner, WorkerRunner) else 0
        number = next(_user_numbers)
        self.planner_rng = user_rng(workload.seed, worker, number, "plans")
        self.think_rng = user_rng(workload.seed, worker, number, "think")
        self.ops = OperationRunner(
            policy=RetryPolicy(**_fields(workload.retry)),
            jitter=user_rng(workload.seed, worker, number, "jitter"),
            emit=lambda event: environment.events.history.fire(event=event),
            process=PROCESS,
            sleep=gevent.sleep,
        )
        self.planner = Planner(workload, self.planner_rng)
        self.customer: str | None = None
        self.token = ""
        self.seat_map: list[Seat] = []

    def wait_time(self) -> float:
        return self.think_rng.uniform(*self.workload.think_time_s)

    def on_start(self) -> None:
        self.sign_up()

    # --- the purchase flow ---------------------------------------------------------------
    @task
    def buy_tickets(self) -> None:
        if self.customer is None and not self.sign_up():
            return
        plan = self.planner.next_purchase(self.look_at_seat_map())
        if not plan.seats:
            return
        order_id = self.create_order(plan)
        if order_id is None:
            return
        confirmed = self.confirm_payment(order_id, plan)
        self.forget_seats(plan)  # held by us now, or lost to a rival: not worth another try
        if not confirmed:
            return
        if plan.abandon:
            return  # walks away with the seats held: the hold must expire
        self.finalize(order_id, plan)

    def sign_up(self) -> bool:
        """POST /api/customers, retried on no answer / 503; True once signed up."""
        policy, started = self.ops.policy, time.monotonic()
        for number in range(1, policy.max_attempts + 1):
            result = self._attempt("POST", "/api/customers", {}, name="sign up")
            if classify(result) is Kind.OK and isinstance(result.body, dict):
                self.customer = str(result.body["customer_id"])
                self.token = str(result.body["token"])
                return True
            elapsed = time.monotonic() - started
            delay = policy.next_delay(classify(result), number, elapsed, self.ops.jitter)
            if delay is None:
                return False
            gevent.sleep(delay)
        return False

    def look_at_seat_map(self) -> list[Seat]:
        """The current seat map (the last one seen when the service does not answer), or one
        that another buyer of this process fetched less than ``seat_map_max_age_s`` ago."""
        event_id, max_age = self.workload.event_id, self.workload.seat_map_max_age_s
        recent = _recent_maps.get(event_id)
        if recent is not None and time.monotonic() - recent[0] < max_age:
            self.seat_map = recent[1]
            return self.seat_map
        result = self._attempt("GET", f"/api/events/{event_id}/seats", None, name="seat map")
        if classify(result) is Kind.OK:
            self.seat_map = parse_seat_map(result.body)
            if max_age > 0:
                _recent_maps[event_id] = (time.monotonic(), self.seat_map)
        return self.seat_map

    def forget_seats(self, plan: PurchasePlan) -> None:
        """Mark the plan's seats taken on this buyer's copy of the map (until the next look)."""
        taken = set(plan.seats)
        self.seat_map = [replace(s, available=False) if s.seat_id in taken else s
                         for s in self.seat_map]

    def create_order(self, plan: PurchasePlan) -> str | None:
        body = {"event_id": self.workload.event_id, "seats": list(plan.seats),
                "strategy": self.workload.strategy}
        done = self._operation("create", "/api/orders", body, plan.create_key, plan, None)
        if done.type == "ok" and isinstance(done.body, dict) and done.body.get("order_id"):
            return str(done.body["order_id"])
        return None

    def confirm_payment(self, order_id: str, plan: PurchasePlan) -> bool:
        done = self._operation("confirm", f"/api/orders/{order_id}:confirm",
                               {"payment_token": plan.card}, plan.confirm_key, plan, order_id)
        return done.type == "ok"

    def finalize(self, order_id: str, plan: PurchasePlan) -> bool:
        done = self._operation("finalize", f"/api/orders/{order_id}:finalize", {},
                               plan.finalize_key, plan, order_id)
        return done.type == "ok"

    # --- plumbing ------------------------------------------------------------------------
    def _operation(self, op: Any, path: str, body: dict[str, Any], key: str,
                   plan: PurchasePlan, order_id: str | None) -> Completion:
        spec = OperationSpec(op, self.customer or "", key, self.workload.strategy,
                             self.workload.event_id, plan.seats, order_id)
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key}
        send: Callable[[], AttemptResult] = lambda: self._attempt(  # noqa: E731
            "POST", path, body, name=op, headers=headers)
        return self.ops.perform(spec, send)

    def _attempt(self, method: str, path: str, body: dict[str, Any] | None, *, name: str,
                 headers: dict[str, str] | None = None) -> AttemptResult:
        """One HTTP request, marked in Locust's statistics by what it means."""
        with self.client.request(method, path, json=body, headers=headers, name=name,
                                 catch_response=True) as response:
            result = _result_of(response)
            why = locust_failure(result)
            if why is None:
                response.success()
            else:
                response.failure(why)
        return result


def _result_of(response: Any) -> AttemptResult:
    error = getattr(response, "error", None)
    status = int(response.status_code or 0)
    if isinstance(error, LocustBadStatusCode):
        error = None  # an HTTP error status is an answer, not a lost request
    try:
        content = b"" if error is not None else (response.content or b"")
    except Exception as exc:  # the body never arrived in full
        error = exc
    if status == 0 or error is not None:
        # No (complete) answer: the request may or may not have happened.
        reason = f"{type(error).__name__}: {error}" if error is not None else "no response"
        return AttemptResult(None, error=reason)
    try:
        body: Any = json.loads(content) if content else None
    except ValueError:
        body = content[:200].decode("utf-8", "replace")
    headers = response.headers or {}
    replayed = str(headers.get("Idempotent-Replayed", "")).lower() == "true"
    return AttemptResult(status, body=body, replayed=replayed)


def _fields(settings: Any) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__slots__}
