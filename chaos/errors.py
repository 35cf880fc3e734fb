"""The fault layer's exceptions, rooted in the harness's tree so the CLI maps them to exit codes.

Exception tree::

    ChaosError (HarnessError, exit 3)   any failure of the fault layer
    ├── FaultError                      a fault could not be applied or removed (names both)
    └── ChaosUsageError (exit 2)        bad input, found before anything was touched
        ├── UnknownFault                no such fault kind or schedule; lists the valid names
        ├── InvalidTarget               the fault cannot aim at that target; lists the valid ones
        ├── InvalidParams               a parameter is unknown, of the wrong type or out of range
        └── ScheduleError               an inline schedule entry is malformed; names entry and field

Low-level errors (Toxiproxy, supervisord, HTTP, SQL) are translated with ``raise ... from exc``.
Healing is the stack's (``harness.stack.heal``): its failure is ``harness.errors.HealError``.
"""

from __future__ import annotations

from harness.errors import EXIT_USAGE, HarnessError, UsageError


class ChaosError(HarnessError):
    """Base of every fault-layer error."""


class FaultError(ChaosError):
    """A fault could not be applied or removed; the message names the fault and its target."""

    def __init__(self, fault: str, target: str, reason: str) -> None:
        super().__init__(f"fault {fault!r} on {target!r}: {reason}")
        self.fault = fault
        self.target = target
        self.reason = reason


class ChaosUsageError(ChaosError, UsageError):
    """Bad input to the fault layer (exit code 2)."""

    exit_code = EXIT_USAGE


class UnknownFault(ChaosUsageError):
    """No fault kind (or schedule) of that name; the message lists the valid names."""


class InvalidTarget(ChaosUsageError):
    """The fault cannot aim at that target; the message lists the valid targets."""


class InvalidParams(ChaosUsageError):
    """A fault parameter is unknown, of the wrong type or out of range."""


class ScheduleError(ChaosUsageError):
    """An inline schedule entry is malformed; the message names the entry and the field."""
