"""Shared fixtures: one real local stack per test session, started by the project's own code.

The stack lives in ``.state/test`` (its Postgres cluster is kept between sessions, so only the
first session pays for initdb) and is stopped when the session ends. After each test that used
it, every fault is healed; before each test that uses it, the service runs with its default
settings, so no test sees another's faults or seeded bugs. Only a test that sets its own
settings first (a CLI run through ``cli_stack``, or a test marked ``own_services``) skips that
restore: the restart it does anyway replaces it, which saves a service restart per such test.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from harness.paths import REPO_ROOT
from harness.stack import ServiceSettings, Stack, StackState


def exclusive_state_dir(name: str) -> tuple[Path, bool]:
    """``.state/<name>`` when no other test session holds it, else a private ``<name>-<pid>``.

    Returns the folder and whether it is private (and so removed at the end). The lock (an
    flock held for the life of this process) keeps concurrent test sessions from stopping each
    other's stacks.
    """
    base = REPO_ROOT / ".state"
    base.mkdir(parents=True, exist_ok=True)
    lock = (base / f"{name}.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return base / f"{name}-{os.getpid()}", True
    atexit.register(lock.close)  # the flock lasts as long as this process
    return base / name, False

TEST_STATE_DIR, _PRIVATE_TEST_DIR = exclusive_state_dir("test")


@dataclass
class StackHandle:
    """The running test stack, with the addresses tests need."""

    stack: Stack
    state: StackState
    default_services: ServiceSettings = field(default_factory=ServiceSettings)

    @property
    def seats_dsn(self) -> str:
        return self.state.dsn("seats")

    @property
    def payments_dsn(self) -> str:
        return self.state.dsn("payments")

    @property
    def redis_url(self) -> str:
        return self.state.redis_url()

    @property
    def target_url(self) -> str:
        return self.state.target_url

    @property
    def provider_url(self) -> str:
        return self.state.url("payments_api")

    @property
    def toxiproxy_url(self) -> str:
        return self.state.toxiproxy_url

    @property
    def admin_token(self) -> str:
        return self.state.admin_token

    async def restart_services(
        self, bug: str | None = None, failpoints: Iterable[str] = (), **settings: object
    ) -> None:
        """Restart provider and service processes with a bug, failpoints or other settings."""
        services = ServiceSettings(bug=bug, failpoints=tuple(failpoints), **settings)  # type: ignore[arg-type]
        self.state = await self.stack.restart_services(services)

    async def heal(self) -> None:
        """Heal every fault (the service settings stay as the test left them)."""
        await self.stack.heal(self.state)

    async def restore_defaults(self) -> None:
        """The default service settings, restarting the services if the last test changed them
        (read from the stack's own state file: a CLI run may have changed them behind us)."""
        current = self.stack.state()
        if current is not None:
            self.state = current
        if self.state.services != self.default_services:
            self.state = await self.stack.restart_services(self.default_services)


def _progress(message: str) -> None:
    print(f"[test stack] {message}", file=sys.stderr, flush=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack() -> AsyncIterator[StackHandle]:
    the_stack = Stack(TEST_STATE_DIR, progress=_progress)
    state = await the_stack.up(services=ServiceSettings())
    handle = StackHandle(the_stack, state)
    try:
        yield handle
    finally:
        await the_stack.down()
        if _PRIVATE_TEST_DIR:
            shutil.rmtree(TEST_STATE_DIR, ignore_errors=True)
            shutil.rmtree(state.pg_data, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def cli_stack(stack: StackHandle) -> AsyncIterator[StackHandle]:
    """The test stack for CLI runs; afterwards the fixture sees (and undoes) their settings."""
    yield stack
    state = stack.stack.state()
    if state is not None:
        stack.state = state


def sets_own_services(request: pytest.FixtureRequest) -> bool:
    """Whether the test's first act on the stack sets the service settings it needs: a CLI run
    (``cli_stack``: `harness run` and the like restart the service with their scenario's
    settings) or a test marked ``own_services`` (it calls ``restart_services`` first)."""
    return ("cli_stack" in request.fixturenames
            or request.node.get_closest_marker("own_services") is not None)


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _isolate_stack_tests(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Default service settings before a test (unless it sets its own), no fault after it."""
    uses_stack = "stack" in request.fixturenames
    if uses_stack and not sets_own_services(request):
        await request.getfixturevalue("stack").restore_defaults()
    yield
    if uses_stack:
        handle: StackHandle = request.getfixturevalue("stack")
        await handle.heal()
