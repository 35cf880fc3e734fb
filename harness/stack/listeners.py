"""Who listens on a port: the process behind a listening TCP socket, read from ``/proc``.

A stack trusts a port only when the listener is a process it started, so this answers "which
pid holds the socket" rather than "does something answer". It is cheap when the answer is one
of the pids we expect (only their fds are read) and scans every process only otherwise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

_PROC = Path("/proc")
_LISTEN = "0A"
#: Local addresses (as /proc/net/tcp{,6} spells them) that a connection to 127.0.0.1 reaches.
_REACHABLE = frozenset({
    "0100007F",  # 127.0.0.1
    "00000000",  # 0.0.0.0
    "00000000000000000000000000000000",  # ::
    "0000000000000000FFFF00000100007F",  # ::ffff:127.0.0.1
})


@dataclass(frozen=True, slots=True)
class Listener:
    """One process listening on a port (``pid`` None: its socket is in no process we can see)."""

    port: int
    pid: int | None

    @property
    def name(self) -> str:
        if self.pid is None:
            return "unknown"
        with contextlib.suppress(psutil.Error):
            return psutil.Process(self.pid).name()
        return "gone"

    def describe(self) -> str:
        if self.pid is None:
            return "a process this user cannot see"
        return f"pid {self.pid} ({self.name})"


def _listening_inodes(port: int) -> set[int]:
    """Inodes of the sockets listening on ``port`` at an address 127.0.0.1 reaches."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
            for line in lines:
                fields = line.split()
                address, _, hex_port = fields[1].partition(":")
                if fields[3] == _LISTEN and int(hex_port, 16) == port and address in _REACHABLE:
                    inodes.add(int(fields[9]))
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    found = set()
    fd_dir = _PROC / str(pid) / "fd"
    with contextlib.suppress(OSError):
        for fd in os.listdir(fd_dir):
            with contextlib.suppress(OSError):
                link = os.readlink(fd_dir / fd)
                if link.startswith("socket:["):
                    found.add(int(link[8:-1]))
    return found


def listeners(port: int, expected: Iterable[int] = ()) -> list[Listener]:
    """Every process listening on ``127.0.0.1:port``; ``expected`` pids are looked at first."""
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    owners: dict[int, int] = {}
    expected = list(expected)
    others = (int(p) for p in os.listdir(_PROC) if p.isdigit() and int(p) not in expected)
    for pid in (*expected, *others):
        for inode in _socket_inodes(pid) & inodes:
            owners.setdefault(inode, pid)
        if len(owners) == len(inodes):
            break
    pids: set[int | None] = set(owners.values())
    if (inodes - owners.keys()) & _listening_inodes(port):  # not just closed while we looked
        pids.add(None)
    return [Listener(port, pid) for pid in sorted(pids, key=lambda p: p or 0)]


def describe_owner(port: int) -> str:
    """Who listens on ``port``, for messages: ``pid 123 (redis-server)``."""
    found = listeners(port)
    return ", ".join(f.describe() for f in found) if found else "another process"
