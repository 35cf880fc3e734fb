"""Locust in subprocesses: one headless process, or a master and N workers on 127.0.0.1.

gevent never shares a process with asyncio, so the run loop only builds command lines and
supervises processes here. Guarantees: every process started by :class:`LocustProcesses` is
stopped by :meth:`LocustProcesses.stop` (SIGTERM, then SIGKILL after a grace period), which
the run loop calls in ``finally``; :meth:`wait` is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import StackError
from harness.paths import REPO_ROOT

LOCUSTFILES = REPO_ROOT / "locustfiles"
BUYER = LOCUSTFILES / "buyer.py"
FLASH_SALE = LOCUSTFILES / "flash_sale.py"

#: Seconds Locust may take to start, connect its workers and write its final CSVs.
STARTUP_GRACE_S = 60.0
#: Seconds between SIGTERM and SIGKILL when stopping.
KILL_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class LocustPlan:
    """What to run: the load, where its files go, and how Locust is laid out."""

    host: str
    users: int
    spawn_rate: float
    duration_s: float
    csv_prefix: Path
    workload_file: Path
    log_dir: Path
    name: str
    shape: str = "ramp"
    workers: int = 0
    master_port: int = 0
    stop_timeout_s: float = 10.0

    def locustfiles(self) -> str:
        files = [BUYER] + ([FLASH_SALE] if self.shape == "flash-sale" else [])
        return ",".join(str(f) for f in files)

    def _common(self) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", self.locustfiles(),
                "--workload", str(self.workload_file), "--loglevel", "WARNING"]

    def main_command(self) -> list[str]:
        """The headless process (the master when there are workers)."""
        cmd = [
            *self._common(), "--headless", "--host", self.host,
            "--users", str(self.users), "--spawn-rate", f"{self.spawn_rate:g}",
            "--run-time", f"{max(1, round(self.duration_s))}s",
            "--stop-timeout", f"{self.stop_timeout_s:g}",
            "--csv", str(self.csv_prefix), "--csv-full-history",
            "--exit-code-on-error", "0", "--only-summary",
            "--logfile", str(self.log_dir / f"locust-{self.name}.log"),
        ]
        if self.workers:
            cmd += ["--master", "--expect-workers", str(self.workers),
                    "--expect-workers-max-wait", f"{STARTUP_GRACE_S:g}",
                    "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(self.master_port)]
        return cmd

    def worker_command(self, index: int) -> list[str]:
        return [
            *self._common(), "--worker",
            "--master-host", "127.0.0.1", "--master-port", str(self.master_port),
            "--logfile", str(self.log_dir / f"locust-{self.name}-worker{index}.log"),
        ]

    @property
    def deadline_s(self) -> float:
        """How long the whole Locust run may take before it is stopped by force."""
        return self.duration_s + self.stop_timeout_s + STARTUP_GRACE_S


#: prctl(2) option: the signal this process gets when the thread that forked it ends
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Run in a Locust child before it execs: on Linux it gets SIGTERM when the harness that
    started it dies, even by SIGKILL, so a killed run or UI session never leaves Locust behind
    (still serving its web port and load). Locust runs in its own session (Ctrl-C reaches the
    harness, which stops it in order), so a process-group kill would not reach it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LocustProcesses:
    """The Locust processes of one strategy's load."""

    def __init__(self, plan: LocustPlan) -> None:
        self.plan = plan
        self.main: asyncio.subprocess.Process | None = None
        self.workers: list[asyncio.subprocess.Process] = []
        self._outputs: list[Path] = []

    async def start(self) -> None:
        """Start the workers (if any) and the headless main process."""
        self.plan.log_dir.mkdir(parents=True, exist_ok=True)
        for index in range(self.plan.workers):
            self.workers.append(await self._spawn(self.plan.worker_command(index),
                                                  f"worker{index}"))
        self.main = await self._spawn(self.plan.main_command(), "main")

    async def _spawn(self, cmd: list[str], label: str) -> asyncio.subprocess.Process:
        out = self.plan.log_dir / f"locust-{self.plan.name}-{label}.out"
        self._outputs.append(out)
        with out.open("wb") as fh:
            return await asyncio.create_subprocess_exec(
                *cmd, stdout=fh, stderr=asyncio.subprocess.STDOUT, cwd=REPO_ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
                preexec_fn=die_with_parent,
            )

    @property
    def running(self) -> bool:
        return self.main is not None and self.main.returncode is None

    async def wait(self) -> int:
        """Wait (at most the plan's deadline) for the main process; its exit code.

        Raises StackError when Locust itself failed (a crash, not a failed request).
        """
        assert self.main is not None, "start() first"
        try:
            code = await asyncio.wait_for(self.main.wait(), self.plan.deadline_s)
        except TimeoutError:
            await self.stop()
            raise StackError(
                f"Locust did not finish within {self.plan.deadline_s:.0f}s; "
                f"see {self.plan.log_dir}") from None
        for worker in self.workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), KILL_GRACE_S)
        if code != 0:
            tail = self._tail(self._outputs[-1])
            raise StackError(f"Locust exited with code {code}; see {self._outputs[-1]}\n{tail}")
        return code

    async def stop(self) -> None:
        """Stop every process still running (SIGTERM, then SIGKILL); safe to call twice."""
        procs = [p for p in (self.main, *self.workers) if p is not None and p.returncode is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()

    @staticmethod
    def _tail(path: Path, lines: int = 15) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
