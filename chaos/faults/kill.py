"""``kill``: SIGKILL one app process; supervisord restarts it, and ``stop`` waits until it has.

``start`` returns once the process is dead (gone or a zombie); ``stop`` returns only once
supervisord reports it RUNNING again under a new pid (within ``restart_within_s``), so the stack
has recovered when the fault ends; otherwise FaultError.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos.context import ChaosContext
from chaos.faults.process import ProcessFault
from chaos.params import FaultParams, param
from chaos.processes import ProcessTargetError, resolve, send, wait_dead, wait_restarted


@dataclass(frozen=True, slots=True)
class KillParams(FaultParams):
    restart_within_s: float = param(
        30.0, min=1.0, max=600.0, doc="stop fails unless the process runs again within this"
    )


#: how often a process fault looks its target up again when it died just before the signal
GONE_RETRIES = 3
#: and how long it waits before (supervisord notices a death within a moment)
GONE_WAIT_S = 0.5


class Kill(ProcessFault[KillParams]):
    """The process dies without cleanup (SIGKILL); the others keep serving."""

    kind = "kill"
    doc = "SIGKILL one process; stop waits until supervisord has restarted it"
    Params = KillParams

    def __init__(
        self, target: str, params: Mapping[str, Any] | FaultParams | None = None
    ) -> None:
        super().__init__(target, params)
        self.new_pid: int | None = None

    async def _apply(self, ctx: ChaosContext) -> None:
        for attempt in range(1, GONE_RETRIES + 1):
            proc = await resolve(ctx, self.target)
            self.pid, self.process = proc.pid, proc.name
            if send(proc.pid, signal.SIGKILL, ctx):
                break
            # died between the look-up and the signal (another fault crashed it): once
            # restarted, it is the target again
            if attempt == GONE_RETRIES:
                raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) is gone")
            await asyncio.sleep(GONE_WAIT_S)
        if not await wait_dead(proc.pid):
            raise ProcessTargetError(f"{proc.name} (pid {proc.pid}) survived SIGKILL")

    async def _remove(self, ctx: ChaosContext) -> None:
        if self.pid is None or self.process is None:
            return
        proc = await wait_restarted(
            ctx, self.process, self.pid, within=self.params.restart_within_s
        )
        self.new_pid = proc.pid
        self.pid = None

    def observed(self) -> dict[str, Any]:
        return {"process": self.process, "new_pid": self.new_pid}
