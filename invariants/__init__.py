"""The invariants of docs/contract.md section 4, checked over the databases and the client history.

``check_all(CheckContext(seats_dsn, payments_dsn, history=..., strategy=...))`` returns one
:class:`InvariantResult` per invariant, in contract order. See ``invariants/base.py`` for the
interface and one module per invariant for what each protects.
"""

from invariants.base import (
    INVARIANT_NAMES,
    CheckContext,
    Findings,
    Invariant,
    InvariantResult,
)
from invariants.suite import CHECKERS, check_all

__all__ = [
    "CHECKERS",
    "INVARIANT_NAMES",
    "CheckContext",
    "Findings",
    "Invariant",
    "InvariantResult",
    "check_all",
]
