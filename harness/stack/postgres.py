"""The stack's PostgreSQL cluster: where its data lives, initdb, and the two databases.

Postgres refuses to run as root, so when the harness runs as root the cluster belongs to the
``postgres`` user (or ``$HARNESS_PG_USER``), and its data folder must be reachable by that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import asyncpg

from harness.errors import StackError
from harness.stack.state import PG_USER, short_hash
from harness.topology import DATABASES


def os_user() -> str | None:
    """The user to run Postgres as: None when we are not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("HARNESS_PG_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError as exc:
        raise StackError(
            f"running as root, but there is no user {name!r} to run PostgreSQL as: "
            f"`useradd --system {name}`, or set HARNESS_PG_USER to a non-root user"
        ) from exc
    return name


def _world_traversable(path: Path) -> bool:
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            continue  # not created yet: we create it with the right mode
        if not mode & stat.S_IXOTH:
            return False
    return True


def data_dir(state_dir: Path, user: str | None) -> Path:
    """``<state>/pg``, or a folder under /var/tmp when ``user`` could not reach the state folder."""
    inside = state_dir / "pg"
    if user is None or _world_traversable(state_dir):
        return inside
    # a private folder per state dir, created 0700 and owned by the Postgres user
    return Path("/var/tmp") / f"harness-pg-{short_hash(state_dir)}"  # noqa: S108


def initdb(initdb_bin: Path, pg_data: Path, user: str | None, log: Path) -> None:
    """Create the cluster at ``pg_data`` unless one is there already."""
    if (pg_data / "PG_VERSION").exists():
        return
    if pg_data.exists():
        shutil.rmtree(pg_data)
    pg_data.mkdir(parents=True, mode=0o700)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(pg_data, entry.pw_uid, entry.pw_gid)
    cmd = [str(initdb_bin), "-D", str(pg_data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
           "--no-instructions", "--no-sync"]
    with log.open("ab") as out:
        result = subprocess.run(cmd, user=user, stdout=out, stderr=subprocess.STDOUT, check=False,
                                cwd="/")
    if result.returncode != 0:
        raise StackError(f"initdb failed for {pg_data} (exit {result.returncode}); see {log}")


async def create_databases(admin_dsn: str) -> None:
    """Create the ``seats`` and ``payments`` databases when missing."""
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in DATABASES:
            if name not in existing:
                # identifiers can't be bound as parameters; the names are our own constants
                await conn.execute(f'CREATE DATABASE "{name}"')
        prepared = await conn.fetchval("SHOW max_prepared_transactions")
    finally:
        await conn.close()
    if int(prepared) <= 0:
        raise StackError("PostgreSQL runs with max_prepared_transactions = 0; 2PC needs > 0")
