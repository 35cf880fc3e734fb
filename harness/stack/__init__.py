"""The local stack: Postgres, Redis, Toxiproxy, the payment provider and the target service."""

from harness.stack.stack import Stack
from harness.stack.state import ServiceSettings, StackState

__all__ = ["ServiceSettings", "Stack", "StackState"]
