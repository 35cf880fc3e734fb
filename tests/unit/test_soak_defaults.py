"""`harness soak`'s defaults: faults mixed, 30 minutes, and an event that does not sell out."""

from __future__ import annotations

from pathlib import Path

from harness.cli import build_parser
from harness.commands.soak_cmd import SOAK_EVENT, SOAK_MAP_MAX_AGE_S, soak_scenario
from target_service.seed import EXTRA_EVENTS


def test_without_a_scenario_the_soak_shops_in_the_arena() -> None:
    scenario = soak_scenario(build_parser().parse_args(["soak"]))
    assert (scenario.faults, scenario.duration_s) == ("mixed", 1800.0)
    assert scenario.workload.event_id == SOAK_EVENT
    assert scenario.workload.seat_map_max_age_s == SOAK_MAP_MAX_AGE_S > 0
    assert EXTRA_EVENTS[SOAK_EVENT].capacity > 10_000  # seeded on demand, large


def test_a_scenario_file_keeps_its_own_event(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "mine"\n\n[workload]\nevent_id = "evt_small"\n')
    args = build_parser().parse_args(["soak", "--scenario", str(path), "--duration", "2m"])
    scenario = soak_scenario(args)
    assert (scenario.workload.event_id, scenario.duration_s) == ("evt_small", 120.0)
    assert scenario.workload.seat_map_max_age_s == 0.0  # every purchase looks at the map
