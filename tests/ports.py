"""Port blocks for tests that pick blocks by hand.

They lie above both the automatic range (``harness.stack.ports``) and the kernel's ephemeral
range (from which every outgoing connection takes its local port), so that neither a stack
nor a client socket can take a port of the block between the test's check and its bind.
"""

from __future__ import annotations

import math
from pathlib import Path

from harness.stack.ports import AUTO_LAST
from harness.topology import PORT_BLOCK


def _ephemeral_end() -> int:
    """The last port of the kernel's ephemeral range (60999 when it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 60999


#: the first port of the spare blocks, and the end of the search for one
FIRST = math.ceil(max(AUTO_LAST, _ephemeral_end() + 1) / PORT_BLOCK) * PORT_BLOCK
STOP = 65500


def spare(n: int) -> int:
    """Where the ``n``-th test's search for a spare block starts (ten blocks apart)."""
    start = FIRST + n * 10 * PORT_BLOCK
    assert start + 10 * PORT_BLOCK <= STOP, "not that many spare blocks"
    return start
