"""Stacks on one machine (docs/contract.md section 9): each claims its own port block, is ready
only when its own processes listen, and never signals another's processes. Real stacks, each in a
temporary state folder and always stopped at the end."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
import redis.asyncio as aioredis

from harness.errors import EXIT_STACK, StackError
from harness.paths import REPO_ROOT
from harness.stack import Stack
from harness.stack.binaries import find_all
from harness.stack.cleanup import stack_processes
from harness.stack.ports import find_free_block, owner_of, port_is_free
from tests.conftest import StackHandle
from tests.ports import STOP as SPARE_STOP
from tests.ports import spare

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.stack]

#: The ports each supervisord group listens on (the proxies' ports are Toxiproxy's).
OWN_PORTS = {"postgres": "postgres", "redis": "redis", "toxiproxy": "toxiproxy",
             "provider": "provider", "target": "target", "target_api": "toxiproxy"}


def harness(*args: str, state_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "--state-dir", str(state_dir), *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, check=False,
    )


def status(state_dir: Path) -> dict[str, Any]:
    result = harness("status", "--json", state_dir=state_dir, timeout=60)
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads(result.stdout)
    return info


def listening_pids(port: int) -> set[int | None]:
    """Who listens on ``port``, as the kernel says (independent of the code under test)."""
    return {c.pid for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port}


def pids_by_name(info: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["pid"] for p in info["processes"]}


async def answers(info: dict[str, Any]) -> None:
    """The stack serves: the service's /health through its proxy, Postgres and Redis direct."""
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(info["target"] + "/health")).status_code == 200
    conn = await asyncpg.connect(info["seats_dsn"], timeout=10)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
    redis = aioredis.Redis.from_url(info["redis_url"], socket_timeout=10)
    try:
        assert await redis.ping()
    finally:
        await redis.aclose()


def assert_all_running_and_own_their_ports(info: dict[str, Any]) -> None:
    assert info["running"] is True
    assert all(p["state"] == "RUNNING" for p in info["processes"]), info["processes"]
    groups: dict[str, set[int]] = {}
    for proc in info["processes"]:
        groups.setdefault(proc["name"].split(":")[0], set()).add(proc["pid"])
    for key, group in OWN_PORTS.items():
        holders = listening_pids(info["ports"][key])
        assert holders and holders <= groups[group], (key, holders, groups[group])


@pytest.mark.slow
async def test_three_stacks_started_at_once_get_three_blocks_and_down_stops_only_its_own(
    tmp_path: Path,
) -> None:
    dirs = [tmp_path / f"stack-{n}" for n in range(3)]
    ups = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "harness", "--state-dir", str(d), "up",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
        )
        for d in dirs
    ]
    try:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(up.communicate() for up in ups)), timeout=400
        )
        for up, (_, err), state_dir in zip(ups, outputs, dirs, strict=True):
            assert up.returncode == 0, (state_dir, err.decode())
        infos = [status(d) for d in dirs]
        blocks = [set(info["ports"].values()) for info in infos]
        assert len(blocks[0] | blocks[1] | blocks[2]) == sum(len(b) for b in blocks), \
            [info["ports"]["postgres"] for info in infos]
        for info, state_dir in zip(infos, dirs, strict=True):
            assert_all_running_and_own_their_ports(info)
            assert owner_of(info["ports"]["postgres"]).owner == state_dir  # type: ignore[union-attr]
            await answers(info)

        down = harness("down", state_dir=dirs[0])
        assert down.returncode == 0, down.stderr
        assert stack_processes(dirs[0]) == []
        assert all(port_is_free(p) for p in blocks[0])
        assert owner_of(infos[0]["ports"]["postgres"]) is None, "down releases the block"
        for before, state_dir in zip(infos[1:], dirs[1:], strict=True):
            after = status(state_dir)
            assert pids_by_name(after) == pids_by_name(before)
            assert_all_running_and_own_their_ports(after)
            await answers(after)
    finally:
        for up in ups:
            if up.returncode is None:
                up.kill()
                await up.wait()
        for state_dir in dirs:
            harness("down", state_dir=state_dir)


@pytest.fixture
def foreign_redis() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Redis servers this test starts as "another stack's" (no stack mark); stopped after."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


async def test_an_up_meeting_a_foreign_listener_fails_naming_it_and_touches_nothing_else(
    stack: StackHandle, tmp_path: Path, foreign_redis: list[subprocess.Popen[bytes]],
) -> None:
    """A Redis server not of this stack binds the new stack's Redis port after the port check
    (as a second stack's would): it answers PING, but `up` fails with exit 3 naming it, and it
    and the other stack are left running."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    base = find_free_block(start=spare(4), stop=SPARE_STOP, owner=state_dir)["postgres"]
    port = base + 1
    others_before = stack.stack.status()
    redis_server = find_all().redis_server

    def bind_meanwhile(message: str) -> None:
        if not message.startswith("creating the PostgreSQL cluster"):
            return
        foreign_redis.append(subprocess.Popen(
            [str(redis_server), "--bind", "127.0.0.1", "--port", str(port), "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        deadline = time.monotonic() + 30
        while port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.05)

    new = Stack(state_dir, progress=bind_meanwhile)
    try:
        with pytest.raises(StackError) as failed:
            await new.up(base_port=base)
    finally:
        await new.down()
    assert foreign_redis, "the stack never reached its start-up"
    foreign = foreign_redis[0]
    assert failed.value.exit_code == EXIT_STACK
    message = str(failed.value)
    assert f"127.0.0.1:{port}" in message
    assert f"pid {foreign.pid} (redis-server)" in message

    assert foreign.poll() is None, "the foreign process was signalled"
    assert listening_pids(port) == {foreign.pid}
    assert ping(port) == b"+PONG\r\n"
    assert stack_processes(state_dir) == []
    assert owner_of(base) is None

    others_after = stack.stack.status()
    assert pids_by_name(others_after) == pids_by_name(others_before)
    assert_all_running_and_own_their_ports(others_after)
    await answers(others_after)


async def test_an_explicit_base_port_claimed_by_another_stack_is_exit_3_naming_it(
    stack: StackHandle, tmp_path: Path,
) -> None:
    before = stack.stack.status()
    result = harness("up", "--base-port", str(stack.state.ports["postgres"]),
                     state_dir=tmp_path / "state", timeout=60)
    assert result.returncode == EXIT_STACK
    assert f"claimed by the stack at {stack.state.state_dir}" in result.stderr
    assert stack_processes(tmp_path / "state") == []
    assert owner_of(stack.state.ports["postgres"]).owner == stack.state.state_dir  # type: ignore[union-attr]
    after = stack.stack.status()
    assert pids_by_name(after) == pids_by_name(before)
    assert_all_running_and_own_their_ports(after)
