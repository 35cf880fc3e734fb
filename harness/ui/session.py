"""One `harness ui` session: prepare the stack, run Locust's web UI, and end with a verdict.

Guarantees, in order:

1. the buyers' events exist (seeded when missing; nothing else on the stack is touched);
2. the invariants are checked once before any load: that **baseline** is what the stack already
   had, and both the live Invariants tab and the final verdict count only what broke since;
3. while Locust runs (its own process, so gevent never shares this asyncio one), the stack's
   active faults are polled into the session's fault windows, whoever injected them;
4. the session ends when Locust exits, on Ctrl-C or on SIGTERM (both are forwarded to Locust as
   one SIGTERM, which stops its users and writes its CSV files); then every fault is healed,
   recovery runs (with a progress line), every invariant is checked over the databases and the
   session's history, and ``reports/<run-id>/`` gets a report like `harness run`'s. A signal
   while the faults are healed is only reported; one during recovery or the checks stops the
   session as it stops `harness run` (:mod:`harness.interrupt`: exit 130 or 143, no report).

:func:`run_session` returns the exit code: 0 nothing broke, 1 an invariant broke during the
session, 3 the stack is not running.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.faults import FAULTS
from chaos.runner import FaultWindow
from harness import interrupt, live
from harness.contract import history as hist
from harness.errors import EXIT_OK, EXIT_VIOLATION, StackError
from harness.report import write_report
from harness.report.model import InvariantOutcome, Report, StrategyResult
from harness.run.load_stats import load_summary, read_stats
from harness.run.locust_proc import BUYER, LOCUSTFILES, die_with_parent
from harness.run.loop import SETTLE_PROGRESS_S, workload_for
from harness.run.progress import Progress
from harness.run.scenario import Scenario
from harness.run.settle import settle
from harness.soak.periodic import midrun_safe
from harness.stack import Stack, StackState
from harness.stack.heal import heal_all
from harness.ui.baseline import Baseline
from harness.ui.fault_watch import FaultWatcher
from invariants import CheckContext, check_all
from invariants.base import MAX_EXAMPLES
from target_service.seed import events_for, seed_missing_events

INVARIANTS_TAB = LOCUSTFILES / "invariants_tab.py"
PANEL = LOCUSTFILES / "harness_panel.py"
#: The environment variable that points the web UI's process at the session file.
SESSION_ENV = "HARNESS_UI_SESSION"
#: Examples per invariant in the baseline (more makes "new since the start" more exact).
BASELINE_EXAMPLES = 500
#: A Locust that exits on its own this soon with an error never served the UI.
STARTUP_S = 10.0
#: How often the stack's active faults are polled.
FAULT_POLL_S = 2.0


@dataclass(frozen=True, slots=True)
class SessionPaths:
    """Where one session's files go (its run folder, as `harness run` lays one out)."""

    run_dir: Path
    strategy: str

    @property
    def session_file(self) -> Path:
        return self.run_dir / "session.json"

    @property
    def history_dir(self) -> Path:
        return self.run_dir / "histories" / self.strategy

    @property
    def faults_log(self) -> Path:
        return self.run_dir / "faults.jsonl"

    @property
    def active_file(self) -> Path:
        return self.run_dir / "active-faults.json"

    @property
    def csv_prefix(self) -> Path:
        return self.run_dir / self.strategy


def _say(message: str) -> None:
    print(f"[ui] {message}", file=sys.stderr, flush=True)


async def _results(state: StackState, history: list[hist.HistoryEvent] | None,
                   max_examples: int = MAX_EXAMPLES) -> list[dict[str, Any]]:
    """Every invariant over the whole stack, as the live tab's `harness check` sees it (not
    limited to one strategy: the baseline, the tab and the verdict count the same rows)."""
    ctx = CheckContext(state.dsn("seats"), state.dsn("payments"), history=history,
                       max_examples=max_examples)
    return [r.to_json() for r in await check_all(ctx)]


def session_doc(run_id: str, scenario: Scenario, strategy: str, state: StackState,
                paths: SessionPaths, baseline: Baseline, started_wall: float) -> dict[str, Any]:
    """What the web UI's process needs to know about the session (``session.json``)."""
    return {
        "run_id": run_id, "strategy": strategy, "bug": state.services.bug,
        "scenario": scenario.name, "event_id": scenario.workload.event_id,
        "state_dir": str(state.state_dir), "run_dir": str(paths.run_dir),
        "started_wall": started_wall, "baseline": baseline.to_json(),
        "anytime": list(midrun_safe(strategy)), "active_file": str(paths.active_file),
        "fault_kinds": {kind: {"doc": cls.doc, "targets": _targets(cls.valid_targets(), state)}
                        for kind, cls in FAULTS.items()},
    }


def _targets(valid: Sequence[str], state: StackState) -> list[str]:
    """A fault's targets, with the placeholder ``target-<n>`` spelled out for this stack."""
    out: list[str] = []
    for target in valid:
        if target == "target-<n>":
            out += [f"target-{i}" for i in range(state.services.target_processes)]
        else:
            out.append(target)
    return out


class _Stopper:
    """Ctrl-C / SIGTERM: forward one SIGTERM to Locust (its own session), then wait for it; a
    signal while the faults are healed afterwards is only reported."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.signalled = False

    def __call__(self) -> None:
        if self.proc.returncode is not None:
            _say("the load is over; healing every fault (a signal does not interrupt that)")
            return
        if not self.signalled:
            _say("stopping the load (Locust writes its statistics); then heal, recover, check")
            self.signalled = True
            self.proc.send_signal(signal.SIGTERM)
        else:
            _say("still stopping; Locust is finishing its users")


async def run_session(scenario: Scenario, strategy: str, stack: Stack, run_id: str,
                      run_dir: Path) -> tuple[int, Report]:
    """The whole session (see the module doc); (exit code, report)."""
    state = stack.require_state()
    paths = SessionPaths(run_dir, strategy)
    paths.history_dir.mkdir(parents=True, exist_ok=True)
    seeded = await seed_missing_events(state.dsn("seats"), events_for(scenario.workload.event_id))
    if seeded:
        _say(f"seeded the missing events: {', '.join(seeded)}")
    baseline = Baseline.of(await _results(state, None, BASELINE_EXAMPLES))
    before = {k: v for k, v in baseline.counts.items() if v}
    if before:
        _say("already broken before this session (not counted): "
             + ", ".join(f"{k}={v}" for k, v in sorted(before.items())))
    (run_dir / "baseline.json").write_text(json.dumps(baseline.to_json(), indent=2))
    workload_file = run_dir / "workload.json"
    workload_file.write_text(workload_for(scenario, strategy, paths.history_dir).to_json())
    started_wall, started_at = time.time(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    paths.session_file.write_text(json.dumps(session_doc(
        run_id, scenario, strategy, state, paths, baseline, started_wall), indent=2))
    paths.faults_log.touch()
    port = state.ports["locust_web"]
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "locust", "-f", f"{BUYER},{INVARIANTS_TAB},{PANEL}",
        "--host", state.target_url, "--web-host", "127.0.0.1", "--web-port", str(port),
        "--users", str(scenario.users), "--spawn-rate", f"{scenario.spawn_rate:g}",
        "--workload", str(workload_file), "--csv", str(paths.csv_prefix), "--csv-full-history",
    ]
    env = {**os.environ, "HARNESS_STATE_DIR": str(state.state_dir),
           SESSION_ENV: str(paths.session_file)}
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, start_new_session=True,
                                                preexec_fn=die_with_parent)
    watcher = FaultWatcher(state, log=paths.faults_log, snapshot=paths.active_file, t0=t0,
                           every_s=FAULT_POLL_S)
    stop = asyncio.Event()
    watching = asyncio.create_task(watcher.run(stop))
    stopper = _Stopper(proc)
    _say(f"Locust web UI: {url}  (strategy {strategy}, bug {state.services.bug or 'none'}; "
         f"report in {run_dir}; Ctrl-C ends the session with a verdict)")
    with interrupt.redirected(stopper):  # until every fault is healed
        try:
            with live.announce(state.state_dir, live.UI, {"url": url, "run_dir": str(run_dir),
                                                          "strategy": strategy}):
                await proc.wait()
        finally:
            stop.set()
            await watching
        duration_s = time.monotonic() - t0
        if not stopper.signalled and proc.returncode and duration_s < STARTUP_S:
            raise StackError(f"Locust exited at once (exit {proc.returncode}; its messages are "
                             f"above): no session ran, nothing was checked")
        _say("session over: healing every fault")
        healed = await heal_all(state)
    _say(f"healed: {healed.summary()}")
    settled = await settle(state, timeout_s=scenario.settle.timeout_s,
                           wait_for_holds=scenario.settle.wait_for_holds,
                           progress=Progress().throttled("session: ", SETTLE_PROGRESS_S))
    _say(settled.describe())
    events = [e for p in sorted(paths.history_dir.glob("history-*.jsonl")) for e in hist.read(p)]
    hist.merge(sorted(paths.history_dir.glob("history-*.jsonl")), run_dir / "history.jsonl")
    _say(f"checking invariants over {len(events)} history events")
    results = [baseline.since(r) for r in await _results(state, events)]
    windows = watcher.windows.all()
    total = read_stats(Path(f"{paths.csv_prefix}_stats.csv")).get("Aggregated")
    report = Report(
        run_id=run_id, seed=scenario.seed, scenario=scenario.name, bug=state.services.bug,
        faults="manual" if windows else "none", started_at=started_at,
        duration_s=round(duration_s, 3),
        strategies={strategy: StrategyResult(
            load=load_summary(total, events),
            faults=tuple(FaultWindow(str(w["name"]), str(w["target"]), float(w["start_s"]),
                                     duration_s if w["end_s"] is None else float(w["end_s"]))
                         for w in windows),
            invariants=tuple(InvariantOutcome.from_json(r, "check") for r in results))},
    )
    (run_dir / "settle.json").write_text(json.dumps({strategy: {
        "settled": settled.settled, "seconds": round(settled.seconds, 3),
        "pending": settled.pending, "errors": settled.errors}}, indent=2))
    write_report(run_dir, report)
    return (EXIT_OK if report.verdict == "pass" else EXIT_VIOLATION), report
