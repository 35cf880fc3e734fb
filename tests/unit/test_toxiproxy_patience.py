"""A Toxiproxy call that is safe to repeat (a reset, removing a toxic) is tried again with
longer timeouts when Toxiproxy does not answer (its API can stall while a toxic is removed
under traffic); one that is not (adding a toxic) is tried once; a call that never gets an
answer still fails, naming Toxiproxy's last error. The heal's reset rides on it."""

from __future__ import annotations

import httpx
import pytest

from harness.stack.heal import reset_toxiproxy
from harness.stack.toxiproxy import ProxyNotFound, Toxiproxy, ToxiproxyUnavailable

URL = "http://127.0.0.1:1"
PROXIES = [{"name": "redis", "listen": "127.0.0.1:2", "upstream": "127.0.0.1:3",
            "enabled": True}]


def stalling(stalls: int, seen: list[tuple[str, str, float]],
             then: int = 204) -> httpx.MockTransport:
    """Toxiproxy whose first ``stalls`` calls time out; records (method, path, timeout)."""
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path,
                     float(request.extensions["timeout"]["read"])))
        if len(seen) <= stalls:
            raise httpx.ReadTimeout("stalled", request=request)
        if request.url.path == "/populate":
            return httpx.Response(201, json={"proxies": [{**PROXIES[0], "toxics": []}]})
        return httpx.Response(then, json={"error": "toxic not found"} if then == 404 else None)
    return httpx.MockTransport(handle)


@pytest.mark.asyncio
async def test_the_heal_reset_is_tried_again_with_longer_timeouts() -> None:
    seen: list[tuple[str, str, float]] = []
    await reset_toxiproxy(URL, PROXIES, transport=stalling(2, seen))
    assert seen == [("POST", "/reset", 5.0), ("POST", "/reset", 15.0),
                    ("POST", "/reset", 30.0), ("POST", "/populate", 5.0)]


@pytest.mark.asyncio
async def test_a_toxic_removal_that_stalls_is_tried_again_and_a_landed_one_is_gone() -> None:
    seen: list[tuple[str, str, float]] = []
    async with Toxiproxy(URL, patience=(2.0,), transport=stalling(1, seen, then=404)) as tp:
        with pytest.raises(ProxyNotFound):  # the first try landed: the retry finds it gone
            await tp.remove_toxic("redis", "t1")
    assert seen == [("DELETE", "/proxies/redis/toxics/t1", 5.0),
                    ("DELETE", "/proxies/redis/toxics/t1", 2.0)]


@pytest.mark.asyncio
async def test_a_call_that_never_gets_an_answer_fails_and_an_add_is_tried_once() -> None:
    seen: list[tuple[str, str, float]] = []
    async with Toxiproxy(URL, patience=(1.0, 2.0), transport=stalling(99, seen)) as tp:
        with pytest.raises(ToxiproxyUnavailable, match="timed out on POST /reset"):
            await tp.reset()
        assert [t for _, _, t in seen] == [5.0, 1.0, 2.0]
        seen.clear()
        with pytest.raises(ToxiproxyUnavailable):
            await tp.add_toxic("redis", "latency", name="t2", attributes={"latency": 1})
        assert len(seen) == 1
