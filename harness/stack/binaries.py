"""Find the executables the stack runs, or say exactly how to install them."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import MissingBinary
from harness.paths import TOOLS_BIN

_SETUP_HINT = "run `make setup` (as root it installs it; otherwise it prints the command to run)"


@dataclass(frozen=True, slots=True)
class Binaries:
    """Absolute paths of every executable the local stack starts."""

    postgres: Path
    initdb: Path
    redis_server: Path
    toxiproxy_server: Path
    supervisord: Path


def _postgres_bindirs() -> list[Path]:
    found = []
    which = shutil.which("postgres")
    if which:
        found.append(Path(which).resolve().parent)
    for root in (Path("/usr/lib/postgresql"), Path("/opt/homebrew/opt"), Path("/usr/local/opt")):
        if root.is_dir():
            candidates = sorted(
                root.glob("*/bin"), key=lambda p: p.parent.name.rsplit("@", 1)[-1], reverse=True
            )
            found.extend(candidates)
    return found


def find_postgres() -> tuple[Path, Path]:
    """``(postgres, initdb)`` from one installation."""
    for bindir in _postgres_bindirs():
        postgres, initdb = bindir / "postgres", bindir / "initdb"
        if os.access(postgres, os.X_OK) and os.access(initdb, os.X_OK):
            return postgres, initdb
    raise MissingBinary(
        "PostgreSQL (postgres, initdb) is not installed: "
        f"{_SETUP_HINT}, or `apt-get install postgresql` / `brew install postgresql@15`"
    )


def find_redis() -> Path:
    path = shutil.which("redis-server")
    if path:
        return Path(path)
    raise MissingBinary(
        "redis-server is not installed: "
        f"{_SETUP_HINT}, or `apt-get install redis-server` / `brew install redis`"
    )


def find_toxiproxy() -> Path:
    path = shutil.which("toxiproxy-server")
    if path:
        return Path(path)
    built = TOOLS_BIN / "toxiproxy-server"
    if os.access(built, os.X_OK):
        return built
    raise MissingBinary(
        f"toxiproxy-server is not installed (looked on PATH and in {TOOLS_BIN}): {_SETUP_HINT}, "
        "which runs `go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0`"
    )


def find_supervisord() -> Path:
    beside = Path(sys.executable).parent / "supervisord"
    if os.access(beside, os.X_OK):
        return beside
    path = shutil.which("supervisord")
    if path:
        return Path(path)
    raise MissingBinary(f"supervisord (the `supervisor` package) is not installed: {_SETUP_HINT}")


def find_all() -> Binaries:
    postgres, initdb = find_postgres()
    return Binaries(
        postgres=postgres,
        initdb=initdb,
        redis_server=find_redis(),
        toxiproxy_server=find_toxiproxy(),
        supervisord=find_supervisord(),
    )
