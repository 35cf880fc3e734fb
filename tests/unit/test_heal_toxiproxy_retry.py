"""The heal's Toxiproxy reset is tried again, with a longer timeout, when Toxiproxy does not
answer (its API can stall while a toxic is removed under traffic); a reset that never gets an
answer still fails, naming Toxiproxy's last error."""

from __future__ import annotations

import httpx
import pytest

from harness.stack.heal import reset_toxiproxy
from harness.stack.toxiproxy import ToxiproxyUnavailable

URL = "http://127.0.0.1:1"
PROXIES = [{"name": "redis", "listen": "127.0.0.1:2", "upstream": "127.0.0.1:3",
            "enabled": True}]


def stalling(stalls: int, seen: list[tuple[str, float]]) -> httpx.MockTransport:
    """Toxiproxy whose first ``stalls`` calls time out; records (path, timeout) of each."""
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, float(request.extensions["timeout"]["read"])))
        if len(seen) <= stalls:
            raise httpx.ReadTimeout("stalled", request=request)
        if request.url.path == "/reset":
            return httpx.Response(204)
        return httpx.Response(201, json={"proxies": [{**PROXIES[0], "toxics": []}]})
    return httpx.MockTransport(handle)


@pytest.mark.asyncio
async def test_a_stalled_reset_is_tried_again_with_a_longer_timeout() -> None:
    seen: list[tuple[str, float]] = []
    await reset_toxiproxy(URL, PROXIES, timeouts=(1.0, 2.0, 3.0),
                          transport=stalling(2, seen))
    assert seen == [("/reset", 1.0), ("/reset", 2.0), ("/reset", 3.0), ("/populate", 3.0)]


@pytest.mark.asyncio
async def test_a_reset_that_never_gets_an_answer_fails() -> None:
    seen: list[tuple[str, float]] = []
    with pytest.raises(ToxiproxyUnavailable, match="timed out on POST /reset"):
        await reset_toxiproxy(URL, PROXIES, timeouts=(1.0, 2.0), transport=stalling(9, seen))
    assert [t for _, t in seen] == [1.0, 2.0]
