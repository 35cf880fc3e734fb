"""Pure arithmetic of the load shapes (unit-tested without Locust)."""

from __future__ import annotations

#: Share of the run before the sale opens.
WAITING_ROOM_SHARE = 0.15


def flash_sale_tick(run_time_s: float, users: int, duration_s: float) -> tuple[int, float] | None:
    """(users, spawn rate) at ``run_time_s``, or None once the run is over.

    Before the sale opens: a tenth of the users (at least one), spawned gently. After: all users,
    spawned within one second (spawn rate = users).
    """
    if run_time_s >= duration_s:
        return None
    if run_time_s < duration_s * WAITING_ROOM_SHARE:
        early = max(1, users // 10)
        return early, float(max(1, early))
    return users, float(max(1, users))
