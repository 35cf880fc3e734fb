"""The heal's way out of a wedged Toxiproxy, as logic: a reset that fails (an error status, or no
answer within the waits) restarts Toxiproxy with the stack's proxies; a reset that works
restarts nothing; a restart that fails too is a HealError telling the user to run `harness down`
then `harness up`; the report says that Toxiproxy was restarted, and why. The restart itself
runs against a real Toxiproxy in tests/stack/test_toxiproxy_wedge.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.errors import HealError, StackError
from harness.stack.heal import HealReport, proxy_config, reset_or_restart_toxiproxy
from harness.stack.state import StackState
from harness.topology import ports_for

TIMEOUT_PAGE = "<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body></html>"


def state_at(tmp_path: Path) -> StackState:
    return StackState(state_dir=tmp_path, ports=ports_for(40000), pg_data=tmp_path / "pg",
                      admin_token="t")


def toxiproxy(reset: int | None, seen: list[tuple[str, float]]) -> httpx.MockTransport:
    """A Toxiproxy answering ``reset`` to ``POST /reset`` (None: no answer, a timeout) and
    taking any ``/populate``; records (path, timeout) of each call."""
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, float(request.extensions["timeout"]["read"])))
        if request.url.path == "/populate":
            return httpx.Response(201, json={"proxies": []})
        if reset is None:
            raise httpx.ReadTimeout("stalled", request=request)
        return httpx.Response(reset, text=TIMEOUT_PAGE if reset == 503 else "")
    return httpx.MockTransport(handle)


class Restarts:
    """Records each restart's ``/populate`` body; raises ``fail`` when given."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail = fail

    async def __call__(self, state: StackState, proxies: Sequence[Mapping[str, Any]]) -> int:
        self.calls.append([dict(p) for p in proxies])
        if self.fail is not None:
            raise self.fail
        return 4242


async def test_a_reset_answering_503_restarts_toxiproxy_with_the_stack_proxies(
    tmp_path: Path,
) -> None:
    state, seen, restarts = state_at(tmp_path), [], Restarts()
    why = await reset_or_restart_toxiproxy(state, waits_s=(1.0,), restart=restarts,
                                           transport=toxiproxy(503, seen))
    assert restarts.calls == [proxy_config(state)]
    assert why is not None and "POST /reset" in why and "503" in why
    assert [path for path, _ in seen] == ["/reset"]  # an error status is not tried again


async def test_a_reset_that_never_answers_gets_every_wait_before_the_restart(
    tmp_path: Path,
) -> None:
    state, seen, restarts = state_at(tmp_path), [], Restarts()
    why = await reset_or_restart_toxiproxy(state, waits_s=(1.0, 2.0, 3.0), restart=restarts,
                                           transport=toxiproxy(None, seen))
    assert seen == [("/reset", 1.0), ("/reset", 2.0), ("/reset", 3.0)]
    assert len(restarts.calls) == 1
    assert why is not None and "timed out on POST /reset" in why


async def test_a_reset_that_works_restarts_nothing(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    restarts = Restarts()
    why = await reset_or_restart_toxiproxy(state_at(tmp_path), restart=restarts,
                                           transport=toxiproxy(204, seen))
    assert why is None
    assert restarts.calls == []
    assert [path for path, _ in seen] == ["/reset", "/populate"]


async def test_a_restart_that_fails_too_is_a_heal_error_with_the_way_out(tmp_path: Path) -> None:
    restarts = Restarts(fail=StackError("the restarted toxiproxy did not become ready"))
    with pytest.raises(HealError) as caught:
        await reset_or_restart_toxiproxy(state_at(tmp_path), waits_s=(1.0,), restart=restarts,
                                         transport=toxiproxy(503, []))
    message = str(caught.value)
    assert "503" in message  # the reset's error
    assert "did not become ready" in message  # the restart's
    assert message.endswith("run `harness down` then `harness up`")


def test_the_report_says_toxiproxy_was_restarted_and_why() -> None:
    assert not HealReport().healed_anything
    report = HealReport(toxiproxy_restarted="POST /reset -> 503: Timeout")
    assert report.healed_anything
    assert report.summary() == ("restarted Toxiproxy, its reset failed: "
                                "POST /reset -> 503: Timeout")
