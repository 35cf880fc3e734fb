"""Port blocks: claimed atomically by one stack from its `up` until its `down`.

A claim is a file ``<CLAIMS_DIR>/<base>.json`` recording the owner (the stack's state folder),
the pid of the process that made the claim and that process's start time. Every read-decide-write
of claims happens under one flock, and a claim file appears whole (written aside, then renamed),
so two stacks started at once never get the same block. A claim covers all PORT_BLOCK ports from
its base, so an explicit base that is not a multiple of the block size collides with the blocks it
overlaps.

The CLI exits after `up`, so a claim's liveness is judged from its record. A claim is stale, and
may be taken over, only when its owner folder is gone, or when the process that made it is dead
(pid and start time no longer match) and the owner's ``stack.json`` does not name this block;
`down` releases it. A claim still being set up (its claimant alive) is never stale.

Stacks of older versions leave no claim, so the automatic choice also skips any block with a
busy port.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.errors import StackError
from harness.stack.cleanup import same_process
from harness.stack.listeners import describe_owner
from harness.stack.state import STATE_FILE
from harness.topology import PORT_BLOCK, PORT_OFFSETS, ports_for

HOST = "127.0.0.1"

#: Where the automatic search for a free block starts and ends: below the kernel's usual
#: ephemeral range (Linux: from 32768), from which every outgoing connection takes its local
#: port, so no client socket of the machine holds a port of a block the search just found free.
AUTO_FIRST, AUTO_LAST = 20000, 32760

#: One file per claimed block, shared by every stack on this machine.
CLAIMS_DIR = Path(tempfile.gettempdir()) / "harness-port-claims-v2"


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


def check_block(base: int) -> dict[str, int]:
    """The ports of the block at ``base``; StackError naming the first one that is taken."""
    ports = ports_for(base)
    for key, port in ports.items():
        if not port_is_free(port):
            raise StackError(
                f"port {HOST}:{port} (for {key}) is already in use by {describe_owner(port)}: "
                "stop it, or pick another block with `harness up --base-port N` / "
                "HARNESS_BASE_PORT"
            )
    return ports


@dataclass(frozen=True, slots=True)
class Claim:
    """Who claimed a block: the owner's state folder, and the claimant process (pid, start)."""

    base: int
    owner: Path
    pid: int
    started: float

    @property
    def path(self) -> Path:
        return CLAIMS_DIR / f"{self.base}.json"

    def stale(self) -> bool:
        """True when nobody holds this block any more (see the module docstring)."""
        if not self.owner.is_dir():
            return True
        if same_process(self.pid, self.started):
            return False
        return _saved_base(self.owner) != self.base


def _saved_base(owner: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return int(json.loads((owner / STATE_FILE).read_text())["ports"]["postgres"])
    return None


def _read(path: Path) -> Claim | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(path.read_text())
        return Claim(int(data["base"]), Path(data["owner"]), int(data["pid"]),
                     float(data["started"]))
    return None


def owner_of(base: int) -> Claim | None:
    """The claim on the block at ``base``, if any (stale or not)."""
    return _read(CLAIMS_DIR / f"{base}.json")


@contextlib.contextmanager
def _claims_locked() -> Iterator[None]:
    """Hold the machine-wide lock on every claim (released by the kernel if we die)."""
    CLAIMS_DIR.mkdir(mode=0o1777, exist_ok=True)
    with (CLAIMS_DIR / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(base: int, owner: Path) -> None:
    me = psutil.Process()
    record = {"base": base, "owner": str(owner), "pid": me.pid, "started": me.create_time()}
    target = CLAIMS_DIR / f"{base}.json"
    tmp = target.with_name(f".{base}.{me.pid}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, target)


def _claims() -> list[Claim]:
    claims = (_read(p) for p in CLAIMS_DIR.glob("*.json"))
    return [c for c in claims if c is not None]


def _holder(base: int, owner: Path | None, live: list[Claim]) -> Claim | None:
    """Among ``live`` claims, one of another owner on a block overlapping the one at ``base``
    (an explicit base need not be a multiple of the block size)."""
    for other in live:
        if abs(other.base - base) < PORT_BLOCK and other.owner != owner:
            return other
    return None


def _live(claims: list[Claim]) -> list[Claim]:
    return [c for c in claims if not c.stale()]


def _take(base: int, owner: Path, claims: list[Claim]) -> None:
    """Under the lock, once :func:`_holder` found none: claim ``base`` for ``owner``, dropping
    the owner's other claims (a stack holds one block) and stale overlapping ones."""
    _write(base, owner)
    for other in claims:
        if other.base != base and (other.owner == owner or abs(other.base - base) < PORT_BLOCK):
            other.path.unlink(missing_ok=True)


def claim(base: int, owner: Path) -> bool:
    """Atomically claim the block at ``base`` for ``owner``; False when another owner holds it."""
    with _claims_locked():
        claims = _claims()
        if _holder(base, owner, _live(claims)) is not None:
            return False
        _take(base, owner, claims)
        return True


def claim_explicit(base: int, owner: Path) -> dict[str, int]:
    """Claim the block an explicit ``--base-port`` names once its ports are free; StackError
    (exit 3) naming the owner when another stack holds it, or the process on a taken port."""
    with _claims_locked():
        claims = _claims()
        holder = _holder(base, owner, _live(claims))
        if holder is not None:
            raise StackError(
                f"ports {base}-{base + PORT_BLOCK - 1} overlap the block "
                f"{holder.base}-{holder.base + PORT_BLOCK - 1} claimed by the stack at "
                f"{holder.owner}: stop it (`harness --state-dir {holder.owner} down`), or pick "
                "another block with `harness up --base-port N`"
            )
        ports = check_block(base)
        _take(base, owner, claims)
        return ports


def release(owner: Path) -> None:
    """Give up every block ``owner`` holds (its `down`)."""
    with _claims_locked():
        for held in _claims():
            if held.owner == owner:
                held.path.unlink(missing_ok=True)


def find_free_block(
    start: int = AUTO_FIRST, stop: int = AUTO_LAST, *, owner: Path | None = None
) -> dict[str, int]:
    """The first block (stepping by PORT_BLOCK) whose every port is free and that no other
    stack claims; with ``owner`` (a state folder) also claimed for it, atomically."""
    assert max(PORT_OFFSETS.values()) < PORT_BLOCK
    with _claims_locked():
        claims = _claims()
        live = _live(claims)
        for base in range(start, stop, PORT_BLOCK):
            if _holder(base, owner, live) is not None:
                continue
            if not all(port_is_free(p) for p in ports_for(base).values()):
                continue
            if owner is not None:
                _take(base, owner, claims)
            return ports_for(base)
    raise StackError(f"no free block of {PORT_BLOCK} ports between {start} and {stop}")
