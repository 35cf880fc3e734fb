"""Children that must see Ctrl-C: a test's child inherits the test's signal dispositions, and a
shell starts a background job (``make test &``, ``nohup``) with SIGINT ignored, which the
harness then keeps ignored (harness/interrupt.py). Pass :func:`default_sigint` as
``preexec_fn`` to start the child with SIGINT at its default, as a terminal's foreground job
has it (Python then installs its own Ctrl-C handler)."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """In the forked child, before exec: SIGINT back to its default disposition."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
