"""Rolling on-sales: new rows open in a section before its free seats run out.

Protects the run's meaning, not the data: buyers must always have free seats to fight over,
from a 20-second run to a 30-minute soak (issue 16). When a section of an event has fewer free
seats than ``low_water`` times its seeded size, *waves* of it go on sale until it has: the
section's seeded rows again, labelled ``<row><wave>`` (``A2``, ``B2``, then ``A3``...), same
seats per row and price. The event's capacity grows in the same transaction, so the seats
still add up to it. Calls are serialized per event (the event row is locked), so two service
processes never open the same wave twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from target_service.seed import EventSpec, SectionSpec, events_for


@dataclass(frozen=True, slots=True)
class Opened:
    """One wave put on sale: its section, its number (the seeded rows are wave 1), seats."""

    section: str
    wave: int
    seats: int


def spec_of(event_id: str) -> EventSpec | None:
    """The seeded layout of ``event_id`` (None for an event the seed does not know)."""
    return next((e for e in events_for(event_id) if e.event_id == event_id), None)


def wave_seats(sec: SectionSpec, wave: int) -> list[tuple[str, str, str, int, int]]:
    """(seat_id, section, row, number, price) of wave ``wave`` (>= 2) of ``sec``."""
    return [(f"{row}{wave}-{n:02d}", sec.name, f"{row}{wave}", n, sec.price_cents)
            for row in sec.rows for n in range(1, sec.seats_per_row + 1)]


def base_row(row_label: str) -> str:
    """The seeded row a (possibly wave) row label repeats: ``A2`` -> ``A``, ``A`` -> ``A``."""
    return row_label.rstrip("0123456789") or row_label


async def open_waves(conn: Any, spec: EventSpec, low_water: float
                     ) -> tuple[list[Opened], dict[str, int]]:
    """Put waves of every section of ``spec`` below ``low_water`` on sale, as many as bring it
    back to ``low_water`` of its seeded size (at least one; ``low_water`` may exceed 1: one
    transaction); what opened, each section's free seats afterwards. LookupError: the
    event is not in the database."""
    async with conn.transaction():
        # one on-sale at a time per event; a new order's foreign-key check (FOR KEY SHARE)
        # does not wait for this lock, as it would for FOR UPDATE
        if await conn.fetchval("SELECT true FROM events WHERE event_id = $1"
                               " FOR NO KEY UPDATE", spec.event_id) is None:
            raise LookupError(spec.event_id)
        rows = await conn.fetch(
            "SELECT section, count(*) FILTER (WHERE state = 'AVAILABLE') AS free,"
            " count(DISTINCT row_label) AS row_count FROM seats WHERE event_id = $1"
            " GROUP BY section", spec.event_id)
        have = {r["section"]: (int(r["free"]), int(r["row_count"])) for r in rows}
        opened: list[Opened] = []
        free: dict[str, int] = {}
        for sec in spec.sections:
            n_free, n_rows = have.get(sec.name, (0, 0))
            size = len(sec.rows) * sec.seats_per_row
            free[sec.name] = n_free
            if n_free >= low_water * size:
                continue
            first = n_rows // len(sec.rows) + 1
            waves = max(1, math.ceil((low_water * size - n_free) / size))
            for wave in range(first, first + waves):
                seats = wave_seats(sec, wave)
                await conn.copy_records_to_table(
                    "seats", records=[(spec.event_id, *s) for s in seats],
                    columns=["event_id", "seat_id", "section", "row_label", "seat_number",
                             "price_cents"])
                opened.append(Opened(sec.name, wave, len(seats)))
                free[sec.name] += len(seats)
        if opened:
            await conn.execute("UPDATE events SET capacity = capacity + $2 WHERE event_id = $1",
                               spec.event_id, sum(o.seats for o in opened))
    return opened, free
