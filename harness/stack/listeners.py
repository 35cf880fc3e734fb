"""Who listens on a port: the process behind a listening TCP socket, read from ``/proc``.

A stack trusts a port only when the listener is a process it started, so this answers "which
pid holds the socket" rather than "does something answer". It is cheap when the answer is one
of the pids we expect (only their fds are read) and scans every process only otherwise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterable
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


def _listening_inodes(ports: Collection[int]) -> dict[int, set[int]]:
    """Port -> inodes of the sockets listening on it at an address 127.0.0.1 reaches (the
    kernel writes every socket into these tables, so read them once for all ``ports``)."""
    found: dict[int, set[int]] = {port: set() for port in ports}
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
            for line in lines:
                fields = line.split()
                if fields[3] != _LISTEN:
                    continue
                address, _, hex_port = fields[1].partition(":")
                port = int(hex_port, 16)
                if port in found and address in _REACHABLE:
                    found[port].add(int(fields[9]))
    return found


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


def listeners_of(ports: Collection[int], expected: Iterable[int] = ()) -> dict[int, list[Listener]]:
    """Port -> every process listening on ``127.0.0.1:port``. The ``expected`` pids' sockets are
    looked at first; every other process only when a listener is not among them."""
    by_port = _listening_inodes(ports)
    inodes = set().union(*by_port.values())
    owners: dict[int, int] = {}
    if inodes:
        expected = list(expected)
        others = (int(p) for p in os.listdir(_PROC) if p.isdigit() and int(p) not in expected)
        for pid in (*expected, *others):
            for inode in _socket_inodes(pid) & inodes:
                owners.setdefault(inode, pid)
            if len(owners) == len(inodes):
                break
    unresolved = inodes - owners.keys()
    if unresolved:  # a socket closed while we looked has no owner to name
        unresolved &= set().union(*_listening_inodes(ports).values())
    found = {}
    for port, held in by_port.items():
        pids: set[int | None] = {owners[inode] for inode in held if inode in owners}
        if held & unresolved:
            pids.add(None)
        found[port] = [Listener(port, pid) for pid in sorted(pids, key=lambda p: p or 0)]
    return found


def listeners(port: int, expected: Iterable[int] = ()) -> list[Listener]:
    """Every process listening on ``127.0.0.1:port``; ``expected`` pids are looked at first."""
    return listeners_of([port], expected)[port]


def describe_owner(port: int) -> str:
    """Who listens on ``port``, for messages: ``pid 123 (redis-server)``."""
    found = listeners(port)
    return ", ".join(f.describe() for f in found) if found else "another process"
