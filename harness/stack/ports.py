"""Choose the stack's port block without collisions, or say which port is taken by whom."""

from __future__ import annotations

import contextlib
import socket

import psutil

from harness.errors import StackError
from harness.topology import PORT_BLOCK, PORT_OFFSETS, ports_for

HOST = "127.0.0.1"

#: Where the automatic search for a free block starts and ends.
AUTO_FIRST, AUTO_LAST = 20000, 40000


def port_is_free(port: int) -> bool:
    """True when nothing listens on ``127.0.0.1:port`` and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the servers themselves do: connections in TIME_WAIT must not count as "taken"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _owner(port: int) -> str:
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid:
                    with contextlib.suppress(psutil.Error):
                        proc = psutil.Process(conn.pid)
                        return f"pid {conn.pid} ({proc.name()})"
                return "another process"
    return "another process"


def check_block(base: int) -> dict[str, int]:
    """The ports of the block at ``base``; StackError naming the first one that is taken."""
    ports = ports_for(base)
    for key, port in ports.items():
        if not port_is_free(port):
            raise StackError(
                f"port {HOST}:{port} (for {key}) is already in use by {_owner(port)}: stop it, "
                "or pick another block with `harness up --base-port N` / HARNESS_BASE_PORT"
            )
    return ports


def find_free_block(start: int = AUTO_FIRST, stop: int = AUTO_LAST) -> dict[str, int]:
    """The first block (stepping by PORT_BLOCK) whose every port is free."""
    assert max(PORT_OFFSETS.values()) < PORT_BLOCK
    for base in range(start, stop, PORT_BLOCK):
        if all(port_is_free(p) for p in ports_for(base).values()):
            return ports_for(base)
    raise StackError(f"no free block of {PORT_BLOCK} ports between {start} and {stop}")
