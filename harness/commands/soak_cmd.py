"""`harness soak`: a long run with the ``mixed`` schedule, checks during the load, resource trends.

Flags are `harness run`'s (``--duration`` is per strategy, as in `run`) plus ``--check-every``
and ``--sample-every``. Exit codes: 0 the soak passed, 1 an invariant broke (at the end or,
confirmed, during the load) or a resource grows (a leak or a growing backlog), 2 bad input,
3 the stack could not be started.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from harness import interrupt
from harness.commands.run_cmd import new_run_dir, point_latest, print_summary, scenario_from
from harness.errors import EXIT_OK, EXIT_VIOLATION, UsageError
from harness.run import loop
from harness.run import scenario as scenarios
from harness.run.progress import Progress
from harness.soak.runner import SoakSettings, soak
from harness.stack import Stack


def settings_from(args: argparse.Namespace, duration_s: float) -> SoakSettings:
    """The soak settings of the flags (validated: a bad one is exit 2 naming it)."""
    check_every = args.check_every if args.check_every is not None else 60.0
    sample_every = args.sample_every if args.sample_every is not None else 10.0
    if check_every <= 0:
        raise UsageError(f"--check-every: must be longer than 0 (got {check_every:g}s)")
    if sample_every <= 0:
        raise UsageError(f"--sample-every: must be longer than 0 (got {sample_every:g}s)")
    if check_every > duration_s:
        raise UsageError(f"--check-every: {check_every:g}s is longer than the load "
                         f"({duration_s:g}s); nothing would be checked during it")
    return SoakSettings(check_every_s=check_every, sample_every_s=sample_every)


#: Where the soak's buyers shop unless ``--scenario`` says otherwise: an event big enough for
#: purchases (not only conflicts) to go on for a 30-minute soak on 2 cores (see
#: ``target_service.seed.EXTRA_EVENTS``).
SOAK_EVENT = "evt_arena"
#: How long the soak's buyers may share a fetched seat map (``[workload] seat_map_max_age``):
#: the arena's map is too big to fetch and rank on every purchase on 2 cores.
SOAK_MAP_MAX_AGE_S = 1.0


def soak_scenario(args: argparse.Namespace) -> scenarios.Scenario:
    """The scenario with the flags applied, and the soak's defaults: faults ``mixed``, 30
    minutes, and (without ``--scenario``) buyers of :data:`SOAK_EVENT`."""
    if args.faults is None:
        args.faults = "mixed"
    scenario = scenario_from(args, demo=False)
    if args.duration is None:
        scenario = scenarios.with_overrides(scenario, duration_s=1800.0)
    if args.scenario is None:
        scenario = dataclasses.replace(scenario, workload=dataclasses.replace(
            scenario.workload, event_id=SOAK_EVENT, seat_map_max_age_s=SOAK_MAP_MAX_AGE_S))
    return scenario


def soak_cmd(args: argparse.Namespace) -> int:
    scenario = soak_scenario(args)
    settings = settings_from(args, scenario.duration_s)
    loop.schedules_for(scenario)  # bad schedules are exit 2 before anything is touched
    run_id, run_dir = new_run_dir(args.out, scenario)
    progress = Progress()
    progress.phase(f"soak {run_id}: strategies {', '.join(scenario.strategies)}, faults "
                   f"{scenario.faults}, {scenario.duration_s:g}s each, checks every "
                   f"{settings.check_every_s:g}s, samples every {settings.sample_every_s:g}s "
                   f"-> {run_dir}")
    stack = Stack(args.state_dir, progress=lambda m: progress.phase(f"[stack] {m}"))
    point_latest(run_dir)
    report, doc = interrupt.run(soak(scenario, run_id, run_dir, stack, progress, settings))
    print_summary(report, run_dir, ["report.html", "report.json", "junit.xml", "soak.json",
                                    "samples.csv"])
    for reason in doc["reasons"]:
        print(f"  soak: {reason}", file=sys.stdout)
    print(f"soak verdict: {doc['verdict']}", file=sys.stdout)
    return EXIT_OK if doc["verdict"] == "pass" else EXIT_VIOLATION
