"""`harness chaos` / `harness faults` through the real CLI, and the stand-alone chaos scripts."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from chaos.schedules import SCHEDULES
from harness.paths import REPO_ROOT
from harness.stack.toxiproxy import Toxiproxy
from tests.chaos.links import assert_healed, eventually
from tests.conftest import StackHandle
from tests.signals import default_sigint

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def run(*argv: str, timeout_s: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def harness(state_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "harness", "--state-dir", str(state_dir), *args]


async def proxy_enabled(stack: StackHandle, name: str) -> bool:
    async with Toxiproxy(stack.toxiproxy_url) as tp:
        return (await tp.get_proxy(name)).enabled


async def test_faults_lists_every_schedule_with_one_line(tmp_path: Path) -> None:
    code, out, _ = await run(*harness(tmp_path, "faults"))
    assert code == 0
    lines = out.splitlines()
    for name, spec in SCHEDULES.items():
        assert any(line.split()[:1] == [name] and spec.doc in line for line in lines), name


@pytest.mark.parametrize(("args", "needle"), [
    (("chaos", "partiton", "redis"), "unknown fault 'partiton'; valid faults: partition,"),
    (("chaos", "partition", "redsi"), "cannot target 'redsi'; valid: target_api, seats_pg"),
    (("chaos", "partition"), "needs a target; valid: target_api"),
    (("chaos", "latency", "redis", "--param", "latency_ms=fast"), "'latency_ms'='fast'"),
])
async def test_bad_chaos_usage_is_exit_2_naming_it(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    code, _, err = await run(*harness(tmp_path, *args))
    assert code == 2
    assert needle in err


async def test_chaos_without_a_running_stack_is_exit_3(tmp_path: Path) -> None:
    code, _, err = await run(*harness(tmp_path, "chaos", "partition", "redis"))
    assert code == 3
    assert "not running" in err


async def test_chaos_for_a_while_then_heals_itself(stack: StackHandle) -> None:
    task = asyncio.create_task(run(*harness(
        stack.state.state_dir, "chaos", "partition", "redis", "--for", "2s")))
    await eventually(lambda: proxy_enabled_is(stack, False), within=20)  # applied meanwhile
    code, out, err = await task
    assert code == 0, err
    assert "removed" in out
    assert await proxy_enabled(stack, "redis")


async def proxy_enabled_is(stack: StackHandle, value: bool) -> bool:
    return await proxy_enabled(stack, "redis") is value


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
async def test_a_signal_ends_chaos_for_a_while_early_and_heals(
    stack: StackHandle, sig: signal.Signals, code: int
) -> None:
    """SIGTERM (what `timeout` and CI runners send) removes the fault as Ctrl-C does."""
    proc = await asyncio.create_subprocess_exec(
        *harness(stack.state.state_dir, "chaos", "latency", "seats_pg", "--param",
                 "latency_ms=50", "--for", "120s"),
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=default_sigint)

    async def applied() -> bool:
        async with Toxiproxy(stack.toxiproxy_url) as tp:
            return bool(await tp.toxics("seats_pg"))

    await eventually(applied, within=20)
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == code, err.decode()
    assert "latency on seats_pg: removed" in out.decode()
    assert f"harness: interrupted by {sig.name}" in err.decode()
    await assert_healed(stack.state)


async def test_chaos_stays_until_chaos_heal(stack: StackHandle) -> None:
    code, out, err = await run(*harness(stack.state.state_dir, "chaos", "latency", "seats_pg",
                                        "--param", "latency_ms=50"))
    assert code == 0, err
    assert "stays until `harness chaos heal`" in out
    async with Toxiproxy(stack.toxiproxy_url) as tp:
        assert [t.type for t in await tp.toxics("seats_pg")] == ["latency"]
    code, out, err = await run(*harness(stack.state.state_dir, "chaos", "heal"))
    assert code == 0, err
    assert "removed toxics: seats_pg/" in out
    await assert_healed(stack.state)


@pytest.mark.parametrize(("script", "proxy"), [
    ("partition_with_toxiproxy_python.py", "redis"),
    ("partition_redis.py", "redis"),
    ("partition_payments.py", "payments_api"),
])
async def test_partition_scripts_disable_the_proxy_during_and_enable_it_after(
    stack: StackHandle, script: str, proxy: str
) -> None:
    path = REPO_ROOT / "chaos" / "scripts" / script
    args = ([proxy, "--toxiproxy", stack.toxiproxy_url] if "toxiproxy_python" in script
            else ["--state-dir", str(stack.state.state_dir)])
    task = asyncio.create_task(run(sys.executable, str(path), *args, "--for", "2"))

    async def disabled() -> bool:
        return not await proxy_enabled(stack, proxy)

    await eventually(disabled, within=20)
    code, out, err = await task
    assert code == 0, err
    assert f"{proxy} healed" in out
    assert await proxy_enabled(stack, proxy)
    await assert_healed(stack.state)


async def test_flap_script_takes_the_link_down_and_up_and_leaves_it_up(
    stack: StackHandle,
) -> None:
    path = REPO_ROOT / "chaos" / "scripts" / "flap_link.py"
    code, out, err = await run(sys.executable, str(path), "payments_api", "--down", "0.3",
                               "--up", "0.3", "--times", "3", "--state-dir",
                               str(stack.state.state_dir))
    assert code == 0, err
    assert out.count("payments_api healed") == 3
    assert await proxy_enabled(stack, "payments_api")
