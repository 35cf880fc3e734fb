"""Seat choice and purchase plans: seeded, shaped by the scenario, pure (no Locust, no stack)."""

from __future__ import annotations

import collections

from locustfiles.workload import (
    CARD_DECLINE,
    Planner,
    Seat,
    Workload,
    choose_seats,
    parse_seat_map,
    user_rng,
)


def seat_map(sold: frozenset[str] = frozenset()) -> list[Seat]:
    seats = []
    for section, rows in (("FRONT", "AB"), ("MIDDLE", "CDEF"), ("BACK", "GH")):
        for row in rows:
            for n in range(1, 11):
                seat_id = f"{row}-{n:02d}"
                seats.append(Seat(seat_id, section, row, n, seat_id not in sold))
    return seats


def plans(seed: int, count: int, workload: Workload | None = None) -> list[object]:
    planner = Planner(workload or Workload(seed=seed), user_rng(seed, 0, 3))
    return [planner.next_purchase(seat_map()) for _ in range(count)]


def test_same_seed_gives_the_same_sequence_of_choices() -> None:
    assert plans(7, 200) == plans(7, 200)


def test_another_seed_or_user_gives_another_sequence() -> None:
    assert plans(7, 50) != plans(8, 50)
    first = Planner(Workload(), user_rng(7, 0, 1)).next_purchase(seat_map())
    second = Planner(Workload(), user_rng(7, 0, 2)).next_purchase(seat_map())
    third = Planner(Workload(), user_rng(7, 1, 1)).next_purchase(seat_map())
    assert len({first, second, third}) == 3


def test_streams_of_one_user_are_independent() -> None:
    assert user_rng(1, 0, 0, "plans").random() != user_rng(1, 0, 0, "jitter").random()


def test_orders_have_one_to_four_adjacent_seats_of_one_row() -> None:
    for plan in plans(11, 300):
        seats = plan.seats  # type: ignore[attr-defined]
        assert len(seats) in range(1, 5)
        rows = {s.split("-")[0] for s in seats}
        numbers = sorted(int(s.split("-")[1]) for s in seats)
        assert len(rows) == 1
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_hot_section_gets_about_its_share() -> None:
    workload = Workload(seed=5, hot_share=0.7)
    got = plans(5, 1000, workload)
    hot = sum(1 for p in got if p.seats[0][0] in "AB")  # type: ignore[attr-defined]
    assert 600 < hot < 800


def test_zipf_prefers_the_best_ranked_seats_outside_the_hot_section() -> None:
    workload = Workload(hot_share=0.0, zipf_s=1.2, seats_min=1, seats_max=1)
    counts: collections.Counter[str] = collections.Counter()
    rng = user_rng(3, 0, 0)
    for _ in range(2000):
        seats = choose_seats(seat_map(), workload, count=1, wants_hot=False, pick=rng.random())
        counts[seats[0]] += 1
    ranked = [seat for seat, _ in counts.most_common()]
    assert ranked[0] in ("C-05", "C-06")  # the centre of the first row after the hot section
    assert counts[ranked[0]] > 5 * counts.get("H-01", 0) + 1


def test_hot_buyers_meet_on_the_best_free_hot_seats() -> None:
    """In the hot section too the best free seats draw the most buyers (a flash sale's rivals
    meet on the same seats), and a taken seat passes its demand to the next best."""
    workload = Workload(hot_share=1.0, zipf_s=1.1, seats_min=1, seats_max=1)
    rng = user_rng(4, 0, 0)

    def counts(sold: frozenset[str]) -> collections.Counter[str]:
        out: collections.Counter[str] = collections.Counter()
        for _ in range(2000):
            out[choose_seats(seat_map(sold), workload, count=1, wants_hot=True,
                             pick=rng.random())[0]] += 1
        return out

    free = counts(frozenset())
    assert set(free) <= {f"{r}-{n:02d}" for r in "AB" for n in range(1, 11)}
    assert free.most_common(1)[0][0] in ("A-05", "A-06")  # row A's centre
    assert free["A-05"] + free["A-06"] > 10 * (free["B-01"] + free["B-10"] + 1) / 2
    taken = counts(frozenset({"A-05", "A-06"}))
    assert taken["A-05"] == taken["A-06"] == 0
    assert taken.most_common(1)[0][0] in ("A-04", "A-07")


def test_available_seats_are_preferred_and_sold_out_still_tries() -> None:
    workload = Workload(hot_share=1.0)
    front = frozenset(f"{r}-{n:02d}" for r in "AB" for n in range(1, 11))
    taken = front - {"B-10"}
    seats = choose_seats(seat_map(taken), workload, count=3, wants_hot=True, pick=0.5)
    assert seats == ["B-10"]
    seats = choose_seats(seat_map(front), workload, count=2, wants_hot=True, pick=0.0)
    assert len(seats) == 2 and all(s[0] in "AB" for s in seats)
    assert choose_seats([], workload, count=2, wants_hot=True, pick=0.0) == []


def test_declines_and_abandoners_follow_their_shares() -> None:
    workload = Workload(decline_share=0.2, abandon_share=0.3)
    got = plans(9, 2000, workload)
    declined = sum(p.card == CARD_DECLINE for p in got)  # type: ignore[attr-defined]
    abandoned = sum(p.abandon for p in got)  # type: ignore[attr-defined]
    assert 300 < declined < 500
    assert 480 < abandoned < 720
    keys = [k for p in got for k in (p.create_key, p.confirm_key, p.finalize_key)]  # type: ignore[attr-defined]
    assert len(set(keys)) == len(keys)


def test_seat_map_parsing_accepts_the_service_forms() -> None:
    body = {"seats": [
        {"seat_id": "A-07", "section": "FRONT", "row_label": "A", "seat_number": 7,
         "state": "SOLD"},
        {"seat_id": "C-01", "section": "MIDDLE", "state": "AVAILABLE"},
        {"not": "a seat"},
    ]}
    assert parse_seat_map(body) == [
        Seat("A-07", "FRONT", "A", 7, False), Seat("C-01", "MIDDLE", "C", 1, True)]
    assert parse_seat_map([{"seat_id": "B-02", "section": "FRONT"}]) == [
        Seat("B-02", "FRONT", "B", 2, True)]
    assert parse_seat_map("nonsense") == []


def test_workload_round_trips_through_json() -> None:
    import json

    workload = Workload(strategy="2pc", seed=3, users=7)
    assert Workload.from_mapping(json.loads(workload.to_json())) == workload
