"""``harness soak``: one long run with periodic checks and resource trends.

Module map: ``runner`` (the soak on top of the run loop, ``soak.json``), ``periodic`` (mid-run
invariant checks with confirmation; which invariants are safe mid-run), ``sampler`` (RSS, fds,
connections, backlog of every component), ``leak`` (trend verdicts, pure), ``section`` (the
report's HTML section).
"""
