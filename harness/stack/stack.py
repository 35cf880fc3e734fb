"""The local stack: start, heal, restart and stop every component on 127.0.0.1.

Guarantees: `up` twice is harmless (the second call heals and verifies), `down` twice is harmless,
`down` also stops what a crashed run left behind, and a failed `up` leaves nothing running. A
stack holds its port block from `up` to `down` (``ports``), is ready only when its own processes
listen on its ports (``readiness``), and signals only its own processes (``cleanup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from harness.errors import StackError
from harness.paths import state_dir as resolve_state_dir
from harness.stack import postgres, readiness
from harness.stack.binaries import Binaries, find_all
from harness.stack.cleanup import kill_stack_processes, record_processes, stack_processes
from harness.stack.control import Supervisor
from harness.stack.heal import HealReport, heal_all, proxy_config
from harness.stack.ports import claim, claim_explicit, find_free_block, port_is_free, release
from harness.stack.state import ServiceSettings, StackState
from harness.stack.supervisor_conf import STACK_ENV, render
from harness.stack.toxiproxy import Toxiproxy
from target_service import introspection

#: receives one line per step of bringing the stack up or down (a CLI prints it)
StepLog = Callable[[str], None]

INFRA_TIMEOUT = 60.0
APP_TIMEOUT = 60.0
#: the program groups of the apps, started only once the infrastructure and proxies are up
APP_GROUPS = ("provider", "target")


def _quiet(_: str) -> None:
    return None


class Stack:
    """One local stack, identified by its state folder."""

    def __init__(self, state_dir: Path | str | None = None, *, progress: StepLog = _quiet):
        self.state_dir = resolve_state_dir(state_dir)
        self.progress = progress

    # --- queries -------------------------------------------------------------------------
    def state(self) -> StackState | None:
        return StackState.load(self.state_dir)

    def require_state(self) -> StackState:
        state = self.state()
        if state is None or not Supervisor(state.supervisor_socket).alive():
            raise StackError(f"the stack at {self.state_dir} is not running: run `harness up`")
        return state

    def running(self) -> bool:
        state = self.state()
        return state is not None and Supervisor(state.supervisor_socket).alive()

    def supervisor(self) -> Supervisor:
        return Supervisor(self.require_state().supervisor_socket)

    def status(self) -> dict[str, Any]:
        """What runs, with URLs and DSNs (the `harness status --json` document)."""
        state = self.state()
        if state is None:
            return {"running": False, "state_dir": str(self.state_dir)}
        supervisor = Supervisor(state.supervisor_socket)
        alive = supervisor.alive()
        info: dict[str, Any] = {"running": alive, **state.describe()}
        info["processes"] = (
            [
                {"name": p.fullname, "state": p.state, "pid": p.pid}
                for p in supervisor.processes()
            ]
            if alive
            else []
        )
        return info

    # --- up ------------------------------------------------------------------------------
    async def up(
        self, *, base_port: int | None = None, services: ServiceSettings | None = None
    ) -> StackState:
        """Start the stack (or heal and verify the running one); returns its state."""
        started = time.monotonic()
        binaries = find_all()
        previous = self.state()
        if previous is not None and Supervisor(previous.supervisor_socket).alive():
            if base_port is not None and previous.ports["postgres"] != base_port:
                raise StackError(
                    f"the stack at {self.state_dir} already runs on base port "
                    f"{previous.ports['postgres']}; `harness down` first to move it"
                )
            self.progress("stack already running: healing and verifying")
            claim(previous.ports["postgres"], self.state_dir)  # one started before claims
            if services is not None and services != previous.services:
                # heal first: the restarted apps are ready only once they reach their stores
                # through Toxiproxy, which a wedged Toxiproxy (restarted by the heal) would refuse
                await heal_all(previous)
                await self.restart_services(services)
            await heal_all(previous)
            await self._wait_apps(previous)
            await readiness.check_ports(
                Supervisor(previous.supervisor_socket), previous.ports, require=True
            )
            return previous

        stale = kill_stack_processes(self.state_dir)
        if stale:
            self.progress(f"stopped {stale} processes left behind by an earlier run")
        self.state_dir.mkdir(parents=True, exist_ok=True)  # a claim's owner must exist
        state = self._new_state(previous, base_port, services)
        try:
            await self._start(state, binaries)
        except BaseException:
            self.progress("start-up failed: stopping what was started")
            await self.down()
            raise
        self.progress(f"stack up in {time.monotonic() - started:.1f}s")
        return state

    def _new_state(
        self, previous: StackState | None, base_port: int | None,
        services: ServiceSettings | None,
    ) -> StackState:
        if base_port is not None:
            ports = claim_explicit(base_port, self.state_dir)
        elif (
            previous is not None
            and all(port_is_free(p) for p in previous.ports.values())
            and claim(previous.ports["postgres"], self.state_dir)
        ):
            ports = dict(previous.ports)
        else:
            ports = find_free_block(owner=self.state_dir)
        user = postgres.os_user()
        return StackState(
            state_dir=self.state_dir,
            ports=ports,
            pg_data=postgres.data_dir(self.state_dir, user),
            admin_token=previous.admin_token if previous else secrets.token_hex(16),
            services=services or (previous.services if previous else ServiceSettings()),
        )

    async def _start(self, state: StackState, binaries: Binaries) -> None:
        user = postgres.os_user()
        state.logs_dir.mkdir(parents=True, exist_ok=True)
        first = not (state.pg_data / "PG_VERSION").exists()
        if first:
            self.progress(f"creating the PostgreSQL cluster in {state.pg_data}")
        postgres.initdb(binaries.initdb, state.pg_data, user, state.logs_dir / "initdb.log")
        with contextlib.suppress(FileNotFoundError):
            (state.pg_data / "postmaster.pid").unlink()  # every stack process was stopped above
        state.supervisor_conf.write_text(render(state, binaries, pg_user=user))
        state.save()
        self._start_supervisord(state, binaries)
        supervisor = Supervisor(state.supervisor_socket)

        await self._wait_infra(state, supervisor)
        await readiness.check_ports(supervisor, state.ports, require=False)  # before populate
        await postgres.create_databases(state.dsn("postgres"))
        await self.ensure_proxies(state)
        await _disarm_failpoints(state)  # the table outlives a stack; an old run may have armed
        self.progress("infrastructure ready: starting the payment provider and target service")
        await asyncio.to_thread(supervisor.start_group, "provider")
        await asyncio.to_thread(supervisor.start_group, "target")
        await self._wait_apps(state)
        await readiness.check_ports(supervisor, state.ports, require=True)

    def _start_supervisord(self, state: StackState, binaries: Binaries) -> None:
        with contextlib.suppress(FileNotFoundError):
            state.supervisor_socket.unlink()
        env = {**os.environ, STACK_ENV: str(state.state_dir)}
        result = subprocess.run(
            [str(binaries.supervisord), "-c", str(state.supervisor_conf)],
            env=env, capture_output=True, text=True, check=False, cwd=state.state_dir,
        )
        if result.returncode != 0:
            raise StackError(
                f"supervisord did not start (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}; see {state.logs_dir}"
            )
        deadline = time.monotonic() + 15
        supervisor = Supervisor(state.supervisor_socket)
        while not supervisor.alive():
            if time.monotonic() > deadline:
                raise StackError(
                    f"supervisord did not answer on {state.supervisor_socket}; "
                    f"see {state.logs_dir / 'supervisord.log'}"
                )
            time.sleep(0.05)

    async def _wait_infra(self, state: StackState, supervisor: Supervisor) -> None:
        """Postgres, Redis and Toxiproxy answering, each from the process this stack started."""
        await asyncio.gather(
            self._wait("postgres", readiness.postgres_probe(state.dsn("postgres")), state,
                       supervisor),
            self._wait("redis", readiness.redis_probe(state.redis_url()), state, supervisor),
            self._wait(
                "toxiproxy",
                readiness.http_probe(state.toxiproxy_url + "/version"),
                state,
                supervisor,
            ),
        )
        await _record(state, supervisor)

    async def _wait(
        self, name: str, probe: readiness.Probe, state: StackState, supervisor: Supervisor
    ) -> None:
        started = time.monotonic()
        await readiness.wait_until(
            name, readiness.owned_probe(probe, supervisor, state.ports[name], name),
            within=INFRA_TIMEOUT, log=state.logs_dir / f"{name}.log",
            alive=lambda: _group_alive(supervisor, name),
        )
        self.progress(f"{name} ready ({time.monotonic() - started:.1f}s)")

    async def _wait_apps(self, state: StackState) -> None:
        """Every app process RUNNING and both apps answering /health through their proxies,
        each app listening from the processes this stack started."""
        supervisor = Supervisor(state.supervisor_socket)
        for name, url in (
            ("provider", state.url("payments_api") + "/health"),
            ("target", state.target_url + "/health"),
        ):
            started = time.monotonic()
            log = state.logs_dir / ("target-0.log" if name == "target" else f"{name}.log")
            probe = readiness.owned_probe(readiness.http_probe(url), supervisor,
                                          state.ports[name], name)
            await readiness.wait_until(
                name, probe, within=APP_TIMEOUT, log=log,
                alive=lambda n=name: _group_alive(supervisor, n),  # type: ignore[misc]
            )
            await readiness.wait_until(
                f"every {name} process",
                readiness.group_running_probe(supervisor, name),
                within=APP_TIMEOUT, log=log,
            )
            self.progress(f"{name} ready ({time.monotonic() - started:.1f}s)")
        await _record(state, supervisor)

    # --- changes while running -----------------------------------------------------------
    async def ensure_proxies(self, state: StackState) -> None:
        """Create (or repair) every contract proxy."""
        async with Toxiproxy(state.toxiproxy_url) as toxiproxy:
            await toxiproxy.populate(proxy_config(state))

    async def heal(self, state: StackState | None = None) -> HealReport:
        """Every fault healed: :func:`harness.stack.heal.heal_all` (HealError if not)."""
        return await heal_all(state or self.require_state())

    async def restart_services(self, services: ServiceSettings) -> StackState:
        """Restart the provider and target service with new settings (bug, failpoints, N)."""
        state = self.require_state()
        state = dataclasses.replace(state, services=services)
        binaries = find_all()
        state.supervisor_conf.write_text(render(state, binaries, pg_user=postgres.os_user()))
        state.save()
        supervisor = Supervisor(state.supervisor_socket)
        # the app groups stop together and start together (each call waits for its own
        # processes): one after the other, a restart cost two stops and two starts in a row
        await _each_app_group(supervisor.stop_group)
        restarted = set(await asyncio.to_thread(supervisor.reload_config)) - set(APP_GROUPS)
        if restarted:  # the infrastructure's config changed too (new binaries, say): the
            # apps start below, once it answers and the (restarted) Toxiproxy has its proxies
            self.progress(f"restarted with their new config: {', '.join(sorted(restarted))}")
            await self._wait_infra(state, supervisor)
            await self.ensure_proxies(state)
        await _each_app_group(supervisor.start_group)
        await self._wait_apps(state)
        return state

    # --- down ----------------------------------------------------------------------------
    async def down(self) -> int:
        """Stop everything of this stack, including leftovers of a crashed run; returns a count."""
        state = self.state()
        stopped = 0
        if state is not None:
            supervisor = Supervisor(state.supervisor_socket)
            if supervisor.alive():
                with contextlib.suppress(StackError, OSError):
                    await _record(state, supervisor)  # whatever supervisord restarted since
                procs = stack_processes(self.state_dir)
                stopped = len(procs)
                for proc in procs:
                    with contextlib.suppress(psutil.Error):
                        proc.send_signal(signal.SIGCONT)
                await _disarm_failpoints(state)
                with contextlib.suppress(StackError):
                    supervisor.shutdown()
                await asyncio.to_thread(psutil.wait_procs, procs, 30.0)
        stopped = max(stopped, await asyncio.to_thread(kill_stack_processes, self.state_dir))
        if state is not None:
            for leftover in (state.supervisor_socket, state.supervisor_pidfile,
                             state.pg_data / "postmaster.pid"):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        release(self.state_dir)
        return stopped


async def _each_app_group(action: Callable[[str], None]) -> None:
    """``action`` (a blocking supervisord call) on every app group at once."""
    await asyncio.gather(*(asyncio.to_thread(action, group) for group in APP_GROUPS))


async def _record(state: StackState, supervisor: Supervisor) -> None:
    """Record the pids supervisord runs (with their start times) as this stack's: redis-server
    and postgres overwrite the environment mark, so cleanup finds them by this record."""
    pids = [p.pid for p in await asyncio.to_thread(supervisor.processes) if p.pid]
    await asyncio.to_thread(record_processes, state.state_dir, pids)


async def _disarm_failpoints(state: StackState) -> None:
    """Best effort: clear the service's shared failpoint table (missing before migrations)."""
    with contextlib.suppress(Exception):
        await introspection.disarm_all_failpoints(state.stores())


def _group_alive(supervisor: Supervisor, group: str) -> bool:
    """False once supervisord has given up on ``group`` (FATAL); True while it may still come."""
    with contextlib.suppress(StackError):
        states = [p.state for p in supervisor.processes() if p.group == group]
        return not states or any(s != "FATAL" for s in states)
    return True
