"""The service's introspection door: what the harness may learn about the service.

Only ``target_service/`` and ``invariants/`` read the service's tables and Redis keys; every other
part asks through the functions here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from target_service.config import Settings, _num
from target_service.coverage import SITUATIONS, read_counts, situations_for
from target_service.failpoints import default_action, failpoints_of

# --- coverage (the dangerous situations a run produced; target_service/coverage.py) ----------

async def coverage_counts(seats_dsn: str) -> dict[str, int]:
    """Situation -> how often it happened since the last ``reset_data``."""
    return await read_counts(seats_dsn)


def coverage_situations(strategy: str) -> tuple[str, ...]:
    """The situations that apply to ``strategy`` (what a run of it should reach)."""
    return situations_for(strategy)


def situation_doc(name: str) -> str:
    """One line saying what situation ``name`` is."""
    return SITUATIONS[name].doc


# --- clocks for exploration (the service's own timing, read as the service reads it) -----------
@dataclass(frozen=True, slots=True)
class ExplorationClocks:
    """The service clocks an exploration fault scales its delays and pauses to (seconds)."""

    lock_lease_s: float
    hold_ttl_s: float
    saga_stale_s: float
    client_timeout_s: float
    failpoint_poll_s: float


def exploration_clocks(env: Mapping[str, str] | None = None) -> ExplorationClocks:
    """The clocks of a service started with the tuning variables ``env`` (defaults if unset);
    ``client_timeout_s`` is the service's own timeout on its payment provider."""
    env = env or {}
    d = Settings()
    return ExplorationClocks(
        lock_lease_s=_num(env, "LOCK_LEASE_MS", d.lock_lease_ms) / 1000,
        hold_ttl_s=_num(env, "HOLD_TTL_S", d.hold_ttl_s),
        saga_stale_s=_num(env, "SAGA_STALE_S", d.saga_stale_s),
        client_timeout_s=_num(env, "PROVIDER_TIMEOUT_S", d.provider_timeout_s),
        failpoint_poll_s=_num(env, "FAILPOINT_POLL_S", d.failpoint_poll_s))


def exploration_failpoints(strategy: str) -> dict[str, str]:
    """Failpoint -> its default action, for every failpoint of ``strategy``'s steps."""
    return {name: default_action(name) for name in failpoints_of(strategy)}
