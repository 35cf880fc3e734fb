"""The running stack's description, persisted in ``<state>/stack.json``.

It is what `harness status` prints, what the chaos layer targets and what `harness down` uses to
clean up after a crashed run; every URL and DSN is derived from the ports, never stored twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from target_service.introspection import Clocks, Stores, clocks

HOST = "127.0.0.1"
PG_USER = "harness"
STATE_FILE = "stack.json"


def default_path() -> str:
    """This process's PATH (what a newly started stack runs with)."""
    return os.environ.get("PATH", "/usr/bin:/bin")


def short_hash(path: Path) -> str:
    """A stable short name for a state folder (sockets and out-of-tree dirs use it)."""
    return hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]


@dataclass(slots=True)
class ServiceSettings:
    """How the app processes are started; changing them restarts the apps."""

    target_processes: int = 2
    bug: str | None = None
    failpoints: tuple[str, ...] = ()
    provider_failure_rate: float = 0.0
    provider_latency_ms: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class StackState:
    """Ports and folders of one local stack."""

    state_dir: Path
    ports: dict[str, int]
    pg_data: Path
    admin_token: str
    services: ServiceSettings = field(default_factory=ServiceSettings)
    #: the PATH every stack process runs with, taken when the stack starts: a later command
    #: from another shell (say, one with the venv activated) renders the same supervisord
    #: config, so restarting the apps never restarts Postgres, Redis or Toxiproxy
    path_env: str = field(default_factory=default_path)

    # --- derived -------------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def supervisor_conf(self) -> Path:
        return self.state_dir / "supervisord.conf"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.state_dir / "supervisord.pid"

    @property
    def supervisor_socket(self) -> Path:
        # Unix socket paths are limited to ~100 bytes; keep it short and per state folder.
        return Path(tempfile.gettempdir()) / f"harness-sv-{short_hash(self.state_dir)}.sock"

    def url(self, key: str) -> str:
        return f"http://{HOST}:{self.ports[key]}"

    def dsn(self, database: str, *, proxied: bool = False) -> str:
        port = self.ports[f"{database}_pg"] if proxied else self.ports["postgres"]
        return f"postgresql://{PG_USER}@{HOST}:{port}/{database}"

    def redis_url(self, *, proxied: bool = False) -> str:
        port = self.ports["redis_proxy"] if proxied else self.ports["redis"]
        return f"redis://{HOST}:{port}/0"

    @property
    def toxiproxy_url(self) -> str:
        return self.url("toxiproxy")

    def stores(self) -> Stores:
        """The service's stores as its introspection door takes them (direct links)."""
        return Stores(self.dsn("seats"), self.dsn("payments"), self.redis_url())

    def clocks(self) -> Clocks:
        """The running service's clocks (lock lease, failpoint poll, ...), from its settings."""
        return clocks(self.services.extra_env)

    @property
    def target_url(self) -> str:
        """The target service as load reaches it: through the ``target_api`` proxy."""
        return self.url("target_api")

    def describe(self) -> dict[str, Any]:
        """The `harness status --json` keys (docs/contract.md section 2.1), proxied forms too."""
        return {
            "toxiproxy": self.toxiproxy_url,
            "target": self.target_url,
            "target_direct": self.url("target"),
            "provider": self.url("payments_api"),
            "provider_direct": self.url("provider"),
            "seats_dsn": self.dsn("seats"),
            "payments_dsn": self.dsn("payments"),
            "seats_dsn_proxied": self.dsn("seats", proxied=True),
            "payments_dsn_proxied": self.dsn("payments", proxied=True),
            "redis_url": self.redis_url(),
            "redis_url_proxied": self.redis_url(proxied=True),
            "state_dir": str(self.state_dir),
            "logs_dir": str(self.logs_dir),
            "ports": dict(self.ports),
            "bug": self.services.bug,
            "target_processes": self.services.target_processes,
        }

    # --- persistence ---------------------------------------------------------------------
    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["pg_data"] = str(self.pg_data)
        data["services"]["failpoints"] = list(self.services.failpoints)
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, self.state_dir / STATE_FILE)

    @classmethod
    def load(cls, state_dir: Path) -> StackState | None:
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        services = data.get("services") or {}
        services["failpoints"] = tuple(services.get("failpoints") or ())
        return cls(
            state_dir=Path(data["state_dir"]),
            ports={str(k): int(v) for k, v in data["ports"].items()},
            pg_data=Path(data["pg_data"]),
            admin_token=str(data["admin_token"]),
            services=ServiceSettings(**services),
            path_env=str(data.get("path_env") or default_path()),
        )
