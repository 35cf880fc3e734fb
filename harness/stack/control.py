"""Talk to the stack's supervisord over its unix socket (XML-RPC), synchronously."""

from __future__ import annotations

import contextlib
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from harness.errors import StackError


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """One supervised process: ``group:name``, its state and pid (0 when not running)."""

    group: str
    name: str
    state: str
    pid: int

    @property
    def fullname(self) -> str:
        return f"{self.group}:{self.name}"


class Supervisor:
    """A supervisord reachable at a unix socket."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path

    def _call(self, method: str, *args: Any) -> Any:
        transport = SupervisorTransport(None, None, serverurl=f"unix://{self.socket_path}")
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        try:
            return getattr(proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise StackError(f"supervisord refused {method}{args}: {exc.faultString}") from exc
        except OSError as exc:
            raise StackError(
                f"supervisord at {self.socket_path} is not answering ({method}): {exc}"
            ) from exc
        finally:
            transport.close()

    def alive(self) -> bool:
        if not self.socket_path.exists():
            return False
        with contextlib.suppress(StackError):
            return cast(str, self._call("getState")["statename"]) == "RUNNING"
        return False

    def processes(self) -> list[ProcessInfo]:
        return [
            ProcessInfo(str(p["group"]), str(p["name"]), str(p["statename"]), int(p["pid"]))
            for p in self._call("getAllProcessInfo")
        ]

    def pids(self, group: str) -> list[int]:
        """Pids of the running processes of ``group`` (e.g. ``target``), in name order."""
        procs = sorted((p for p in self.processes() if p.group == group), key=lambda p: p.name)
        return [p.pid for p in procs if p.pid]

    def start_group(self, group: str) -> None:
        self._call("startProcessGroup", group, True)

    def stop_group(self, group: str) -> None:
        self._call("stopProcessGroup", group, True)

    def reload_config(self) -> list[str]:
        """Re-read supervisord.conf and apply changed program groups (restarting them); the
        groups added or changed (an added group with autostart runs now)."""
        added, changed, removed = self._call("reloadConfig")[0]
        for group in removed + changed:
            with contextlib.suppress(StackError):
                self._call("stopProcessGroup", group, True)
            self._call("removeProcessGroup", group)
        for group in changed + added:
            self._call("addProcessGroup", group)
        return [str(g) for g in changed + added]

    def shutdown(self) -> None:
        self._call("shutdown")
