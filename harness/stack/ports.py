"""Choose the stack's port block without collisions, or say which port is taken by whom."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from pathlib import Path

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


#: One file per automatically chosen block, naming the state folder that owns it. A stopped stack
#: keeps its block (its ports are free, but its next `up` reuses them), so free ports alone are
#: not enough to tell that a block is unowned.
CLAIMS_DIR = Path(tempfile.gettempdir()) / "harness-port-claims"


def _owner_of(base: int) -> Path | None:
    try:
        return Path((CLAIMS_DIR / str(base)).read_text().strip())
    except OSError:
        return None


def claim(base: int, owner: Path) -> bool:
    """Atomically claim the block at ``base`` for ``owner``; False when another live owner has it.

    A claim whose state folder is gone (no stack.json) is stale and is taken over.
    """
    CLAIMS_DIR.mkdir(mode=0o1777, exist_ok=True)
    path = CLAIMS_DIR / str(base)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            claimant = _owner_of(base)
            if claimant == owner:
                return True
            if claimant is not None and (claimant / "stack.json").exists():
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its state folder was removed
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(owner))
        return True
    return False


def find_free_block(
    start: int = AUTO_FIRST, stop: int = AUTO_LAST, *, owner: Path | None = None
) -> dict[str, int]:
    """The first block (stepping by PORT_BLOCK) whose every port is free; with ``owner`` (a state
    folder) also atomically claimed for it, skipping blocks that other state folders own."""
    assert max(PORT_OFFSETS.values()) < PORT_BLOCK
    for base in range(start, stop, PORT_BLOCK):
        if owner is not None:
            claimant = _owner_of(base)
            if claimant not in (None, owner) and (claimant / "stack.json").exists():
                continue
        if not all(port_is_free(p) for p in ports_for(base).values()):
            continue
        if owner is None or claim(base, owner):
            return ports_for(base)
    raise StackError(f"no free block of {PORT_BLOCK} ports between {start} and {stop}")
