"""The persistent saga log: one ``sagas`` row per order plus the append-only ``saga_log``.

Every transition is a compare-and-set on ``version``; whoever changes the row owns the next
step. The recovery sweeper takes over a stale saga the same way, so a paused request that
wakes up finds its CAS refused and cannot undo the sweeper's work.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

_COLS = "order_id, strategy, phase, state, step, version, auth_key, payment_id, attempts"


@dataclass(frozen=True, slots=True)
class Saga:
    """A snapshot of a ``sagas`` row."""

    order_id: uuid.UUID
    strategy: str
    phase: str
    state: str
    step: str
    version: int
    auth_key: str
    payment_id: str | None
    attempts: int


def _saga(row: Any) -> Saga | None:
    return Saga(**dict(row)) if row is not None else None


async def get(conn: Any, order_id: uuid.UUID) -> Saga | None:
    return _saga(await conn.fetchrow(f"SELECT {_COLS} FROM sagas WHERE order_id = $1", order_id))


async def begin(conn: Any, order_id: uuid.UUID, strategy: str, phase: str, step: str,
                auth_key: str, *, stale_s: float) -> Saga | None:
    """Start ``phase`` for the order: insert the row, or take it over when the previous phase
    is DONE or the row is stale (untouched for ``stale_s``). None when another live request
    owns it."""
    return _saga(await conn.fetchrow(
        f"INSERT INTO sagas (order_id, strategy, phase, state, step, auth_key)"
        f" VALUES ($1, $2, $3, 'RUNNING', $4, $5)"
        f" ON CONFLICT (order_id) DO UPDATE SET phase = EXCLUDED.phase, state = 'RUNNING',"
        f"  step = EXCLUDED.step, version = sagas.version + 1, updated_at = now(),"
        f"  attempts = sagas.attempts + 1"
        f" WHERE (sagas.state = 'DONE' AND sagas.phase <> EXCLUDED.phase)"
        f"  OR (sagas.phase = EXCLUDED.phase AND sagas.state = 'RUNNING'"
        f"      AND sagas.updated_at < now() - make_interval(secs => $6))"
        f" RETURNING {_COLS}",
        order_id, strategy, phase, step, auth_key, stale_s))


async def advance(conn: Any, saga: Saga, *, state: str | None = None, step: str | None = None,
                  phase: str | None = None, payment_id: str | None = None,
                  error: str | None = None) -> Saga | None:
    """CAS the row from ``saga.version``; the new snapshot, or None if someone else moved it."""
    return _saga(await conn.fetchrow(
        f"UPDATE sagas SET state = coalesce($3, state), step = coalesce($4, step),"
        f" phase = coalesce($5, phase), payment_id = coalesce($6, payment_id),"
        f" last_error = coalesce($7, last_error), version = version + 1, updated_at = now()"
        f" WHERE order_id = $1 AND version = $2 RETURNING {_COLS}",
        saga.order_id, saga.version, state, step, phase, payment_id, error))


async def takeover(conn: Any, order_id: uuid.UUID, version: int) -> Saga | None:
    """The sweeper's claim on a stale saga (bumps the version, counts an attempt)."""
    return _saga(await conn.fetchrow(
        f"UPDATE sagas SET version = version + 1, attempts = attempts + 1, updated_at = now()"
        f" WHERE order_id = $1 AND version = $2 RETURNING {_COLS}", order_id, version))


async def stale(conn: Any, *, running_s: float, compensating_s: float,
                limit: int = 100) -> list[Saga]:
    """Sagas a sweeper should re-drive: RUNNING untouched for ``running_s``, COMPENSATING
    untouched for ``compensating_s``."""
    rows = await conn.fetch(
        f"SELECT {_COLS} FROM sagas WHERE state <> 'DONE' AND ("
        f" (state = 'RUNNING' AND updated_at < now() - make_interval(secs => $1)) OR"
        f" (state = 'COMPENSATING' AND updated_at < now() - make_interval(secs => $2)))"
        f" ORDER BY updated_at LIMIT $3", running_s, compensating_s, limit)
    return [Saga(**dict(r)) for r in rows]


async def log(conn: Any, order_id: uuid.UUID, phase: str, step: str, outcome: str,
              instance: str, detail: dict[str, Any] | None = None) -> None:
    """Append one line to ``saga_log``."""
    await conn.execute(
        "INSERT INTO saga_log (order_id, phase, step, outcome, detail, instance)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
        order_id, phase, step, outcome, json.dumps(detail) if detail else None, instance)
