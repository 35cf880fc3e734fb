"""Each checker against crafted database states: a healthy state holds, each broken one is caught.

States are built with :class:`tests.invariants.shop.Shop` (rows as the service writes them),
then broken with the SQL a buggy strategy would have run. Assertions name the exact orders,
seats, payments and counts.
"""

from __future__ import annotations

import uuid

import pytest

from invariants import (
    CHECKERS,
    INVARIANT_NAMES,
    CheckContext,
    InvariantResult,
    payments_slices,
    shared,
)
from invariants.session import Session
from invariants.suite import run_one
from target_service.strategies import STRATEGIES
from tests.invariants.shop import History, Order, Shop

pytestmark = pytest.mark.asyncio(loop_scope="session")


def failing(results: dict[str, object]) -> set[str]:
    return {name for name, r in results.items() if not r.ok}  # type: ignore[attr-defined]


async def healthy(shop: Shop) -> dict[str, Order]:
    """One order in every status, two strategies' worth of 2PC bookkeeping, all consistent."""
    built = {
        "sold": await shop.order("SOLD", ["A-01", "A-02"], strategy="lock"),
        "authorized": await shop.order("AUTHORIZED", ["B-01"], strategy="saga"),
        "pending": await shop.order("PENDING", ["C-01"], strategy="2pc"),
        "failed": await shop.order("FAILED", ["A-01"], strategy="saga"),
        "expired": await shop.order("EXPIRED", ["D-01"], strategy="lock"),
        "cancelled": await shop.order("CANCELLED", ["D-02"], strategy="saga"),
        "sold_2pc": await shop.order("SOLD", ["E-01"], strategy="2pc"),
    }
    o = built["sold_2pc"]
    await shop.twopc(o, "CONFIRM", "COMMIT", seats_applied=True, payments_applied=True)
    await shop.twopc(o, "FINALIZE", "COMMIT", seats_applied=True, payments_applied=True)
    await shop.twopc(o, "CONFIRM", "ABORT", seats_applied=False, payments_applied=False)
    return built


async def test_a_healthy_state_holds_every_invariant(shop: Shop) -> None:
    built = await healthy(shop)
    h = History()
    h.op("create", None, "ok", 201, shop.created_body(built["sold"]),
         customer=built["sold"].customer_id, key=built["sold"].key)
    h.op("confirm", built["sold"], "ok", 202, {"order_id": built["sold"].id})
    h.op("finalize", built["sold"], "ok", 200,
         {"order_id": built["sold"].id, "status": "SOLD",
          "tickets": [{"ticket_id": str(t)} for t in built["sold"].ticket_ids]})
    h.op("confirm", built["failed"], "fail", 409, {"code": "SEAT_UNAVAILABLE"})
    results = await shop.check(history=h.events)
    assert list(results) == list(INVARIANT_NAMES)
    assert failing(results) == set(), {n: r.examples for n, r in results.items() if not r.ok}
    assert all(r.error is None and r.violations == 0 and r.examples == []
               for r in results.values())


# --- no_double_sold_seats --------------------------------------------------------------------
async def test_a_seat_sold_twice_is_one_violation_naming_both_orders(shop: Shop) -> None:
    built = await healthy(shop)
    first = built["sold"]
    # a lock holder whose lease expired writes anyway: a second sale of A-02 overwrites the row
    second = await shop.order("SOLD", ["A-02"], strategy="lock")
    results = await shop.check()
    r = results["no_double_sold_seats"]
    assert (r.ok, r.violations) == (False, 1)
    [ex] = r.examples
    assert (ex["event_id"], ex["seat_id"]) == ("evt_default", "A-02")
    assert ex["orders"] == sorted([first.id, second.id])
    assert ex["kind"] == ("seat in several live orders + seat with several tickets"
                          " + ticket whose seat is not sold to its order")
    assert ex["seat_holder"] == second.id and ex["seat_state"] == "SOLD"
    assert failing(results) == {"no_double_sold_seats"}


async def test_two_live_holds_on_one_seat_are_caught_but_an_expired_one_is_not(
        shop: Shop) -> None:
    await healthy(shop)
    stale = await shop.order("AUTHORIZED", ["F-05"], strategy="saga", hold_s=-600)
    fresh = await shop.order("AUTHORIZED", ["F-05"], strategy="lock")
    r = (await shop.check())["no_double_sold_seats"]
    assert r.ok, r.examples  # the stale hold is not live: the seat was free to take
    both = await shop.order("AUTHORIZED", ["F-05"], strategy="2pc")
    r = (await shop.check())["no_double_sold_seats"]
    assert r.violations == 1
    assert r.examples[0]["orders"] == sorted([fresh.id, both.id])
    assert r.examples[0]["kind"] == "seat in several live orders"
    assert stale.id not in r.examples[0]["orders"]


async def test_double_sale_is_reported_for_each_strategy_involved(shop: Shop) -> None:
    await healthy(shop)
    await shop.order("SOLD", ["G-01"], strategy="lock")
    await shop.order("SOLD", ["G-01"], strategy="saga")
    by_strategy = {s: (await shop.check(strategy=s))["no_double_sold_seats"].violations
                   for s in STRATEGIES}
    assert by_strategy == {"lock": 1, "saga": 1, "2pc": 0}


# --- no_orphaned_authorizations ----------------------------------------------------------------
async def test_authorization_left_open_on_a_failed_order(shop: Shop) -> None:
    built = await healthy(shop)
    failed = built["failed"]
    payment = await shop.payment(failed, "AUTHORIZED")
    results = await shop.check()
    r = results["no_orphaned_authorizations"]
    assert (r.ok, r.violations) == (False, 1)
    [ex] = r.examples
    assert ex["payment_id"] == payment and ex["order_id"] == failed.id
    assert ex["amount_cents"] == failed.amount_cents == 15000
    assert ex["kind"] == "authorization left open on a FAILED order"
    # when it happened and how far recovery got, for the person looking it up
    assert ex["authorized_at"] is not None and "closed_at" in ex
    assert {"saga_phase", "saga_state", "saga_step"} <= ex.keys()
    assert failing(results) == {"no_orphaned_authorizations"}


async def test_authorization_of_an_expired_hold_counts_only_after_the_grace(shop: Shop) -> None:
    await healthy(shop)
    lapsed = await shop.order("AUTHORIZED", ["H-01", "H-02"], strategy="lock", hold_s=-60)
    r = (await shop.check(grace_s=120))["no_orphaned_authorizations"]
    assert r.ok
    r = (await shop.check(grace_s=5))["no_orphaned_authorizations"]
    assert r.violations == 1
    assert r.examples[0]["order_id"] == lapsed.id
    assert r.examples[0]["kind"] == "authorization of an expired hold"
    # a finalize that started before expiry is rolled forward: its authorization is fine
    await shop.seats.execute(
        "UPDATE orders SET finalize_started_at = now() WHERE order_id = $1", lapsed.order_id)
    assert (await shop.check(grace_s=5))["no_orphaned_authorizations"].ok


async def test_authorization_without_an_order_and_a_second_authorization(shop: Shop) -> None:
    built = await healthy(shop)
    ghost = Order(uuid.uuid4(), uuid.uuid4(), "k", "saga", "AUTHORIZED", [], 4500)
    ghost_payment = await shop.payment(ghost, "AUTHORIZED")
    extra = await shop.payment(built["authorized"], "AUTHORIZED")
    r = (await shop.check())["no_orphaned_authorizations"]
    assert r.violations == 2
    kinds = {ex["payment_id"]: ex["kind"] for ex in r.examples}
    assert kinds == {ghost_payment: "authorization without an order",
                     extra: "authorization that is not its order's payment"}


# --- no_capture_without_ticket -----------------------------------------------------------------
async def test_capture_on_an_order_that_never_became_sold(shop: Shop) -> None:
    built = await healthy(shop)
    order = built["authorized"]
    # capture-not-durable: captured at the provider, then died before marking the order SOLD
    await shop.payments.execute(
        "UPDATE payments SET status = 'CAPTURED', captured_at = now() WHERE payment_id = $1",
        order.payment_id)
    results = await shop.check()
    r = results["no_capture_without_ticket"]
    assert (r.ok, r.violations) == (False, 1)
    [ex] = r.examples
    assert (ex["payment_id"], ex["order_id"], ex["order_status"]) == (
        order.payment_id, order.id, "AUTHORIZED")
    assert (ex["captured_cents"], ex["tickets"]) == (15000, 0)
    assert ex["kind"] == "capture on an order that is not SOLD"
    assert failing(results) == {"no_capture_without_ticket"}


async def test_capture_for_the_wrong_amount_or_missing_tickets(shop: Shop) -> None:
    built = await healthy(shop)
    await shop.payments.execute(
        "UPDATE payments SET amount_cents = amount_cents + 1 WHERE payment_id = $1",
        built["sold_2pc"].payment_id)
    await shop.seats.execute(
        "DELETE FROM tickets WHERE order_id = $1 AND seat_id = 'A-02'", built["sold"].order_id)
    r = (await shop.check())["no_capture_without_ticket"]
    assert r.violations == 2
    kinds = {ex["order_id"]: ex["kind"] for ex in r.examples}
    assert kinds == {
        built["sold_2pc"].id: "captured amount differs from the order amount",
        built["sold"].id: "tickets do not match the ordered seats",
    }


# --- no_ticket_without_capture -----------------------------------------------------------------
async def test_tickets_without_a_capture_and_with_two(shop: Shop) -> None:
    built = await healthy(shop)
    free = built["sold"]
    await shop.payments.execute(
        "UPDATE payments SET status = 'VOIDED' WHERE payment_id = $1", free.payment_id)
    twice = built["sold_2pc"]
    second = await shop.payment(twice, "CAPTURED")
    r = (await shop.check())["no_ticket_without_capture"]
    assert (r.ok, r.violations) == (False, 2)
    by_order = {ex["order_id"]: ex for ex in r.examples}
    assert by_order[free.id]["kind"] == "tickets without a captured payment"
    assert by_order[free.id]["ticket_cents"] == 30000
    assert by_order[twice.id]["kind"] == "tickets paid by several captures"
    assert by_order[twice.id]["payment_ids"] == sorted([twice.payment_id, second])
    assert (await shop.check(strategy="saga"))["no_ticket_without_capture"].ok
    assert (await shop.check(strategy="lock"))["no_ticket_without_capture"].violations == 1


async def test_a_sale_between_the_checkers_two_reads_is_no_free_ticket(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """During the load an order may be captured and ticketed between the checker's read of
    the payments database and its read of the seats database; no_ticket_without_capture (which
    holds at any moment) must not call its ticket free: tickets are read first."""
    await healthy(shop)
    mirror = payments_slices.captured
    sold: list[Order] = []

    async def captured_then_a_sale(db: Session) -> str:
        table = await mirror(db)
        sold.append(await shop.order("SOLD", ["F-01"], strategy="saga"))  # capture, tickets
        return table

    monkeypatch.setattr(payments_slices, "captured", captured_then_a_sale)
    r = (await shop.check())["no_ticket_without_capture"]
    assert sold and (r.ok, r.violations) == (True, 0), r.examples
    monkeypatch.undo()
    assert (await shop.check())["no_ticket_without_capture"].ok  # and the sale is whole


# --- idempotent_effects ------------------------------------------------------------------------
async def test_two_orders_under_one_key(shop: Shop) -> None:
    built = await healthy(shop)
    first = built["pending"]
    # idempotency-ignored: the retry of the same POST /api/orders created a second order
    again = await shop.order("PENDING", ["C-01"], strategy="2pc",
                             customer_id=first.customer_id, key=first.key + "-dup")
    await shop.seats.execute("UPDATE orders SET idempotency_key = $1 WHERE order_id = $2",
                             first.key, again.order_id)
    results = await shop.check()
    r = results["idempotent_effects"]
    assert (r.ok, r.violations) == (False, 1)
    [ex] = r.examples
    assert ex["customer_id"] == str(first.customer_id) and ex["idempotency_key"] == first.key
    assert ex["orders"] == [first.id, again.id] and ex["orders_created"] == 2
    assert failing(results) == {"idempotent_effects"}


async def test_two_live_payments_for_one_order(shop: Shop) -> None:
    built = await healthy(shop)
    order = built["authorized"]
    extra = await shop.payment(order, "AUTHORIZED")
    r = (await shop.check())["idempotent_effects"]
    assert r.violations == 1
    assert r.examples[0]["order_id"] == order.id
    assert set(r.examples[0]["payments"]) == {order.payment_id, extra}
    assert r.examples[0]["statuses"] == ["AUTHORIZED", "AUTHORIZED"]


async def test_replays_must_equal_the_stored_first_response(shop: Shop) -> None:
    built = await healthy(shop)
    order = built["pending"]
    stored = shop.created_body(order)
    h = History()
    h.op("create", None, "ok", 201, stored, customer=order.customer_id, key=order.key,
         attempts=[(None, False, None), (201, True, stored)])
    assert (await shop.check(history=h.events))["idempotent_effects"].ok
    other = {**stored, "order_id": str(uuid.uuid4())}
    h.op("create", None, "ok", 201, other, customer=order.customer_id, key=order.key,
         attempts=[(201, True, other)])
    r = (await shop.check(history=h.events))["idempotent_effects"]
    assert r.violations == 1
    [ex] = r.examples
    assert (ex["customer"], ex["key"]) == (str(order.customer_id), order.key)
    assert ex["kind"] == "replay differs from the stored response"
    assert ex["seen"][0] == 201 and ex["first"][0] == 201 and ex["seen"][1] != ex["first"][1]


async def test_a_key_executed_twice_is_caught_from_the_history_alone(shop: Shop) -> None:
    await healthy(shop)
    customer, key = uuid.uuid4(), "confirm-abc"
    a = {"order_id": str(uuid.uuid4()), "status": "AUTHORIZED"}
    b = {"order_id": a["order_id"], "status": "AUTHORIZED", "payment": "other"}
    h = History()
    h.op("confirm", None, "ok", 202, b, customer=customer, key=key,
         attempts=[(202, False, a), (202, False, b)])
    h.op("confirm", None, "ok", 202, a, customer=uuid.uuid4(), key="fine",
         attempts=[(503, False, {"code": "DEPENDENCY_UNAVAILABLE"}), (202, False, a),
                   (202, True, a)])
    r = (await shop.check(history=h.events))["idempotent_effects"]
    assert r.violations == 1
    assert r.examples[0]["key"] == key
    assert r.examples[0]["kind"] == "request executed more than once under one key"


# --- seat_conservation -------------------------------------------------------------------------
async def test_seat_held_by_a_failed_order_and_a_stale_hold(shop: Shop) -> None:
    built = await healthy(shop)
    failed = built["failed"]
    # saga-no-compensation: the payment step failed, the seats were never released
    await shop.seats.execute(
        "UPDATE seats SET state = 'HELD', holder_order_id = $1, holder_strategy = 'saga',"
        " hold_expires_at = now() + interval '2 minutes' WHERE event_id = 'evt_default'"
        " AND seat_id = 'J-20'", failed.order_id)
    await shop.seats.execute(
        "INSERT INTO order_seats (order_id, event_id, seat_id, price_cents)"
        " VALUES ($1, 'evt_default', 'J-20', 8000)", failed.order_id)
    stale = await shop.order("AUTHORIZED", ["K-03"], strategy="lock", hold_s=-30)
    results = await shop.check()
    r = results["seat_conservation"]
    assert (r.ok, r.violations) == (False, 2)
    by_seat = {ex["seat_id"]: ex for ex in r.examples}
    assert by_seat["J-20"]["kind"] == "seat still HELD by a FAILED order"
    assert by_seat["J-20"]["holder_order_id"] == failed.id
    assert by_seat["K-03"]["kind"] == "hold outlived its expiry"
    assert by_seat["K-03"]["holder_order_id"] == stale.id
    assert (await shop.check(grace_s=60))["seat_conservation"].violations == 1


async def test_capacity_mismatch_and_lost_hold(shop: Shop) -> None:
    built = await healthy(shop)
    await shop.seats.execute("DELETE FROM seats WHERE event_id = 'evt_small' AND seat_id = 'A-20'")
    held = built["authorized"]
    await shop.seats.execute(
        "UPDATE seats SET state = 'AVAILABLE', holder_order_id = NULL, hold_expires_at = NULL"
        " WHERE event_id = 'evt_default' AND seat_id = 'B-01'")
    r = (await shop.check())["seat_conservation"]
    assert r.violations == 2
    kinds = {ex["kind"]: ex for ex in r.examples}
    cap = kinds["available + held + sold <> capacity"]
    assert (cap["event_id"], cap["capacity"], cap["available"]) == ("evt_small", 20, 19)
    lost = kinds["seat of a live AUTHORIZED order is not held by it"]
    assert (lost["order_id"], lost["seat_id"], lost["seat_state"]) == (held.id, "B-01",
                                                                        "AVAILABLE")


async def test_seat_sold_to_an_order_that_did_not_ask_for_it(shop: Shop) -> None:
    built = await healthy(shop)
    await shop.seats.execute(
        "UPDATE seats SET state = 'SOLD', holder_order_id = $1, hold_expires_at = NULL"
        " WHERE event_id = 'evt_default' AND seat_id = 'O-09'", built["sold"].order_id)
    r = (await shop.check())["seat_conservation"]
    assert r.violations == 1
    assert r.examples[0]["seat_id"] == "O-09"
    assert r.examples[0]["kind"] == "seat SOLD by an order that did not ask for it"


# --- no_in_doubt_transactions ------------------------------------------------------------------
async def test_prepared_transactions_left_in_either_database(shop: Shop) -> None:
    built = await healthy(shop)
    order = built["pending"]
    gid_seats = await shop.prepare(shop.seats_dsn, order)
    gid_payments = await shop.prepare(shop.payments_dsn, order)
    results = await shop.check()
    r = results["no_in_doubt_transactions"]
    assert (r.ok, r.violations) == (False, 2)
    found = {(ex["gid"], ex["kind"]) for ex in r.examples}
    assert found == {(gid_seats, "prepared transaction left in seats"),
                     (gid_payments, "prepared transaction left in payments")}
    assert (await shop.check(strategy="lock"))["no_in_doubt_transactions"].ok
    assert failing(results) == {"no_in_doubt_transactions"}


async def test_decision_log_disagreeing_with_the_participants(shop: Shop) -> None:
    built = await healthy(shop)
    order = built["sold_2pc"]
    half = await shop.twopc(order, "FINALIZE", "COMMIT", seats_applied=True,
                            payments_applied=False)
    aborted = await shop.twopc(order, "EXPIRE", "ABORT", seats_applied=False,
                               payments_applied=True)
    undecided = await shop.twopc(order, "CANCEL", None, seats_applied=True,
                                 payments_applied=True)
    r = (await shop.check())["no_in_doubt_transactions"]
    assert r.violations == 3
    kinds = {ex["gid"]: ex["kind"] for ex in r.examples}
    assert kinds == {
        half: "COMMIT decided but not applied in both databases",
        aborted: "applied although the decision is ABORT",
        undecided: "applied without any decision",
    }
    assert all(ex["order_id"] == order.id for ex in r.examples)


# --- acknowledged_writes_durable ---------------------------------------------------------------
async def test_acknowledged_successes_must_be_in_the_database(shop: Shop) -> None:
    built = await healthy(shop)
    h = History()
    ghost = {"order_id": str(uuid.uuid4()), "status": "PENDING", "seats": ["N-01"],
             "amount_cents": 4500, "strategy": "saga", "event_id": "evt_default"}
    h.op("create", None, "ok", 201, ghost, seats=["N-01"])
    h.op("confirm", built["pending"], "ok", 202, {"order_id": built["pending"].id})
    sold = built["sold"]
    h.op("finalize", sold, "ok", 200,
         {"order_id": sold.id, "tickets": [{"ticket_id": str(uuid.uuid4())}]})
    h.op("finalize", built["sold_2pc"], "ok", 200,
         {"order_id": built["sold_2pc"].id,
          "tickets": [{"ticket_id": str(t)} for t in built["sold_2pc"].ticket_ids]})
    r = (await shop.check(history=h.events))["acknowledged_writes_durable"]
    assert (r.ok, r.violations) == (False, 3)
    kinds = {ex["kind"]: ex for ex in r.examples}
    assert kinds["acknowledged create of an order that does not exist"]["order_id"] == (
        ghost["order_id"])
    confirm = kinds["acknowledged confirm is not reflected (order never authorized)"]
    assert (confirm["order_id"], confirm["db_status"]) == (built["pending"].id, "PENDING")
    tickets = kinds["sold order's tickets differ from the acknowledged ones"]
    assert tickets["db_tickets"] == sorted(str(t) for t in sold.ticket_ids)


async def test_definite_failures_must_leave_no_effect(shop: Shop) -> None:
    built = await healthy(shop)
    h = History()
    # a create the client saw fail with 409, but whose order exists under that key
    sneaky = built["pending"]
    h.op("create", None, "fail", 409, {"code": "SEAT_UNAVAILABLE"},
         customer=sneaky.customer_id, key=sneaky.key)
    # a confirm the client saw declined, yet the order holds its seat with an open authorization
    h.op("confirm", built["authorized"], "fail", 402, {"code": "PAYMENT_FAILED"})
    # a finalize refused, yet the order is SOLD; but another finalize timed out (info): excused
    h.op("finalize", built["sold"], "fail", 409, {"code": "ORDER_STATE_CONFLICT"})
    h.op("finalize", built["sold"], "info", None, None)
    # refused while the first request with this key was in flight: unknown, not a failure
    h.op("confirm", built["sold_2pc"], "fail", 409, {"code": "IDEMPOTENCY_KEY_IN_USE"})
    # refused because the sweeper was rolling its earlier, timed-out attempt forward: unknown
    h.op("finalize", built["sold_2pc"], "fail", 409, {"code": "ORDER_BUSY"},
         attempts=[(None, False, None), (409, False, {"code": "ORDER_BUSY"})])
    r = (await shop.check(history=h.events))["acknowledged_writes_durable"]
    assert r.violations == 2, r.examples
    kinds = {ex["kind"]: ex for ex in r.examples}
    assert kinds["failed create left an order"]["db_orders"] == [sneaky.id]
    confirm = kinds["failed confirm left an effect"]
    assert confirm["order_id"] == built["authorized"].id
    assert confirm["holding"] == ["B-01"] and confirm["payments"] == ["AUTHORIZED"]


async def test_without_history_durability_is_not_claimed_checked(shop: Shop) -> None:
    await healthy(shop)
    r = (await shop.check(history=None))["acknowledged_writes_durable"]
    assert r.ok and r.note == "no client history given: nothing to compare"


# --- shared work (invariants.shared) -----------------------------------------------------------
async def test_shared_work_is_made_once_per_session_and_changes_no_result(shop: Shop) -> None:
    built = await healthy(shop)
    # violations for both money checkers, which share one per-order aggregate
    await shop.payments.execute(
        "UPDATE payments SET status = 'VOIDED' WHERE payment_id = $1", built["sold"].payment_id)
    await shop.payments.execute(
        "UPDATE payments SET status = 'CAPTURED', captured_at = now() WHERE payment_id = $1",
        built["authorized"].payment_id)
    await shop.seats.execute("DELETE FROM tickets WHERE order_id = $1",
                             built["sold_2pc"].order_id)
    h = History()
    h.op("create", None, "ok", 201, shop.created_body(built["sold"]),
         customer=built["sold"].customer_id, key=built["sold"].key)
    h.op("finalize", built["sold_2pc"], "ok", 200,
         {"order_id": built["sold_2pc"].id, "status": "SOLD",
          "tickets": [{"ticket_id": str(t)} for t in built["sold_2pc"].ticket_ids]})
    ctx = CheckContext(shop.seats_dsn, shop.payments_dsn, history=h.events, max_examples=10)

    def verdict(r: InvariantResult) -> tuple[object, ...]:
        return (r.name, r.ok, r.violations, r.examples, r.error, r.note)

    alone = []
    for inv in CHECKERS.values():  # each checker on a session of its own: nothing shared
        async with Session(shop.seats_dsn, shop.payments_dsn) as db:
            alone.append(verdict(await run_one(inv, ctx, db)))
    async with Session(shop.seats_dsn, shop.payments_dsn) as db:
        together = [verdict(await run_one(inv, ctx, db)) for inv in CHECKERS.values()]
        # made once: a second call hands back the same table and parse, not a new one
        table = await shared.order_money(db)
        await db.seats.execute(f"DELETE FROM {table}")
        assert await shared.order_money(db) == table
        assert await db.seats.fetchval(f"SELECT count(*) FROM {table}") == 0
        ops = await shared.history_ops(ctx, db)
        assert await shared.history_ops(ctx, db) is ops
        other = CheckContext(shop.seats_dsn, shop.payments_dsn, history=list(h.events))
        assert await shared.history_ops(other, db) is not ops
        assert await shared.history_ops(other, db) == ops
    assert together == alone
    assert {name for name, ok, *_ in alone if not ok} == {
        "no_capture_without_ticket", "no_ticket_without_capture", "acknowledged_writes_durable"}
    by_name = {v[0]: v for v in alone}
    assert by_name["no_capture_without_ticket"][2] == 2
    assert by_name["no_ticket_without_capture"][2] == 1
