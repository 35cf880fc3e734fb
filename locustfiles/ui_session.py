"""The live `harness ui` session as the web UI's process sees it: ``session.json``.

``harness ui`` writes the file before it starts Locust and points ``$HARNESS_UI_SESSION`` at it
(see :mod:`harness.ui.session`). Plain ``locust -f ...,invariants_tab.py`` runs have none, and
then every reader falls back to a session-less view.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: Set by `harness ui` (the same name as ``harness.ui.session.SESSION_ENV``, which this
#: gevent process does not import).
SESSION_ENV = "HARNESS_UI_SESSION"


def load_session() -> dict[str, Any]:
    """The session document, or ``{}`` outside a `harness ui` session."""
    path = os.environ.get(SESSION_ENV)
    if not path:
        return {}
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def read_active(session: dict[str, Any]) -> dict[str, Any]:
    """The latest snapshot of active faults and fault windows (``{}`` before the first)."""
    path = session.get("active_file")
    if not path:
        return {}
    try:
        doc = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}
