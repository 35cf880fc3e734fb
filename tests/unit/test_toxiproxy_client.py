"""The async Toxiproxy client's request shapes and error translation (pure logic, MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from harness.stack.toxiproxy import (
    USER_AGENT,
    ProxyNotFound,
    Toxiproxy,
    ToxiproxyAPIError,
    ToxiproxyUnavailable,
)

PROXY = {"name": "redis", "listen": "127.0.0.1:1", "upstream": "127.0.0.1:2", "enabled": False,
         "toxics": []}


async def test_updates_use_patch_and_send_our_user_agent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PROXY)

    async with Toxiproxy("http://tp", transport=httpx.MockTransport(handler)) as tp:
        proxy = await tp.set_enabled("redis", False)
    assert proxy.enabled is False
    assert seen[0].method == "PATCH"
    assert seen[0].url.path == "/proxies/redis"
    assert json.loads(seen[0].content) == {"enabled": False}
    assert seen[0].headers["user-agent"] == USER_AGENT
    assert not USER_AGENT.startswith("Mozilla/")


async def test_404_names_the_proxy() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(404, text="proxy not found"))
    async with Toxiproxy("http://tp", transport=transport) as tp:
        with pytest.raises(ProxyNotFound, match="'nope'"):
            await tp.get_proxy("nope")


async def test_api_errors_carry_status_and_toxic_name() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(409, text="toxic already exists"))
    async with Toxiproxy("http://tp", transport=transport) as tp:
        with pytest.raises(ToxiproxyAPIError, match="blackhole") as info:
            await tp.add_toxic("redis", "timeout", name="blackhole", attributes={"timeout": 0})
    assert info.value.status == 409


async def test_timeouts_become_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with Toxiproxy("http://tp", transport=httpx.MockTransport(handler)) as tp:
        with pytest.raises(ToxiproxyUnavailable, match="timed out"):
            await tp.reset()


async def test_toxic_round_trip() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body == {"type": "latency", "stream": "upstream", "toxicity": 1.0,
                        "attributes": {"latency": 100, "jitter": 10}, "name": "lat"}
        return httpx.Response(200, json={**body})

    async with Toxiproxy("http://tp", transport=httpx.MockTransport(handler)) as tp:
        toxic = await tp.add_toxic("redis", "latency", name="lat", stream="upstream",
                                   attributes={"latency": 100, "jitter": 10})
    assert (toxic.name, toxic.type, toxic.attributes["latency"]) == ("lat", "latency", 100)


async def test_an_html_error_page_is_named_by_its_title() -> None:
    """Toxiproxy's API answers a call that outlived its 25 s with Go's HTML "Timeout" page."""
    page = "<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body></html>"
    transport = httpx.MockTransport(lambda r: httpx.Response(503, text=page))
    async with Toxiproxy("http://tp", transport=transport) as tp:
        with pytest.raises(ToxiproxyAPIError) as info:
            await tp.reset()
    assert str(info.value) == "Toxiproxy POST /reset (reset) -> 503: Timeout"
