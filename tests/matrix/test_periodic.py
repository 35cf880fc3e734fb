"""Mid-run checks: what may be checked during the load, and how a violation is confirmed."""

from __future__ import annotations

from harness.soak.periodic import Tracker, example_key, midrun_safe
from invariants import INVARIANT_NAMES
from target_service.strategies import STRATEGIES


def test_settle_dependent_invariants_are_never_checked_mid_run() -> None:
    for strategy in STRATEGIES:
        safe = midrun_safe(strategy)
        assert set(safe) <= set(INVARIANT_NAMES)
        for name in ("no_orphaned_authorizations", "no_capture_without_ticket",
                     "seat_conservation", "no_in_doubt_transactions"):
            assert name not in safe
    assert "no_ticket_without_capture" not in midrun_safe("2pc")
    assert "no_ticket_without_capture" in midrun_safe("saga")


def test_a_transient_sighting_is_not_confirmed() -> None:
    tracker = Tracker({"no_ticket_without_capture": 3.0})
    ex = {"order_id": "o1", "kind": "ticket without capture"}
    assert tracker.see(10.0, "no_ticket_without_capture", [ex]) == []
    assert tracker.next_recheck() == 13.0
    assert tracker.see(13.0, "no_ticket_without_capture", []) == []
    assert tracker.see(20.0, "no_ticket_without_capture", [ex]) == []  # a new suspicion
    assert tracker.confirmed == []


def test_a_persistent_violation_is_confirmed_once_with_its_first_sighting() -> None:
    tracker = Tracker({"no_double_sold_seats": 3.0})
    ex = {"seat_id": "A-1", "kind": "sold twice", "seen_at": 1}
    tracker.see(10.0, "no_double_sold_seats", [ex])
    confirmed = tracker.see(13.5, "no_double_sold_seats", [{**ex, "seen_at": 2}])
    assert [(c.first_seen, c.confirmed_at) for c in confirmed] == [(10.0, 13.5)]
    assert tracker.see(20.0, "no_double_sold_seats", [ex]) == []  # not twice
    assert tracker.next_recheck() is None


def test_example_keys_use_row_ids() -> None:
    a = example_key("x", {"order_id": "o1", "kind": "k", "amount": 1})
    b = example_key("x", {"order_id": "o1", "kind": "k", "amount": 2})
    c = example_key("x", {"order_id": "o2", "kind": "k", "amount": 1})
    assert a == b != c
