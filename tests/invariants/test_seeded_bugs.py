"""Each seeded bug, switched on in the real service, is caught by its invariant; switched off, the
same directed scenario passes every invariant.

Scenarios are directed and bounded: one target process (so a failpoint armed through
``/admin/failpoints`` is armed where the request runs), failpoints or one Toxiproxy toxic to hit
the bug's window, ``POST /admin/recover?force=1`` to settle, then ``check_all`` over the
databases and the history this test recorded from the real responses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from harness.stack.toxiproxy import Toxiproxy
from invariants import CheckContext, InvariantResult, check_all
from invariants.catalog import CATCHES
from target_service import introspection
from target_service.introspection import Seat
from tests.conftest import StackHandle
from tests.invariants.conftest import Dbs
from tests.invariants.shop import History, Order
from tests.service.client import Api, Resp

#: every test here starts with :func:`start` (its own service settings)
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.own_services]

#: quick recovery in the restarted processes (the sweeper is also forced by /admin/recover)
FAST = {"SAGA_STALE_S": "1", "IDEMPOTENCY_LOCK_TIMEOUT_S": "1", "TWOPC_GRACE_S": "1",
        "SWEEP_INTERVAL_S": "0.3", "PROVIDER_TIMEOUT_S": "2"}


class Driver:
    """The client side of a scenario: one customer, its history, admin calls."""

    def __init__(self, stack: StackHandle, http: httpx.AsyncClient, admin: httpx.AsyncClient,
                 api: Api) -> None:
        self.stack = stack
        self.http = http
        self.admin = admin
        self.api = api
        self.history = History()
        self.customer = ""

    async def sign_up(self) -> None:
        r = await self.http.post("/api/customers")
        assert r.status_code == 201, r.text
        self.customer = r.json()["customer_id"]
        self.api = Api(self.http, r.json()["token"])

    def record(self, op: str, order_id: str | None, resp: Resp | None, *, key: str,
               seats: list[str], strategy: str,
               attempts: list[tuple[int | None, bool, Any]] | None = None) -> None:
        status = resp.status if resp else None
        outcome = ("ok" if status and status < 300 else
                   "fail" if status and 400 <= status < 500 and resp and
                   resp.code != "IDEMPOTENCY_KEY_IN_USE" else "info")
        order = Order(_uuid(order_id), _uuid(self.customer), key, strategy, "", seats, 0) if (
            order_id) else None
        self.history.op(op, order, outcome, status, resp.body if resp else None,
                        customer=_uuid(self.customer), key=key, strategy=strategy, seats=seats,
                        attempts=attempts or ([(status, resp.replayed, resp.body)] if resp
                                              else [(None, False, None)]))

    async def create(self, seats: list[str], strategy: str, key: str) -> Resp:
        r = await self.api.order(seats, strategy, key=key)
        self.record("create", None, r, key=key, seats=seats, strategy=strategy)
        return r

    async def step(self, op: str, order_id: str, seats: list[str], strategy: str,
                   token: str = "tok_ok", key: str | None = None) -> Resp | None:
        key = key or f"{op}-{order_id}"
        call = (self.api.confirm(order_id, token, key=key) if op == "confirm"
                else self.api.finalize(order_id, key=key))
        try:
            r: Resp | None = await call
        except httpx.TransportError:
            r = None  # the process died under the request: unknown outcome
        self.record(op, order_id, r, key=key, seats=seats, strategy=strategy)
        return r

    async def arm(self, failpoint: str, count: int = 1) -> None:
        r = await self.admin.post("/admin/failpoints", json={"arm": {failpoint: count}})
        assert r.status_code == 200 and failpoint in r.json()["armed"], r.text

    async def recover(self) -> None:
        """Wait for the (restarted) process, then run every sweeper once, forced."""
        deadline = time.monotonic() + 30
        while True:
            try:
                r = await self.admin.post("/admin/recover?force=1")
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not come back"
            await asyncio.sleep(0.2)

    async def check(self) -> dict[str, InvariantResult]:
        ctx = CheckContext(self.stack.seats_dsn, self.stack.payments_dsn,
                           history=self.history.events, grace_s=0.0, max_examples=20)
        return {r.name: r for r in await check_all(ctx)}


def _uuid(text: str | None) -> Any:
    import uuid

    return uuid.UUID(text) if text else None


@pytest_asyncio.fixture(loop_scope="session")
async def driver(stack: StackHandle, dbs: Dbs) -> AsyncIterator[Driver]:
    async with httpx.AsyncClient(base_url=stack.target_url, timeout=30) as http, \
            httpx.AsyncClient(base_url=stack.state.url("target"), timeout=30,
                              headers={"X-Admin-Token": stack.admin_token}) as admin:
        yield Driver(stack, http, admin, Api(http))


async def start(driver: Driver, bug: str | None, **env: str) -> None:
    await driver.stack.restart_services(bug=bug, target_processes=1,
                                        extra_env={**FAST, **env})
    await driver.sign_up()


def assert_outcome(results: dict[str, InvariantResult], bug: str | None, guilty: set[str]
                   ) -> None:
    """With the bug, a catching invariant fails naming a guilty order; without, all hold."""
    if bug is None:
        broken = {n: (r.error, r.examples) for n, r in results.items() if not r.ok}
        assert broken == {}
        return
    caught = [results[n] for n in CATCHES[bug].invariants if not results[n].ok]
    assert caught, f"{bug} not caught: {[(r.name, r.ok) for r in results.values()]}"
    mentioned = {str(v) for r in caught for ex in r.examples for v in _values(ex)}
    assert guilty & mentioned, (guilty, [r.examples for r in caught])
    assert all(r.error is None for r in results.values())


def _values(example: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for v in example.values():
        out.extend(v if isinstance(v, list) else [v])
    return out


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 30.0
                     ) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within}s: {what}"
        await asyncio.sleep(0.05)


# --- idempotency-ignored -----------------------------------------------------------------------
@pytest.mark.parametrize("bug", ["idempotency-ignored", None])
async def test_idempotency_ignored_is_caught(driver: Driver, bug: str | None) -> None:
    await start(driver, bug)
    seats = ["A-05"]
    key = "create-retried"
    first = await driver.api.order(seats, "saga", key=key)
    again = await driver.api.order(seats, "saga", key=key)  # the client never heard `first`
    assert first.status == again.status == 201
    attempts = [(first.status, first.replayed, first.body), (again.status, again.replayed,
                                                             again.body)]
    driver.record("create", None, again, key=key, seats=seats, strategy="saga",
                  attempts=attempts)
    await driver.recover()
    results = await driver.check()
    assert_outcome(results, bug, {first.body["order_id"], again.body["order_id"]})
    if bug:
        r = results["idempotent_effects"]
        assert r.violations >= 1
        assert any(ex.get("orders") == [first.body["order_id"], again.body["order_id"]]
                   for ex in r.examples), r.examples


# --- saga-no-compensation ----------------------------------------------------------------------
@pytest.mark.parametrize("bug", ["saga-no-compensation", None])
async def test_saga_without_compensation_keeps_a_declined_orders_seats(
        driver: Driver, bug: str | None) -> None:
    await start(driver, bug)
    seats = ["C-03", "C-04"]
    created = await driver.create(seats, "saga", "create-declined")
    order_id = created.body["order_id"]
    r = await driver.step("confirm", order_id, seats, "saga", token="tok_decline")
    assert r is not None and r.status == 402
    await driver.recover()
    results = await driver.check()
    assert_outcome(results, bug, {order_id})
    if bug:
        held = [ex for ex in results["seat_conservation"].examples
                if ex["kind"] == "seat still HELD by a FAILED order"]
        assert sorted(ex["seat_id"] for ex in held) == seats


@pytest.mark.parametrize("bug", ["saga-no-compensation", None])
async def test_saga_without_compensation_leaves_a_lost_authorization_open(
        driver: Driver, bug: str | None) -> None:
    await start(driver, bug)
    seats = ["D-07"]
    created = await driver.create(seats, "saga", "create-blackholed")
    order_id = created.body["order_id"]
    async with Toxiproxy(driver.stack.toxiproxy_url, timeout=5) as toxiproxy:
        # payments-blackhole: the provider authorizes, its answer never comes back
        await toxiproxy.add_toxic("payments_api", "timeout", name="answers-lost",
                                  stream="downstream", attributes={"timeout": 0})
        r = await driver.step("confirm", order_id, seats, "saga")
        assert r is not None and r.status == 503
        await toxiproxy.remove_toxic("payments_api", "answers-lost")
    await driver.recover()
    results = await driver.check()
    assert_outcome(results, bug, {order_id})
    if bug:
        r = results["no_orphaned_authorizations"]
        assert [ex["order_id"] for ex in r.examples] == [order_id]
        assert r.examples[0]["kind"] == "authorization left open on a FAILED order"


# --- capture-not-durable -----------------------------------------------------------------------
@pytest.mark.parametrize("bug", ["capture-not-durable", None])
async def test_capture_not_durable_leaves_money_taken_without_tickets(
        driver: Driver, bug: str | None) -> None:
    await start(driver, bug)
    seats = ["E-11"]
    created = await driver.create(seats, "saga", "create-finalize-crash")
    order_id = created.body["order_id"]
    confirmed = await driver.step("confirm", order_id, seats, "saga")
    assert confirmed is not None and confirmed.status == 202
    await driver.arm("finalize-after-capture")
    assert await driver.step("finalize", order_id, seats, "saga") is None  # the process died
    await driver.recover()
    results = await driver.check()
    assert_outcome(results, bug, {order_id})
    if bug:
        [ex] = results["no_capture_without_ticket"].examples
        assert (ex["order_id"], ex["kind"]) == (order_id, "capture on an order that is not SOLD")


# --- 2pc-no-recovery ---------------------------------------------------------------------------
@pytest.mark.parametrize("bug", ["2pc-no-recovery", None])
async def test_2pc_without_recovery_leaves_prepared_transactions(
        driver: Driver, bug: str | None) -> None:
    await start(driver, bug)
    seats = ["F-02"]
    created = await driver.create(seats, "2pc", "create-coordinator-crash")
    order_id = created.body["order_id"]
    await driver.arm("2pc-after-prepare")
    assert await driver.step("confirm", order_id, seats, "2pc") is None  # coordinator died
    await driver.recover()
    results = await driver.check()
    assert_outcome(results, bug, {order_id})
    if bug:
        r = results["no_in_doubt_transactions"]
        assert r.violations == 2
        assert {ex["kind"] for ex in r.examples} == {"prepared transaction left in seats",
                                                    "prepared transaction left in payments"}
        assert all(ex["gid"].startswith(f"bk2pc:{order_id}:CONFIRM:") and
                   ex["order_id"] == order_id for ex in r.examples)


# --- lock-no-fencing ---------------------------------------------------------------------------
@pytest.mark.parametrize("bug", ["lock-no-fencing", None])
async def test_lock_without_fencing_sells_a_seat_twice(driver: Driver, bug: str | None) -> None:
    # the stall (3 leases) must not look abandoned to the saga sweeper meanwhile
    await start(driver, bug, SAGA_STALE_S="30")
    seat = "G-09"
    first = (await driver.create([seat], "lock", "create-stalled")).body["order_id"]
    second = (await driver.create([seat], "lock", "create-rival")).body["order_id"]
    await driver.arm("lock-stall-before-write")  # once: the first confirm stalls, unrenewed
    stalled = asyncio.create_task(driver.step("confirm", first, [seat], "lock"))
    held = _locked(driver, seat)  # asked through the service's introspection door
    await eventually(lambda: held(True), "the first buyer locks")
    # it authorizes, then stalls three leases long: its lease runs out under it
    await eventually(lambda: held(False), "the stalled lease expires")
    rival = await driver.step("confirm", second, [seat], "lock")
    assert rival is not None and rival.status == 202
    woke = await stalled
    assert woke is not None and woke.status == (202 if bug else 409)
    await driver.recover()
    results = await driver.check()
    assert_outcome(results, bug, {first, second})
    if bug:
        [ex] = results["no_double_sold_seats"].examples
        assert (ex["seat_id"], ex["orders"]) == (seat, sorted([first, second]))


def _locked(driver: Driver, seat: str) -> Callable[[bool], Awaitable[bool]]:
    """``await held(wanted)``: whether the seat's lock is held (``wanted``) or not, now."""
    stores, where = driver.stack.state.stores(), Seat("evt_default", seat)

    async def held(wanted: bool) -> bool:
        owners = await introspection.lock_owners(stores, [where])
        return (owners[where] is not None) == wanted

    return held


# --- lock-unsafe-release -----------------------------------------------------------------------
@pytest.mark.parametrize("bug", ["lock-unsafe-release", None])
async def test_lock_unsafe_release_lets_a_third_buyer_overwrite(driver: Driver, bug: str | None
                                                                ) -> None:
    """A stalls and is fenced out by B; A's release then deletes B's lease record (the bug), so C
    is not seen as taking over an expired lease: it claims nothing, checks the seat while B is
    stalled, and writes over B's hold after B wrote. Every confirm stalls 3 leases once."""
    await start(driver, bug, SAGA_STALE_S="60")
    seat = "H-14"
    a, b, c = [(await driver.create([seat], "lock", f"create-{n}")).body["order_id"]
               for n in ("a", "b", "c")]
    await driver.arm("lock-stall-before-write", count=3)
    held = _locked(driver, seat)
    stalled_a = asyncio.create_task(driver.step("confirm", a, [seat], "lock"))
    await eventually(lambda: held(True), "A locks")
    await eventually(lambda: held(False), "A's lease expires")
    stalled_b = asyncio.create_task(driver.step("confirm", b, [seat], "lock"))
    await eventually(lambda: held(True), "B takes the lock over")
    woke_a = await stalled_a  # fenced out by B's claim; then it releases
    assert woke_a is not None and woke_a.status == 409
    third = await driver.step("confirm", c, [seat], "lock")  # C stalls 3 leases as well
    woke_b = await stalled_b
    assert third is not None and woke_b is not None
    assert (woke_b.status, third.status) == ((202, 202) if bug else (409, 202))
    await driver.recover()
    results = await driver.check()
    assert_outcome(results, bug, {b, c})
    if bug:
        [ex] = results["no_double_sold_seats"].examples
        assert (ex["seat_id"], ex["orders"]) == (seat, sorted([b, c]))
