"""The flash-sale load shape: a trickle of early buyers, then everyone at once.

Used with the buyer: ``locust -f locustfiles/buyer.py,locustfiles/flash_sale.py``. For the first
``WAITING_ROOM_SHARE`` of the run a tenth of the users browse; then the sale opens and all users
arrive in the same second; the shape ends the test after the run's duration.
"""

from __future__ import annotations

from locust import LoadTestShape

from locustfiles.history_hook import workload_of
from locustfiles.shape_plan import flash_sale_tick


class FlashSale(LoadTestShape):
    """Everyone at once, after a short waiting room."""

    def tick(self) -> tuple[int, float] | None:
        runner = self.runner
        if runner is None:
            return None
        workload = workload_of(runner.environment)
        return flash_sale_tick(
            self.get_run_time(),  # type: ignore[no-untyped-call]
            workload.users, workload.duration_s)
