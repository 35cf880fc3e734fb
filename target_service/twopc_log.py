"""The 2PC coordinator's transaction ids and durable decision log (``twopc_decisions``).

Decisions are logged per transaction gid ``bk2pc:<order>:<PHASE>:<hex>``; each participant
prepares as ``<gid>:seats`` / ``<gid>:payments`` (prepared gids are unique per cluster). The
log is first-writer-wins per gid (``INSERT ... ON CONFLICT DO NOTHING``): the coordinator writes
``COMMIT`` after both prepares, recovery writes ``ABORT`` for an in-doubt gid without a
decision; whichever lands first is the decision, so they can never disagree.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

GID_PREFIX = "bk2pc:"
_GID_RE = re.compile(r"^(bk2pc:([0-9a-f-]{36}):([A-Z]+):[0-9a-f]{8})(?::(seats|payments))?$")
#: participant name -> suffix of its prepared-transaction gid (gids are unique per *cluster*,
#: and both databases live in one cluster, so each participant prepares under its own name)
PARTICIPANTS = ("seats", "payments")


def new_gid(order_id: uuid.UUID, phase: str) -> str:
    """A fresh transaction id naming the order and phase: ``bk2pc:<order>:<PHASE>:<8 hex>``."""
    return f"{GID_PREFIX}{order_id}:{phase}:{secrets.token_hex(4)}"


def participant_gid(gid: str, participant: str) -> str:
    """The prepared-transaction gid of one participant: ``<gid>:seats`` / ``<gid>:payments``."""
    return f"{gid}:{participant}"


def parse_gid(gid: str) -> tuple[str, uuid.UUID, str] | None:
    """(transaction gid, order_id, phase) of one of our (participant) gids, else None."""
    m = _GID_RE.match(gid)
    return (m.group(1), uuid.UUID(m.group(2)), m.group(3)) if m else None


def quote_gid(gid: str) -> str:
    """``gid`` as an SQL literal; only our own well-formed gids are accepted."""
    if not _GID_RE.match(gid):
        raise ValueError(f"not one of our gids: {gid!r}")
    return "'" + gid + "'"


async def decide(conn: Any, gid: str, order_id: uuid.UUID, phase: str, decision: str,
                 decided_by: str) -> str:
    """Record ``decision`` for ``gid`` unless one exists; returns the decision that holds."""
    row = await conn.fetchrow(
        "INSERT INTO twopc_decisions (gid, order_id, phase, decision, decided_by)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gid) DO NOTHING RETURNING decision",
        gid, order_id, phase, decision, decided_by)
    if row is not None:
        return str(row["decision"])
    existing = await conn.fetchval("SELECT decision FROM twopc_decisions WHERE gid = $1", gid)
    return str(existing)


async def mark_completed(conn: Any, gid: str) -> None:
    """Note that both participants finished ``gid``."""
    await conn.execute(
        "UPDATE twopc_decisions SET completed_at = now() WHERE gid = $1 AND completed_at IS NULL",
        gid)
