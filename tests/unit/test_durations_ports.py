"""Duration parsing and port-block selection (pure logic plus real socket binds)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.durations import parse_duration
from harness.errors import StackError
from harness.stack.ports import AUTO_LAST, check_block, claim, find_free_block, port_is_free
from harness.topology import PORT_BLOCK, PORT_OFFSETS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60), ("1.5m", 90), ("2h", 7200), ("1h30m", 5400), ("250ms", 0.25), ("45", 45)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "m5", "-3", "10s junk"])
def test_bad_durations_say_what_was_wrong(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_offsets_fit_in_a_block_and_never_collide() -> None:
    assert len(set(PORT_OFFSETS.values())) == len(PORT_OFFSETS)
    assert max(PORT_OFFSETS.values()) < PORT_BLOCK


def test_a_taken_port_moves_the_automatic_block_and_fails_the_explicit_one() -> None:
    block = find_free_block(start=31000)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", block["redis"]))
        sock.listen()
        assert not port_is_free(block["redis"])
        assert find_free_block(start=block["postgres"])["postgres"] != block["postgres"]
        with pytest.raises(StackError, match=f"127.0.0.1:{block['redis']}"):
            check_block(block["postgres"])


def test_a_claimed_block_is_skipped_until_its_state_folder_is_gone(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    (first / "stack.json").write_text("{}")
    block = find_free_block(start=AUTO_LAST + 3000, stop=60000, owner=first)
    base = block["postgres"]
    assert claim(base, first)  # claiming again for the same owner is fine
    assert not claim(base, second)
    assert find_free_block(start=base, stop=60000, owner=second)["postgres"] != base
    (first / "stack.json").unlink()  # the owner's state folder is gone: the claim is stale
    assert claim(base, second)
    assert find_free_block(start=base, stop=60000, owner=second)["postgres"] == base
