"""One verification run: per strategy, reset -> load + faults -> heal -> settle -> check.

:func:`run` takes a validated :class:`~harness.run.scenario.Scenario` and a run folder and returns
the report (docs/contract.md section 7.2). Per strategy, one after another on fresh data:

1. the stack is up (started if needed) with the scenario's service settings and seeded bug;
   every fault left behind is healed and the run data is reset;
2. Locust runs headless in subprocesses (gevent never shares this asyncio process), writing
   ``<strategy>_stats*.csv`` and one history file per Locust process, while the fault schedule
   runs beside it and logs ``faults-<strategy>.jsonl``;
3. the load stops; every fault is healed (also when anything above failed: ``finally``);
4. recovery runs until the system settles (bounded), then every invariant is checked over the
   databases and that strategy's history, and the service's coverage counts are read (which
   dangerous situations the run reached; :mod:`harness.run.coverage`).

Afterwards the per-process histories are merged in time order into ``history.jsonl`` and the
fault logs into ``faults.jsonl`` (every line names its strategy).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from chaos import schedules as fault_schedules
from chaos.context import ChaosContext
from chaos.runner import run_schedule
from chaos.schedule_types import ScheduledFault, for_strategy
from harness.contract import history as hist
from harness.errors import HarnessError
from harness.report.model import (
    FaultWindow,
    InvariantOutcome,
    OrderStory,
    Report,
    StrategyResult,
    ThresholdResult,
)
from harness.run import scenario_toml
from harness.run.contention import contention, hot_rows
from harness.run.coverage import coverage_of
from harness.run.load_stats import load_summary, read_stats
from harness.run.locust_proc import LocustPlan, LocustProcesses
from harness.run.progress import Progress
from harness.run.scenario import Scenario
from harness.run.settle import SettleResult, settle
from harness.run.stories import build_stories, named_orders
from harness.run.supply import SupplyLog, run_supply
from harness.run.thresholds import LoadMeasures, judge
from harness.stack import ServiceSettings, Stack, StackState
from harness.stack.heal import heal_all
from harness.stack.run_lock import exclusive_run
from invariants import CheckContext, check_all
from invariants.base import ALL_EXAMPLES
from invariants.order_rows import order_rows
from locustfiles.workload import Workload
from target_service.introspection import clocks, coverage_counts


@dataclass(frozen=True, slots=True)
class RunPaths:
    """Where one run's files go."""

    run_dir: Path

    def csv_prefix(self, strategy: str) -> Path:
        return self.run_dir / strategy

    def history_dir(self, strategy: str) -> Path:
        return self.run_dir / "histories" / strategy

    def faults_log(self, strategy: str) -> Path:
        return self.run_dir / "faults" / f"faults-{strategy}.jsonl"

    def workload_file(self, strategy: str) -> Path:
        return self.run_dir / "workloads" / f"workload-{strategy}.json"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"


@dataclass(frozen=True, slots=True)
class MonitorContext:
    """What a monitor beside one strategy's load sees: the stack, the live files, the clock.

    ``t0`` is the load's start (``time.monotonic()``); ``stop`` is set when the load ends.
    """

    strategy: str
    state: StackState
    stack: Stack
    history_dir: Path
    t0: float
    stop: asyncio.Event


#: A task run beside every strategy's load (e.g. periodic checks, resource sampling). It must
#: return soon after ``ctx.stop`` is set; its errors are reported and never break the run.
Monitor = Callable[[MonitorContext], Coroutine[Any, Any, None]]
#: How long the run waits for a monitor after the load ended.
MONITOR_GRACE_S = 60.0


async def _finish_monitor(task: asyncio.Task[None] | None, progress: Progress) -> None:
    if task is None:
        return
    try:
        await asyncio.wait_for(task, MONITOR_GRACE_S)
    except Exception as exc:  # a monitor's failure is its own business, not the run's
        progress.phase(f"monitor failed: {type(exc).__name__}: {exc}")


def service_settings(scenario: Scenario) -> ServiceSettings:
    """The service settings a scenario asks for (bug, process count, tuning)."""
    svc = scenario.service
    env = {"HOLD_TTL_S": f"{svc.hold_ttl_s:g}", "SAGA_STALE_S": f"{svc.saga_stale_s:g}",
           **dict(svc.env)}
    return ServiceSettings(
        target_processes=svc.target_processes, bug=scenario.bug,
        provider_failure_rate=svc.provider_failure_rate,
        provider_latency_ms=svc.provider_latency_ms, extra_env=env,
    )


def lock_lease_s(scenario: Scenario) -> float | None:
    """The lock lease of the service the scenario tunes (the service's door says it; None for a
    malformed setting, which the service itself refuses at start-up)."""
    try:
        return clocks(dict(scenario.service.env)).lock_lease_s
    except ValueError:
        return None


def workload_for(scenario: Scenario, strategy: str, history_dir: Path) -> Workload:
    return Workload.of(
        scenario.workload, strategy=strategy, seed=scenario.seed, users=scenario.users,
        spawn_rate=scenario.spawn_rate, duration_s=scenario.duration_s,
        history_dir=str(history_dir), retry=scenario.retry,
    )


def schedules_for(scenario: Scenario) -> dict[str, list[ScheduledFault]]:
    """Every strategy's fault schedule, built before anything is touched (bad input: exit 2);
    an inline schedule (validated when the scenario loaded) in start order."""
    if scenario.schedule is not None:
        return {strategy: sorted(for_strategy(scenario.schedule, strategy),
                                 key=lambda e: e.start_s)
                for strategy in scenario.strategies}
    return {
        strategy: list(fault_schedules.build(
            scenario.faults, seed=scenario.seed, duration_s=scenario.duration_s,
            strategy=strategy, lock_lease_s=lock_lease_s(scenario),
            target_processes=scenario.service.target_processes,
            service_env=service_settings(scenario).extra_env,
            client_timeout_s=scenario.workload.client_timeout_s))
        for strategy in scenario.strategies
    }


async def run_faults(schedule: list[ScheduledFault], state: StackState, *, faults_log: Path,
                     t0: float, stop: asyncio.Event, seed: int, strategy: str
                     ) -> list[FaultWindow]:
    """Run ``schedule`` beside the load until ``stop``; the fault windows it applied."""
    if not schedule:
        await stop.wait()
        return []
    async with ChaosContext(state, seed=seed) as ctx:
        windows = await run_schedule(schedule, ctx, faults_log=faults_log, t0=t0, stop=stop,
                                     log_extra={"strategy": strategy})
    # to the millisecond, as report.json keeps them: the report reads back equal to the run's
    return [replace(w, start_s=round(w.start_s, 3), end_s=round(w.end_s, 3)) for w in windows]


def now_iso() -> str:
    """The local time, ISO 8601 with its UTC offset (the report's ``started_at``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --- replay: what a run records so that it can be run again (harness/replay/) ---------------
def record_scenario(scenario: Scenario, run_dir: Path) -> None:
    """``scenario.toml``: the effective scenario (file and flags), loadable as it is."""
    (run_dir / "scenario.toml").write_text(
        scenario_toml.dump(scenario, header="The effective scenario of this run (file and flags)"
                                            "; `harness replay` runs it again."),
        encoding="utf-8")
# --------------------------------------------------------------------------------------------


async def ensure_stack(stack: Stack, wanted: ServiceSettings, progress: Progress) -> StackState:
    """The running stack with ``wanted`` service settings, faults healed."""
    if not stack.running():
        progress.phase("starting the stack")
        state = await stack.up(services=wanted)
    else:
        state = stack.require_state()
        if state.services != wanted:
            # heal first: the restarted service is ready only once it reaches its stores
            # through Toxiproxy, which a wedged Toxiproxy (restarted by the heal) would refuse
            await heal_all(state)
            progress.phase(f"restarting the service (bug: {wanted.bug or 'none'})")
            state = await stack.restart_services(wanted)
    await heal_all(state)
    return state


async def reset(state: StackState, event_id: str) -> None:
    """Wipe the run data; seed the default events and, if extra, the buyers' ``event_id``."""
    from target_service.seed import events_for, reset_data

    await reset_data(state.dsn("seats"), state.dsn("payments"), redis_url=state.redis_url(),
                     event_seed=events_for(event_id))


#: while settling, a line saying what is still pending at most this often
SETTLE_PROGRESS_S = 5.0
#: after the load, how long the fault schedule may take to stop its faults
FAULTS_END_S = 120.0


async def faults_ended(task: asyncio.Task[list[FaultWindow]], strategy: str,
                       faults_log: Path, *, limit_s: float = FAULTS_END_S
                       ) -> list[FaultWindow]:
    """The fault windows, once the schedule's task has stopped every fault; a stop that hangs
    becomes a clear error naming the log (the task is cancelled; the caller heals the stack)."""
    try:
        return await asyncio.wait_for(task, limit_s)
    except TimeoutError:
        raise HarnessError(
            f"{strategy}: the fault schedule did not stop its faults within {limit_s:g}s after"
            f" the load (a fault's stop hung; {faults_log} lists what started); every fault was"
            " healed") from None


async def _until_load_ends(locust: LocustProcesses, faults_task: asyncio.Task[Any],
                           progress: Progress, strategy: str) -> None:
    """Wait for the load to end, or end it at once when the fault schedule fails: a run that
    cannot inject what its schedule claims stops there (the caller raises the fault's error
    after healing) instead of loading on for the rest of its duration without faults."""
    load = asyncio.create_task(locust.wait())
    try:
        done, _ = await asyncio.wait({load, faults_task}, return_when=asyncio.FIRST_COMPLETED)
        if load in done:
            return
        if faults_task.cancelled() or faults_task.exception() is None:
            await load  # every fault is over before the load: the normal case
            return
        progress.phase(f"{strategy}: the fault schedule failed; stopping the load")
    finally:
        if not load.done():
            load.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await load


@dataclass(frozen=True, slots=True)
class StrategyRun:
    """What one strategy's part of the run produced: its report entry, thresholds judged on
    its load, the stories of the orders its violations name, and how settling went."""

    result: StrategyResult
    thresholds: tuple[ThresholdResult, ...]
    orders: dict[str, OrderStory]
    settled: SettleResult
    #: per third of the load, the confirms' conflict and hold rates (``contention.json``)
    contention: dict[str, Any]


async def check(state: StackState, events: list[hist.HistoryEvent], strategy: str
                ) -> tuple[InvariantOutcome, ...]:
    """Every invariant for ``strategy`` with every example (never raises for a checker)."""
    ctx = CheckContext(state.dsn("seats"), state.dsn("payments"), history=events,
                       strategy=strategy, max_examples=ALL_EXAMPLES)
    return tuple(
        InvariantOutcome(r.name, ok=r.ok, violations=r.violations,
                         examples=tuple(r.examples), error=r.error)
        for r in await check_all(ctx))


async def stories(state: StackState, invariants: tuple[InvariantOutcome, ...],
                  events: list[hist.HistoryEvent], windows: list[FaultWindow],
                  load_wall0: float) -> dict[str, OrderStory]:
    """The story of every order a violation names (rows read before the next reset)."""
    order_ids = named_orders(invariants)
    if not order_ids:
        return {}
    rows = await order_rows(state.dsn("seats"), state.dsn("payments"), order_ids)
    return build_stories(order_ids, events, windows, load_wall0, rows)


async def run_strategy(
    strategy: str, scenario: Scenario, schedule: list[ScheduledFault], stack: Stack,
    paths: RunPaths, progress: Progress, monitor: Monitor | None = None,
) -> StrategyRun:
    """One strategy's load, faults, recovery and checks.

    ``monitor`` (optional) runs beside the load from its start until it stops.
    """
    state = await ensure_stack(stack, service_settings(scenario), progress)
    progress.phase(f"{strategy}: resetting data")
    await reset(state, scenario.workload.event_id)
    history_dir = paths.history_dir(strategy)
    history_dir.mkdir(parents=True, exist_ok=True)
    workload_file = paths.workload_file(strategy)
    workload_file.parent.mkdir(parents=True, exist_ok=True)
    workload_file.write_text(workload_for(scenario, strategy, history_dir).to_json())
    plan = LocustPlan(
        host=state.target_url, users=scenario.users, spawn_rate=scenario.spawn_rate,
        duration_s=scenario.duration_s, csv_prefix=paths.csv_prefix(strategy),
        workload_file=workload_file, log_dir=paths.logs, name=strategy,
        shape=scenario.workload.shape, workers=scenario.workers,
        master_port=state.ports["locust_master"],
    )
    locust = LocustProcesses(plan)
    stop = asyncio.Event()
    faults_log = paths.faults_log(strategy)
    faults_log.parent.mkdir(parents=True, exist_ok=True)
    faults_log.touch()
    labels = sorted({f.name for f in schedule})
    progress.phase(
        f"{strategy}: load {scenario.users} users for {scenario.duration_s:g}s"
        f"{f' with {scenario.workers} workers' if scenario.workers else ''}; "
        f"faults: {', '.join(labels) if labels else 'none'}")
    windows: list[FaultWindow] = []
    supplied = SupplyLog()
    watcher: asyncio.Task[None] | None = None
    try:
        t0, load_wall0 = time.monotonic(), time.time()
        await locust.start()
        if monitor is not None:
            watcher = asyncio.create_task(monitor(MonitorContext(
                strategy, state, stack, history_dir, t0, stop)))
        supply_task = asyncio.create_task(run_supply(
            scenario.supply, state, scenario.workload.event_id, scenario.workload.hot_section,
            t0=t0, stop=stop))
        faults_task = asyncio.create_task(run_faults(
            schedule, state, faults_log=faults_log, t0=t0, stop=stop, seed=scenario.seed,
            strategy=strategy))
        watch = asyncio.create_task(progress.watch(
            strategy, plan.csv_prefix, history_dir, faults_log, scenario.duration_s, stop))
        try:
            await _until_load_ends(locust, faults_task, progress, strategy)
        finally:
            stop.set()
            await watch
            windows = await faults_ended(faults_task, strategy, faults_log)
            supplied = await supply_task
            await _finish_monitor(watcher, progress)
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
        await locust.stop()
        progress.phase(f"{strategy}: load stopped; healing every fault")
        await heal_all(state)
    settled = await settle(state, timeout_s=scenario.settle.timeout_s,
                           wait_for_holds=scenario.settle.wait_for_holds,
                           progress=progress.throttled(f"{strategy}: ", SETTLE_PROGRESS_S))
    progress.phase(f"{strategy}: {settled.describe()}")
    events = [e for path in sorted(history_dir.glob("history-*.jsonl"))
              for e in hist.read(path)]
    progress.phase(f"{strategy}: checking invariants")
    invariants = await check(state, events, strategy)
    counts = await coverage_counts(state.dsn("seats"))
    orders = await stories(state, invariants, events, windows, load_wall0)
    total = read_stats(Path(f"{plan.csv_prefix}_stats.csv")).get("Aggregated")
    load = load_summary(total, events)
    thresholds = judge(strategy, scenario.thresholds,
                       LoadMeasures.of(load, total.failures if total else 0, events))
    result = StrategyResult(load=load, faults=tuple(windows), invariants=invariants)
    # vacuous is judged on the result's eight invariants (one the run lost counts as broken)
    result = replace(result, coverage=coverage_of(strategy, counts, not result.broken))
    return StrategyRun(
        result=result,
        thresholds=tuple(thresholds), orders=orders, settled=settled,
        contention=contention(
            events, start=min((e["time"] for e in events), default=0.0),
            duration_s=scenario.duration_s,
            hot=hot_rows(scenario.workload.event_id, scenario.workload.hot_section))
        | {"supply": {"on_sale": scenario.supply.on_sale, **supplied.summary()}})


def merge_files(paths: RunPaths, strategies: tuple[str, ...]) -> int:
    """``history.jsonl`` (time order, all strategies) and ``faults.jsonl``; history lines."""
    files = [p for s in strategies for p in sorted(paths.history_dir(s).glob("history-*.jsonl"))]
    count = hist.merge(files, paths.run_dir / "history.jsonl")
    with (paths.run_dir / "faults.jsonl").open("w", encoding="utf-8") as out:
        for strategy in strategies:
            log = paths.faults_log(strategy)
            if not log.exists():
                continue
            for line in log.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                entry["strategy"] = strategy
                out.write(json.dumps(entry, sort_keys=True) + "\n")
    return count


#: Told each strategy's result as soon as it is done (e.g. the live metrics).
StrategyDone = Callable[[str, StrategyResult], None]


async def run(scenario: Scenario, run_id: str, run_dir: Path, stack: Stack,
              progress: Progress, monitor: Monitor | None = None,
              on_strategy: StrategyDone | None = None) -> Report:
    """The whole run (every strategy of the scenario); returns its report.

    ``monitor`` (optional) runs beside each strategy's load (see :data:`Monitor`);
    ``on_strategy`` (optional) is told each strategy's entry when it is done.
    """
    with exclusive_run(stack.state_dir, f"run {run_id}"):
        return await _run(scenario, run_id, run_dir, stack, progress, monitor, on_strategy)


async def _run(scenario: Scenario, run_id: str, run_dir: Path, stack: Stack,
               progress: Progress, monitor: Monitor | None,
               on_strategy: StrategyDone | None) -> Report:
    schedules = schedules_for(scenario)
    paths = RunPaths(run_dir)
    (run_dir / "scenario.json").write_text(json.dumps(
        {**asdict(scenario), "path": str(scenario.path) if scenario.path else None},
        indent=2, default=str))
    record_scenario(scenario, run_dir)
    started_at = now_iso()
    runs: dict[str, StrategyRun] = {}
    try:
        for strategy in scenario.strategies:
            runs[strategy] = await run_strategy(
                strategy, scenario, schedules[strategy], stack, paths, progress, monitor)
            if on_strategy is not None:
                on_strategy(strategy, runs[strategy].result)
    finally:
        merge_files(paths, tuple(runs) or scenario.strategies)
    (run_dir / "settle.json").write_text(json.dumps(
        {name: {"settled": r.settled.settled, "seconds": round(r.settled.seconds, 3),
                "pending": r.settled.pending, "errors": r.settled.errors}
         for name, r in runs.items()}, indent=2))
    (run_dir / "contention.json").write_text(json.dumps(
        {name: r.contention for name, r in runs.items()}, indent=2))
    return Report(
        run_id=run_id, seed=scenario.seed, scenario=scenario.name, bug=scenario.bug,
        faults=scenario.faults, started_at=started_at, duration_s=float(scenario.duration_s),
        strategies={name: r.result for name, r in runs.items()},
        orders={o: story for r in runs.values() for o, story in r.orders.items()},
        thresholds=tuple(t for r in runs.values() for t in r.thresholds),
    )
