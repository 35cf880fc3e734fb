"""Render the supervisord configuration that runs (and restarts) every stack component.

supervisord gives us start ordering, automatic restart of killed app processes (the
`service-kill` fault relies on it), one log per component and a pid for each process that the
chaos layer can pause or kill. Every process carries ``HARNESS_STACK_DIR`` in its environment,
which (with the pids the stack records, for the servers that overwrite their environment) is how
`harness down` finds what a crashed run left behind.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from harness.paths import REPO_ROOT
from harness.stack.binaries import Binaries
from harness.stack.state import HOST, StackState

STACK_ENV = "HARNESS_STACK_DIR"

#: Programs in start order; the apps start only once the infrastructure answers.
INFRA_PROGRAMS = ("postgres", "redis", "toxiproxy")
APP_PROGRAMS = ("provider", "target")


def _env(values: dict[str, str]) -> str:
    def quote(value: str) -> str:
        return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'

    return ",".join(f"{key}={quote(val)}" for key, val in values.items())


def _cmd(*parts: str | Path) -> str:
    return " ".join(shlex.quote(str(p)) for p in parts).replace("%", "%%")


def service_env(state: StackState) -> dict[str, str]:
    """The environment of the target service processes (the launch contract)."""
    settings = state.services
    env = {
        "TARGET_HOST": HOST,
        "TARGET_PORT": str(state.ports["target"]),
        "SEATS_DSN": state.dsn("seats", proxied=True),
        "PAYMENTS_DSN": state.dsn("payments", proxied=True),
        "REDIS_URL": state.redis_url(proxied=True),
        "PROVIDER_URL": state.url("payments_api"),
        "HARNESS_BUG": settings.bug or "",
        "HARNESS_FAILPOINTS": ",".join(settings.failpoints),
        "HARNESS_ADMIN_TOKEN": state.admin_token,
    }
    env.update(settings.extra_env)
    return env


def provider_env(state: StackState) -> dict[str, str]:
    settings = state.services
    return {
        "PROVIDER_HOST": HOST,
        "PROVIDER_PORT": str(state.ports["provider"]),
        "PAYMENTS_DSN": state.dsn("payments", proxied=True),
        "PROVIDER_FAILURE_RATE": str(settings.provider_failure_rate),
        "PROVIDER_LATENCY_MS": str(settings.provider_latency_ms),
        "HARNESS_ADMIN_TOKEN": state.admin_token,
    }


def render(state: StackState, binaries: Binaries, *, pg_user: str | None) -> str:
    """The whole supervisord.conf for ``state``."""
    logs = state.logs_dir
    ports = state.ports
    python = sys.executable
    lines = [
        "[unix_http_server]",
        f"file={state.supervisor_socket}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={logs / 'supervisord.log'}",
        f"pidfile={state.supervisor_pidfile}",
        f"directory={REPO_ROOT}",
        "logfile_maxbytes=10MB",
        "loglevel=info",
        "nodaemon=false",
        "minfds=4096",
        f"environment={_env({STACK_ENV: str(state.state_dir), 'PATH': state.path_env})}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{state.supervisor_socket}",
        "",
    ]

    def program(name: str, command: str, *, priority: int, autostart: bool,
                extra: list[str] | None = None) -> None:
        lines.extend([
            f"[program:{name}]",
            f"command={command}",
            f"priority={priority}",
            f"autostart={'true' if autostart else 'false'}",
            "autorestart=true",
            "startsecs=1",
            "startretries=5",
            "stopwaitsecs=10",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=1",
            *(extra or []),
            "",
        ])

    pg_cmd = _cmd(
        binaries.postgres, "-D", state.pg_data,
        "-c", f"listen_addresses={HOST}", "-c", f"port={ports['postgres']}",
        "-c", "unix_socket_directories=", "-c", "max_prepared_transactions=100",
        "-c", "max_connections=300", "-c", "fsync=off", "-c", "full_page_writes=off",
        "-c", "shared_buffers=128MB", "-c", "log_min_messages=warning",
    )
    pg_extra = [f"stdout_logfile={logs / 'postgres.log'}", "stopsignal=INT"]
    if pg_user:
        pg_extra.append(f"user={pg_user}")
    program("postgres", pg_cmd, priority=10, autostart=True, extra=pg_extra)

    redis_cmd = _cmd(
        binaries.redis_server, "--bind", HOST, "--port", str(ports["redis"]),
        "--save", "", "--appendonly", "no", "--protected-mode", "yes",
    )
    program("redis", redis_cmd, priority=10, autostart=True,
            extra=[f"stdout_logfile={logs / 'redis.log'}"])

    tp_cmd = _cmd(binaries.toxiproxy_server, "-host", HOST, "-port", str(ports["toxiproxy"]))
    program("toxiproxy", tp_cmd, priority=10, autostart=True,
            extra=[f"stdout_logfile={logs / 'toxiproxy.log'}"])

    program(
        "provider", _cmd(python, "-m", "target_service.provider"), priority=20, autostart=False,
        extra=[f"stdout_logfile={logs / 'provider.log'}",
               f"environment={_env(provider_env(state))}"],
    )
    target_env = _env({**service_env(state), "TARGET_INSTANCE": "%(process_num)d"})
    # _env escaped the % of the instance number; undo that one on purpose.
    target_env = target_env.replace("%%(process_num)d", "%(process_num)d")
    program(
        "target", _cmd(python, "-m", "target_service"), priority=30, autostart=False,
        extra=[
            f"numprocs={state.services.target_processes}",
            "process_name=%(program_name)s-%(process_num)d",
            f"stdout_logfile={logs / 'target-%(process_num)d.log'}",
            f"environment={target_env}",
        ],
    )
    return "\n".join(lines)
