"""Shared shape of the process faults: they aim at one app process of the stack.

Targets are ``target`` (a seeded pick among the target-service processes), ``target-<n>`` and
``provider``; see :mod:`chaos.processes`.
"""

from __future__ import annotations

from chaos.faults.base import Fault, P
from chaos.processes import is_process_target


class ProcessFault(Fault[P]):
    """A fault aimed at one supervised app process."""

    @classmethod
    def valid_targets(cls) -> tuple[str, ...]:
        return ("target", "target-<n>", "provider")

    @classmethod
    def accepts(cls, target: str) -> bool:
        return is_process_target(target)
