"""harness.interrupt in a child process: SIGTERM takes Ctrl-C's path (the main task's cleanup
runs, then exit 128 + the signal), a later signal never interrupts that cleanup, a signal the
process was started with ignored stays ignored, and a redirect lets a command end its own way.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from tests.signals import default_sigint

CHILD = '''
import asyncio
import sys
import time

from harness import interrupt


async def main(cleanup_s: float) -> None:
    try:
        print("ready", flush=True)
        await asyncio.sleep(60)
    finally:
        print("cleaning", flush=True)
        await asyncio.sleep(cleanup_s)
        print("cleaned", flush=True)


async def redirected() -> None:
    ended = asyncio.Event()
    with interrupt.redirected(ended.set):
        print("ready", flush=True)
        await asyncio.wait_for(ended.wait(), 60)
    print("ended its own way", flush=True)


try:
    if sys.argv[1] == "plain":
        interrupt.install()
        print("ready", flush=True)
        time.sleep(60)
    elif sys.argv[1] == "redirect":
        interrupt.run(redirected())
    else:
        interrupt.run(main(float(sys.argv[2])))
except interrupt.Interrupted as exc:
    print(f"interrupted by {exc.name}", flush=True)
    sys.exit(exc.exit_code)
'''


class Child:
    """The child script, started and read line by line (bounded)."""

    def __init__(self, tmp_path: Path, *args: str, ignore_sigint: bool = False) -> None:
        script = tmp_path / "child.py"
        script.write_text(CHILD)

        def ignore() -> None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args], cwd=REPO_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            preexec_fn=ignore if ignore_sigint else default_sigint)
        self.lines: list[str] = []

    def until(self, line: str) -> None:
        assert self.proc.stdout is not None
        while line not in self.lines:
            got = self.proc.stdout.readline()
            assert got, f"the child ended before {line!r}: {self.lines}"
            self.lines.append(got.strip())

    def end(self, timeout_s: float = 20.0) -> tuple[int, list[str], str]:
        out, err = self.proc.communicate(timeout=timeout_s)
        return self.proc.returncode, [*self.lines, *out.split()], err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_cancels_the_main_task_whose_cleanup_runs_then_exits_128_plus_it(
        tmp_path: Path, sig: signal.Signals, code: int) -> None:
    child = Child(tmp_path, "run", "0.2")
    child.until("ready")
    child.proc.send_signal(sig)
    rc, lines, err = child.end()
    assert (rc, lines) == (code, ["ready", "cleaning", "cleaned", "interrupted", "by", sig.name])
    assert f"harness: {sig.name}: stopping: the load stops and every fault is healed" in err
    assert "Traceback" not in err


def test_later_signals_do_not_interrupt_the_cleanup(tmp_path: Path) -> None:
    child = Child(tmp_path, "run", "1.5")
    child.until("ready")
    child.proc.send_signal(signal.SIGTERM)
    child.until("cleaning")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
        child.proc.send_signal(sig)
        time.sleep(0.1)
    rc, lines, err = child.end()
    assert (rc, lines[-4:]) == (143, ["cleaned", "interrupted", "by", "SIGTERM"])
    assert err.count("still stopping") == 3, err
    assert "Traceback" not in err


def test_outside_the_event_loop_a_signal_raises_at_once(tmp_path: Path) -> None:
    child = Child(tmp_path, "plain")
    child.until("ready")
    started = time.monotonic()
    child.proc.send_signal(signal.SIGTERM)
    rc, lines, err = child.end()
    assert (rc, lines[-3:]) == (143, ["interrupted", "by", "SIGTERM"])
    assert time.monotonic() - started < 10
    assert "Traceback" not in err


def test_sigint_ignored_at_start_stays_ignored(tmp_path: Path) -> None:
    """As a shell starts a background job: Ctrl-C at the terminal is not for it."""
    child = Child(tmp_path, "run", "0", ignore_sigint=True)
    child.until("ready")
    child.proc.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        child.proc.wait(timeout=1.0)
    child.proc.send_signal(signal.SIGTERM)
    rc, lines, _ = child.end()
    assert (rc, lines[-1]) == (143, "SIGTERM")


def test_a_redirect_lets_the_command_end_its_own_way(tmp_path: Path) -> None:
    child = Child(tmp_path, "redirect")
    child.until("ready")
    child.proc.send_signal(signal.SIGTERM)
    rc, lines, err = child.end()
    assert (rc, lines) == (0, ["ready", "ended", "its", "own", "way"]), err


def test_every_entry_point_runs_its_event_loop_through_interrupt_run() -> None:
    """A bare ``asyncio.run`` would leave its command to die at SIGTERM with its faults on."""
    bare = [f"{path.relative_to(REPO_ROOT)}:{n}"
            for package in ("harness", "chaos")
            for path in sorted((REPO_ROOT / package).rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if "asyncio.run(" in line and path.name != "interrupt.py"]
    assert bare == []
