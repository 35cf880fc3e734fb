"""Where the project keeps its files: the repo root, the git-ignored state and tools folders."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding pyproject.toml).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Binaries the setup builds (Toxiproxy), git-ignored.
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"

#: Run output, git-ignored but for the folder itself.
REPORTS_DIR = REPO_ROOT / "reports"


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The stack's state folder: ``explicit``, else ``$HARNESS_STATE_DIR``, else ``.state``."""
    chosen = explicit or os.environ.get("HARNESS_STATE_DIR") or REPO_ROOT / ".state"
    return Path(chosen).resolve()
