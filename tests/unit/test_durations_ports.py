"""Duration parsing and port-block claims (pure logic plus real socket binds and processes)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.durations import parse_duration
from harness.errors import StackError
from harness.paths import REPO_ROOT
from harness.stack.listeners import Listener, describe_owner, listeners
from harness.stack.ports import (
    check_block,
    claim,
    claim_explicit,
    find_free_block,
    owner_of,
    port_is_free,
    release,
)
from harness.topology import PORT_BLOCK, PORT_OFFSETS
from tests.ports import STOP as SPARE_STOP
from tests.ports import spare


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


def _claim_from_a_process_that_exits(base: int, owner: Path) -> None:
    """Claim as `harness up` does: from a process that is gone once the claim is made."""
    code = f"from pathlib import Path; from harness.stack.ports import claim; " \
           f"assert claim({base}, Path({str(owner)!r}))"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def _save_stack_json(owner: Path, base: int) -> None:
    (owner / "stack.json").write_text(json.dumps({"ports": {"postgres": base}}))


def test_a_claim_being_set_up_is_kept_until_its_folder_is_gone(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    block = find_free_block(start=spare(3), stop=SPARE_STOP, owner=first)
    base = block["postgres"]
    try:
        assert claim(base, first)  # claiming again for the same owner is fine
        # no stack.json yet, but its claimant (this process) lives: still being set up
        assert not claim(base, second)
        assert find_free_block(start=base, stop=SPARE_STOP, owner=second)["postgres"] != base
        shutil.rmtree(first)  # the owner's state folder is gone: the claim is stale
        assert claim(base, second)
        assert owner_of(base).owner == second  # type: ignore[union-attr]
    finally:
        release(first)
        release(second)
    assert owner_of(base) is None
    assert owner_of(find_free_block(start=base, stop=SPARE_STOP)["postgres"]) is None


def test_a_claim_outlives_its_claimant_while_the_stack_json_names_the_block(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    base = find_free_block(start=spare(5), stop=SPARE_STOP)["postgres"]
    try:
        _claim_from_a_process_that_exits(base, first)
        _save_stack_json(first, base)  # `up` finished: the CLI is gone, the stack runs
        assert not claim(base, second)
        for overlapping in (base, base + 7, base - PORT_BLOCK + 1):
            with pytest.raises(StackError, match=f"claimed by the stack at {first}"):
                claim_explicit(overlapping, second)
        assert owner_of(base).owner == first  # type: ignore[union-attr]
        _save_stack_json(first, base + PORT_BLOCK)  # it moved to another block: stale
        assert claim(base, second)
        _claim_from_a_process_that_exits(base + PORT_BLOCK, first)
        assert owner_of(base).owner == second  # type: ignore[union-attr]
        (first / "stack.json").unlink()  # a claimant died while setting up: stale
        assert claim(base + PORT_BLOCK, second)
        assert owner_of(base) is None, "a stack holds one block: its older claim is released"
    finally:
        release(first)
        release(second)
    assert owner_of(base) is None and owner_of(base + PORT_BLOCK) is None


def test_an_unaligned_explicit_block_keeps_both_blocks_it_overlaps_from_the_automatic_choice(
    tmp_path: Path,
) -> None:
    base = find_free_block(start=spare(9), stop=SPARE_STOP)["postgres"]
    try:
        claim_explicit(base + PORT_BLOCK // 2, tmp_path)
        assert find_free_block(start=base, stop=SPARE_STOP, owner=tmp_path / "other")["postgres"] \
            >= base + 2 * PORT_BLOCK
    finally:
        release(tmp_path)
        release(tmp_path / "other")


def test_an_explicit_block_with_a_taken_port_is_not_kept_claimed(tmp_path: Path) -> None:
    block = find_free_block(start=spare(7), stop=SPARE_STOP)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", block["target"]))
        sock.listen()
        me = rf"in use by pid {os.getpid()} \({psutil.Process().name()}\)"
        with pytest.raises(StackError, match=me):
            claim_explicit(block["postgres"], tmp_path)
    assert owner_of(block["postgres"]) is None


def test_the_listener_of_a_port_is_the_process_holding_its_socket() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import socket, sys, time\n"
         "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
         "print(s.getsockname()[1], flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        assert listeners(port) == [Listener(port, child.pid)]
        assert listeners(port, expected=[os.getpid()]) == [Listener(port, child.pid)]
        assert describe_owner(port) == f"pid {child.pid} ({psutil.Process(child.pid).name()})"
    finally:
        child.kill()
        child.communicate()
    assert listeners(port) == []
