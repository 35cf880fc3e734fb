"""What a buyer wants: the workload settings and the seeded choice of seats, card and behaviour.

Pure logic (no Locust, no network), so it is unit-tested on its own. Guarantees:

* The same seed and the same seat map give the same sequence of purchase plans
  (:class:`Planner` draws from its own ``random.Random`` in a fixed order per purchase).
* A plan asks for ``seats_min..seats_max`` seats of one row of one section, adjacent where the
  map allows, or for none when the map has no seats at all.
* A share ``hot_share`` of purchases wants the hot section, the others the remaining seats; in
  either, the seat follows a Zipf law over the seats ranked by preference (section order of the
  map, then row, then closeness to the row's centre), as a flash sale's buyers all want the
  best seats left, so they meet on the same seats. Available seats are preferred; when none is
  left, buyers still try their favourite seats (and lose them: a conflict), so the load never
  goes idle.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

#: Environment variable naming a workload JSON file (the harness writes one per run).
WORKLOAD_ENV = "HARNESS_WORKLOAD"

CARD_OK = "tok_ok"
CARD_DECLINE = "tok_decline"

SHAPES = ("ramp", "flash-sale")


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """A careful client's retry budget (see :mod:`locustfiles.retry`)."""

    max_attempts: int = 5
    base_s: float = 0.1
    cap_s: float = 2.0
    deadline_s: float = 30.0


@dataclass(frozen=True, slots=True)
class BuyerProfile:
    """What buyers want and how they behave: the scenario's ``[workload]`` table."""

    event_id: str = "evt_default"
    hot_section: str = "FRONT"
    hot_share: float = 0.6
    zipf_s: float = 1.1
    seats_min: int = 1
    seats_max: int = 4
    decline_share: float = 0.05
    abandon_share: float = 0.1
    think_time_s: tuple[float, float] = (0.05, 0.5)
    client_timeout_s: float = 5.0
    shape: str = "ramp"
    seat_map_max_age_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Workload(BuyerProfile):
    """Everything a Locust process needs to know about the run; JSON round-trips exactly."""

    strategy: str = "saga"
    seed: int = 0
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: float = 60.0
    history_dir: str = ""
    retry: RetrySettings = field(default_factory=RetrySettings)

    @classmethod
    def of(cls, profile: BuyerProfile, **run: Any) -> Workload:
        """The workload of one run: ``profile``'s buyers plus the run's fields."""
        return cls(**{f.name: getattr(profile, f.name) for f in fields(BuyerProfile)}, **run)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Workload:
        values = dict(data)
        retry = RetrySettings(**dict(values.pop("retry", None) or {}))
        if "think_time_s" in values:
            values["think_time_s"] = tuple(values["think_time_s"])
        return cls(**values, retry=retry)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Workload:
        """From ``path``, else from ``$HARNESS_WORKLOAD``, else the defaults."""
        chosen = path or os.environ.get(WORKLOAD_ENV, "")
        if not chosen:
            return cls()
        return cls.from_mapping(json.loads(Path(chosen).read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Seat:
    """One seat of the map as the service shows it."""

    seat_id: str
    section: str
    row: str
    number: int
    available: bool = True


@dataclass(frozen=True, slots=True)
class PurchasePlan:
    """One purchase: which seats, which card, whether the buyer walks away after confirm."""

    seats: tuple[str, ...]
    card: str
    abandon: bool
    create_key: str
    confirm_key: str
    finalize_key: str


def parse_seat_map(body: Any) -> list[Seat]:
    """Seats from ``GET /api/events/{id}/seats`` (``{"seats": [...]}`` or a bare list)."""
    items = body.get("seats", []) if isinstance(body, Mapping) else body
    seats: list[Seat] = []
    if not isinstance(items, Sequence):
        return seats
    for item in items:
        if not isinstance(item, Mapping) or "seat_id" not in item:
            continue
        seat_id = str(item["seat_id"])
        row_part, _, number_part = seat_id.partition("-")
        row = str(item.get("row_label") or item.get("row") or row_part)
        number_raw = item.get("seat_number", item.get("number", number_part))
        try:
            number = int(number_raw)
        except (TypeError, ValueError):
            number = 0
        state = str(item.get("state", "AVAILABLE")).upper()
        seats.append(Seat(seat_id, str(item.get("section", "")), row, number,
                          state == "AVAILABLE"))
    return seats


def user_rng(seed: int, worker: int, user: int, stream: str = "plans") -> random.Random:
    """One random stream of one simulated buyer, fixed by (seed, worker index, user number).

    Separate streams (``plans`` for choices, ``jitter`` for retry backoff) keep the sequence of
    choices independent of how many retries the network forced.
    """
    return random.Random(f"booking-harness/{seed}/{worker}/{user}/{stream}")


class Planner:
    """Draws one buyer's purchase plans from its seeded random stream."""

    def __init__(self, workload: Workload, rng: random.Random) -> None:
        self.workload = workload
        self.rng = rng

    def _key(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_purchase(self, seat_map: Sequence[Seat]) -> PurchasePlan:
        """The next plan. Draws always happen in the same order, whatever the map holds."""
        w = self.workload
        rng = self.rng
        count = rng.randint(w.seats_min, w.seats_max)
        wants_hot = rng.random() < w.hot_share
        pick = rng.random()
        card = CARD_DECLINE if rng.random() < w.decline_share else CARD_OK
        abandon = rng.random() < w.abandon_share
        keys = (self._key(), self._key(), self._key())
        seats = choose_seats(seat_map, w, count=count, wants_hot=wants_hot, pick=pick)
        return PurchasePlan(tuple(seats), card, abandon, *keys)


def preference_rank(seats: Sequence[Seat]) -> dict[str, int]:
    """Rank (0 = most wanted) of every seat: section order of the map, row, centre first."""
    order = _preference_order(_layout_of(seats))
    return {seats[i].seat_id: rank for rank, i in enumerate(order)}


def _layout_of(seats: Sequence[Seat]) -> tuple[tuple[str, str, int], ...]:
    """What the ranking depends on (not the availability): a cache key of the map's layout."""
    return tuple((s.section, s.row, s.number) for s in seats)


@functools.lru_cache(maxsize=8)
def _preference_order(layout: tuple[tuple[str, str, int], ...]) -> tuple[int, ...]:
    """Positions of the map's seats, most wanted first (computed once per layout: a buyer sees
    the same layout with new availability on every look, and ranking 10,000 seats costs ms)."""
    section_order: dict[str, int] = {}
    widths: dict[tuple[str, str], int] = {}
    for section, row, number in layout:
        section_order.setdefault(section, len(section_order))
        widths[(section, row)] = max(widths.get((section, row), 0), number)

    def sort_key(i: int) -> tuple[int, str, float, int]:
        section, row, number = layout[i]
        centre = (widths[(section, row)] + 1) / 2
        return (section_order[section], row, abs(number - centre), number)

    return tuple(sorted(range(len(layout)), key=sort_key))


def choose_seats(
    seat_map: Sequence[Seat], workload: Workload, *, count: int, wants_hot: bool, pick: float
) -> list[str]:
    """Up to ``count`` adjacent seats of one row; ``pick`` in [0, 1) selects the anchor seat."""
    if not seat_map:
        return []
    ranked = [seat_map[i] for i in _preference_order(_layout_of(seat_map))]
    hot = [s for s in ranked if s.section == workload.hot_section]
    rest = [s for s in ranked if s.section != workload.hot_section]
    pool = hot if (wants_hot and hot) or not rest else rest
    candidates = [s for s in pool if s.available] or pool
    anchor = candidates[_zipf_index(len(candidates), workload.zipf_s, pick)]
    return _adjacent(anchor, candidates, count)


#: Prefix sums of ``1 / (i + 1) ** s`` per exponent ``s``, grown on demand.
_ZIPF_SUMS: dict[float, list[float]] = {}


def _zipf_index(n: int, s: float, pick: float) -> int:
    """Index in ``range(n)`` with probability proportional to ``1 / (i + 1) ** s``."""
    sums = _ZIPF_SUMS.setdefault(s, [])
    total = sums[-1] if sums else 0.0
    for i in range(len(sums), n):
        total += 1.0 / (i + 1) ** s
        sums.append(total)
    index = bisect.bisect_right(sums, pick * sums[n - 1], 0, n)
    return min(index, n - 1)


def _adjacent(anchor: Seat, candidates: Sequence[Seat], count: int) -> list[str]:
    """``anchor`` and the nearest candidates of its row, at most ``count``, sorted by number."""
    same_row = sorted(
        (s for s in candidates if s.section == anchor.section and s.row == anchor.row),
        key=lambda s: (abs(s.number - anchor.number), s.number),
    )
    chosen = sorted(same_row[:count], key=lambda s: s.number)
    return [s.seat_id for s in chosen]
