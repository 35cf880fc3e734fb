"""The formats the parts exchange, below every part that uses them.

The load (``locustfiles``) writes the client history, the checkers (``invariants``) and the run
read it: its format (docs/contract.md section 7.5) lives here, importing nothing of the
project, so no reader or writer depends on the run loop or the CLI above it.
"""
