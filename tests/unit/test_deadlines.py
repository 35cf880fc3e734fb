"""The door's ``deadlines``: the service clocks a held request of each strategy races, read
from the service's own settings (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from target_service.introspection import STRATEGY_DEADLINES, Clocks, clocks, deadlines


def test_every_strategy_names_clocks_the_service_has() -> None:
    fields = {f.name for f in dataclasses.fields(Clocks)}
    assert set(STRATEGY_DEADLINES) == {"lock", "saga", "2pc"}
    for names in STRATEGY_DEADLINES.values():
        assert names and set(names) <= fields


def test_deadlines_follow_the_service_settings() -> None:
    env = {"LOCK_LEASE_MS": "750", "PROVIDER_TIMEOUT_S": "4.5", "TWOPC_GRACE_S": "9"}
    clk = clocks(env)
    assert deadlines("lock", clk)["lock_lease_s"] == 0.75
    assert deadlines("saga", clk)["provider_timeout_s"] == 4.5
    assert deadlines("2pc", clk)["twopc_grace_s"] == 9.0
    # the lease bounds the lock strategy only; the shortest of the others is their own
    assert "lock_lease_s" not in deadlines("saga", clk)
    assert min(deadlines("lock", clk).values()) == 0.75
    assert min(deadlines("2pc", clk).values()) == 4.5


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'paxos'"):
        deadlines("paxos", clocks())
