"""The harness's exceptions and the exit codes they map to (docs/contract.md section 2.2).

Exception tree::

    HarnessError            any failure the CLI reports without a traceback
    ├── UsageError          bad usage or bad input: names the file, line or flag   (exit 2)
    └── StackError          the stack or a dependency could not be started          (exit 3)
        └── MissingBinary   a required executable is not installed

Exit code 1 (an invariant is violated) is a verdict, not an exception.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_STACK = 3


class HarnessError(Exception):
    """Base of every error the CLI reports as a message and an exit code."""

    exit_code = EXIT_STACK


class UsageError(HarnessError):
    """Bad usage or bad input; the message names the file, line or flag."""

    exit_code = EXIT_USAGE


class StackError(HarnessError):
    """The stack or one of its dependencies could not be started or reached."""

    exit_code = EXIT_STACK


class HealError(StackError):
    """Healing left something broken (a proxy, a stopped process, an armed failpoint); the
    message says what."""


class MissingBinary(StackError):
    """A required executable is missing; the message says how to install it."""
