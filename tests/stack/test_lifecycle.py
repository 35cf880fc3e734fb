"""`harness up` / `status` / `down` through the real CLI: idempotent, and nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.paths import REPO_ROOT
from harness.stack.cleanup import stack_processes
from harness.stack.ports import find_free_block, owner_of, port_is_free
from tests.conftest import exclusive_state_dir
from tests.ports import STOP as SPARE_STOP
from tests.ports import spare

LIFECYCLE_DIR, LIFECYCLE_PRIVATE = exclusive_state_dir("lifecycle")
RESTART_DIR, RESTART_PRIVATE = exclusive_state_dir("restart")
INFRA = ("postgres:postgres", "redis:redis", "toxiproxy:toxiproxy")
APPS = ("provider:provider", "target:target-0", "target:target-1")


def harness(*args: str, state_dir: Path, env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "--state-dir", str(state_dir), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT, check=False,
    )


def listening_ports(ports: dict[str, int]) -> list[int]:
    return [p for p in ports.values() if not port_is_free(p)]


def test_up_twice_down_twice_and_crash_leftovers_are_cleaned() -> None:
    state_dir = LIFECYCLE_DIR
    # A block beyond the automatic range (20000-40000), so no other stack on this machine can
    # take its ports between our `down` and the check that they are free.
    base = find_free_block(start=spare(1), stop=SPARE_STOP)["postgres"]
    first = harness("up", "--base-port", str(base), state_dir=state_dir)
    assert first.returncode == 0, first.stderr
    try:
        status = harness("status", "--json", state_dir=state_dir)
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        for key in ("toxiproxy", "target", "seats_dsn", "payments_dsn", "redis_url"):
            assert key in info
        assert info["running"] is True
        ports = info["ports"]
        names = sorted(p["name"] for p in info["processes"])
        assert names == ["postgres:postgres", "provider:provider", "redis:redis",
                         "target:target-0", "target:target-1", "toxiproxy:toxiproxy"]
        assert all(p["state"] == "RUNNING" for p in info["processes"])

        again = harness("up", state_dir=state_dir)
        assert again.returncode == 0, again.stderr
        assert json.loads(harness("status", "--json", state_dir=state_dir).stdout)["ports"] == ports

        # Simulate a crashed run: the supervisor dies hard and its children are orphaned.
        supervisord_pid = int((state_dir / "supervisord.pid").read_text())
        supervisord = psutil.Process(supervisord_pid)
        supervisord.kill()
        supervisord.wait(timeout=10)
        target_pids = [p["pid"] for p in info["processes"] if p["name"].startswith("target")]
        os.kill(target_pids[0], signal.SIGSTOP)  # a paused process must be cleaned too
        assert stack_processes(state_dir), "children should outlive a killed supervisor"
    finally:
        down = harness("down", state_dir=state_dir)
    assert down.returncode == 0, down.stderr
    assert stack_processes(state_dir) == []
    assert listening_ports(ports) == []
    assert harness("down", state_dir=state_dir).returncode == 0
    after = harness("status", state_dir=state_dir)
    assert after.returncode == 3
    assert "not running" in after.stdout
    if LIFECYCLE_PRIVATE:
        shutil.rmtree(state_dir, ignore_errors=True)


def _processes(state_dir: Path) -> dict[str, tuple[int, str]]:
    status = harness("status", "--json", state_dir=state_dir)
    assert status.returncode == 0, status.stderr
    return {p["name"]: (p["pid"], p["state"]) for p in json.loads(status.stdout)["processes"]}


def test_a_new_bug_from_another_shell_restarts_only_the_apps(tmp_path: Path) -> None:
    """`harness up --bug` (as `harness run --bug` does) from a shell whose PATH differs from the
    one that started the stack restarts the provider and the service only: the stack keeps the
    PATH it started with. And if the infrastructure's config did change, it is restarted and
    the apps still come up (they start only once the proxies exist again)."""
    state_dir = RESTART_DIR
    shell = {**os.environ}
    other_shell = {**shell, "PATH": f"{tmp_path}{os.pathsep}{shell.get('PATH', '')}"}
    first = harness("up", "--bug", "none", state_dir=state_dir, env=shell)  # whatever was kept
    assert first.returncode == 0, first.stderr
    try:
        before = _processes(state_dir)
        again = harness("up", "--bug", "lock-unsafe-release", state_dir=state_dir,
                        env=other_shell)
        assert again.returncode == 0, again.stderr
        after = _processes(state_dir)
        assert {n: after[n] for n in INFRA} == {n: before[n] for n in INFRA}
        assert all(after[n][0] != before[n][0] and after[n][1] == "RUNNING" for n in APPS), \
            (before, after)
        status = json.loads(harness("status", "--json", state_dir=state_dir).stdout)
        assert status["bug"] == "lock-unsafe-release"

        # the infrastructure's config changes (as with another PATH recorded at start)
        saved = json.loads((state_dir / "stack.json").read_text())
        saved["path_env"] = other_shell["PATH"]
        (state_dir / "stack.json").write_text(json.dumps(saved))
        third = harness("up", "--bug", "none", state_dir=state_dir, env=shell)
        assert third.returncode == 0, third.stderr
        assert "restarted with their new config" in third.stderr
        last = _processes(state_dir)
        assert all(last[n][0] != after[n][0] for n in INFRA), (after, last)
        assert all(state == "RUNNING" for _, state in last.values()), last
        assert sorted(last) == sorted(INFRA + APPS)
    finally:
        down = harness("down", state_dir=state_dir)
    assert down.returncode == 0, down.stderr
    if RESTART_PRIVATE:
        shutil.rmtree(state_dir, ignore_errors=True)


def test_a_taken_port_is_exit_3_with_advice(tmp_path: Path) -> None:
    block = find_free_block(start=spare(2), stop=SPARE_STOP)
    base = block["postgres"]
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", block["toxiproxy"]))
        blocker.listen()
        result = harness("up", "--base-port", str(base), state_dir=tmp_path / "state")
    assert result.returncode == 3
    assert f"127.0.0.1:{block['toxiproxy']}" in result.stderr
    assert f"in use by pid {os.getpid()} ({psutil.Process().name()})" in result.stderr
    assert "--base-port" in result.stderr
    assert owner_of(base) is None, "a block that could not be used is not kept claimed"
    assert stack_processes(tmp_path / "state") == []


def test_a_missing_binary_is_exit_3_with_the_install_command(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    result = harness("up", state_dir=tmp_path / "state", env=env)
    assert result.returncode == 3
    assert "redis-server is not installed" in result.stderr
    assert "apt-get install redis-server" in result.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["run", "--duration", "soon"], "--duration"),
        (["run", "--strategy", "paxos"], "--strategy"),
        (["up", "--base-port", "80"], "--base-port"),
        (["run", "--users", "0"], "--users"),
    ],
)
def test_bad_flags_are_exit_2_naming_the_flag(tmp_path: Path, args: list[str], flag: str) -> None:
    result = harness(*args, state_dir=tmp_path / "state", timeout=30)
    assert result.returncode == 2
    assert flag in result.stderr
