"""The dependencies a request handler, strategy or sweeper needs, in one object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from target_service.config import Settings
from target_service.coverage import CoverageRecorder
from target_service.failpoints import Failpoints
from target_service.metrics import Metrics
from target_service.provider_client import ProviderClient
from target_service.redis_lock import LockManager


@dataclass(slots=True)
class Deps:
    """Pools and clients of one service process."""

    settings: Settings
    seats: Any  # asyncpg pool on the seats db
    payments: Any  # asyncpg pool on the payments db (2PC participant, health)
    redis: Any
    provider: ProviderClient
    locks: LockManager
    failpoints: Failpoints
    metrics: Metrics
    coverage: CoverageRecorder

    def bug(self, name: str) -> bool:
        """Whether seeded bug ``name`` is on."""
        return self.settings.has_bug(name)
