"""Shared shape of the process faults: they aim at one app process of the stack.

Targets are ``target`` (a seeded pick among the target-service processes), ``target-<n>`` and
``provider``; see :mod:`chaos.processes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.faults.base import Fault, P
from chaos.params import FaultParams
from chaos.processes import is_process_target


class ProcessFault(Fault[P]):
    """A fault aimed at one supervised app process: ``pid`` and ``process`` (its supervisor
    name) are the one it hit, set by ``start``."""

    def __init__(
        self, target: str, params: Mapping[str, Any] | FaultParams | None = None
    ) -> None:
        super().__init__(target, params)
        self.pid: int | None = None
        self.process: str | None = None

    @classmethod
    def valid_targets(cls) -> tuple[str, ...]:
        return ("target", "target-<n>", "provider")

    @classmethod
    def accepts(cls, target: str) -> bool:
        return is_process_target(target)
