"""One verification run: per strategy, reset -> load + faults -> heal -> settle -> check.

:func:`run` takes a validated :class:`~harness.run.scenario.Scenario` and a run folder and returns
the report (CONTRACT.md section 7). Per strategy, one after another on fresh data:

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import history as hist
from harness.errors import HarnessError
from harness.run import parts
from harness.run.contention import contention, hot_seats
from harness.run.coverage import coverage_of, strategy_verdict
from harness.run.load_stats import load_summary
from harness.run.locust_proc import LocustPlan, LocustProcesses
from harness.run.progress import Progress
from harness.run.scenario import Scenario
from harness.run.settle import settle
from harness.stack import ServiceSettings, Stack, StackState
from locustfiles.workload import Workload
from target_service.introspection import coverage_counts


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
    raw = dict(scenario.service.env).get("LOCK_LEASE_MS")
    try:
        return float(raw) / 1000.0 if raw else None
    except ValueError:
        return None


def workload_for(scenario: Scenario, strategy: str, history_dir: Path) -> Workload:
    return Workload.of(
        scenario.workload, strategy=strategy, seed=scenario.seed, users=scenario.users,
        spawn_rate=scenario.spawn_rate, duration_s=scenario.duration_s,
        history_dir=str(history_dir), retry=scenario.retry,
    )


def schedules_for(scenario: Scenario) -> dict[str, list[Any]]:
    """Every strategy's fault schedule, built before anything is touched (bad input: exit 2)."""
    return {
        strategy: parts.build_schedule(
            scenario.faults, scenario.schedule, seed=scenario.seed,
            duration_s=scenario.duration_s, strategy=strategy,
            lock_lease_s=lock_lease_s(scenario),
            target_processes=scenario.service.target_processes,
            service_env=service_settings(scenario).extra_env)
        for strategy in scenario.strategies
    }


async def ensure_stack(stack: Stack, wanted: ServiceSettings, progress: Progress) -> StackState:
    """The running stack with ``wanted`` service settings, faults healed."""
    if not stack.running():
        progress.phase("starting the stack")
        state = await stack.up(services=wanted)
    else:
        state = stack.require_state()
        if state.services != wanted:
            progress.phase(f"restarting the service (bug: {wanted.bug or 'none'})")
            state = await stack.restart_services(wanted)
    await parts.heal(state)
    return state


async def reset(state: StackState, event_id: str) -> None:
    """Wipe the run data; seed the default events and, if extra, the buyers' ``event_id``."""
    from target_service.seed import events_for, reset_data

    await reset_data(state.dsn("seats"), state.dsn("payments"), redis_url=state.redis_url(),
                     event_seed=events_for(event_id))


#: after the load, how long the fault schedule may take to stop its faults
FAULTS_END_S = 120.0


async def faults_ended(task: asyncio.Task[list[dict[str, Any]]], strategy: str,
                       faults_log: Path, *, limit_s: float = FAULTS_END_S
                       ) -> list[dict[str, Any]]:
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


async def run_strategy(
    strategy: str, scenario: Scenario, schedule: list[Any], stack: Stack, paths: RunPaths,
    progress: Progress, monitor: Monitor | None = None,
) -> dict[str, Any]:
    """One strategy's load, faults, recovery and checks; its report entry.

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
    labels = sorted({getattr(f, "name", "?") for f in schedule})
    progress.phase(
        f"{strategy}: load {scenario.users} users for {scenario.duration_s:g}s"
        f"{f' with {scenario.workers} workers' if scenario.workers else ''}; "
        f"faults: {', '.join(labels) if labels else 'none'}")
    windows: list[dict[str, Any]] = []
    watcher: asyncio.Task[None] | None = None
    try:
        t0 = time.monotonic()
        await locust.start()
        if monitor is not None:
            watcher = asyncio.create_task(monitor(MonitorContext(
                strategy, state, stack, history_dir, t0, stop)))
        faults_task = asyncio.create_task(parts.run_faults(
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
            await _finish_monitor(watcher, progress)
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
        await locust.stop()
        progress.phase(f"{strategy}: load stopped; healing every fault")
        await parts.heal(state)
    settled = await settle(state, timeout_s=scenario.settle.timeout_s,
                           wait_for_holds=scenario.settle.wait_for_holds)
    progress.phase(f"{strategy}: {settled.describe()}")
    events = [e for path in sorted(history_dir.glob("history-*.jsonl"))
              for e in hist.read(path)]
    progress.phase(f"{strategy}: checking invariants")
    invariants = await parts.check(state, events, strategy)
    counts = await coverage_counts(state.dsn("seats"))
    return {
        "load": load_summary(Path(f"{plan.csv_prefix}_stats.csv"), events),
        "faults": windows,
        "invariants": invariants,
        "coverage": coverage_of(strategy, counts, strategy_verdict(invariants)),
        "settle": {"settled": settled.settled, "seconds": round(settled.seconds, 3),
                   "pending": settled.pending, "errors": settled.errors},
        "contention": contention(
            events, start=min((e["time"] for e in events), default=0.0),
            duration_s=scenario.duration_s,
            hot=hot_seats(scenario.workload.event_id, scenario.workload.hot_section)),
    }


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


async def run(scenario: Scenario, run_id: str, run_dir: Path, stack: Stack,
              progress: Progress, monitor: Monitor | None = None) -> dict[str, Any]:
    """The whole run (every strategy of the scenario); returns the report document.

    ``monitor`` (optional) runs beside each strategy's load (see :data:`Monitor`).
    """
    schedules = schedules_for(scenario)
    if scenario.faults != "none" and not parts.fault_layer_ready():
        progress.phase(f"faults {scenario.faults!r}: the fault layer is not in this build yet; "
                       "running without faults")
    paths = RunPaths(run_dir)
    (run_dir / "scenario.json").write_text(json.dumps(
        {**asdict(scenario), "path": str(scenario.path) if scenario.path else None},
        indent=2, default=str))
    started_at = parts.now_iso()
    strategies: dict[str, Any] = {}
    try:
        for strategy in scenario.strategies:
            strategies[strategy] = await run_strategy(
                strategy, scenario, schedules[strategy], stack, paths, progress, monitor)
    finally:
        merge_files(paths, tuple(strategies) or scenario.strategies)
    report_strategies = {
        name: {k: v for k, v in entry.items() if k in ("load", "faults", "invariants", "coverage")}
        for name, entry in strategies.items()
    }
    verdict = "pass" if all(
        inv["ok"] for entry in strategies.values() for inv in entry["invariants"]) else "fail"
    (run_dir / "settle.json").write_text(json.dumps(
        {name: entry["settle"] for name, entry in strategies.items()}, indent=2))
    (run_dir / "contention.json").write_text(json.dumps(
        {name: entry["contention"] for name, entry in strategies.items()}, indent=2))
    return {
        "schema": 1, "run_id": run_id, "seed": scenario.seed, "scenario": scenario.name,
        "bug": scenario.bug, "faults": scenario.faults, "started_at": started_at,
        "duration_s": float(scenario.duration_s), "verdict": verdict,
        "strategies": report_strategies,
    }
