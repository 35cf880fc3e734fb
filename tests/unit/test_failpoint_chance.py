"""A failpoint armed with a ``chance`` fires on that share of its hits (BUGGIFY's "now and
then"), still at most ``remaining`` times, and a hit that does not fire spends no firing; the
admin endpoint refuses a chance outside (0, 1]; the table row round-trips through Arm."""

from __future__ import annotations

import random

import pytest

from target_service import failpoints as fp
from target_service.admin import _arming
from target_service.problems import Problem

NAME = "lock-after-authorize"


def counted(points: fp.Failpoints, remaining: int | None) -> list[str]:
    """Give ``points`` a consumer that emulates the table's count; the names it took."""
    taken: list[str] = []
    left = [remaining]

    async def consume(name: str) -> bool:
        if left[0] is not None:
            if left[0] == 0:
                return False
            left[0] -= 1
        taken.append(name)
        return True

    points.set_consumer(consume)
    return taken


async def fired(points: fp.Failpoints, hits: int) -> int:
    return sum([await points.should_fire(NAME) for _ in range(hits)])


@pytest.mark.asyncio
async def test_a_chance_fires_about_that_share_of_hits_and_only_firings_spend_the_count(
) -> None:
    points = fp.Failpoints(frozenset())
    points._dice = random.Random(7)  # the test's own dice
    points.update_shared({NAME: fp.Arm(remaining=None, action="delay", seconds=0.0,
                                       chance=0.25)})
    taken = counted(points, None)
    n = await fired(points, 4000)
    assert 800 < n < 1200  # 1,000 expected; a seeded draw, so no flake
    assert taken == []  # an unlimited delay fires without asking the table

    points.update_shared({NAME: fp.Arm(remaining=30, action="delay", seconds=0.0,
                                       chance=0.5)})
    taken = counted(points, 30)
    first = await fired(points, 40)
    assert 8 < first < 30 and len(taken) == first  # 40 hits spent only what fired
    assert first + await fired(points, 400) == 30  # and the count still bounds the total


@pytest.mark.asyncio
async def test_without_a_chance_every_hit_fires_until_the_count_is_spent() -> None:
    points = fp.Failpoints(frozenset())
    points.update_shared({NAME: fp.Arm(remaining=5, action="delay", seconds=0.0)})
    counted(points, 5)
    assert [await points.should_fire(NAME) for _ in range(7)] == [True] * 5 + [False] * 2


def test_the_admin_arming_takes_a_chance_in_0_to_1() -> None:
    assert _arming({"remaining": 3, "action": "delay", "seconds": 1, "chance": 0.3}) == fp.Arm(
        3, "delay", 1.0, None, 0.3)
    assert _arming({"action": "crash"}).chance is None
    for bad in (0, 1.5, -0.1, True, "0.5"):
        with pytest.raises(Problem, match="chance"):
            _arming({"action": "delay", "chance": bad})


def test_a_table_row_round_trips_through_arm() -> None:
    arm = fp.Arm(4, "delay", 2.5, "1", 0.4)
    row = dict(zip(("remaining", "action", "seconds", "instance", "chance"),
                   fp.arm_row(arm), strict=True))
    assert fp.arm_of({"name": NAME, **row}) == arm
    assert fp.arm_of({"name": NAME, "remaining": None, "action": None, "seconds": None,
                      "instance": None, "chance": None}) == fp.Arm()
