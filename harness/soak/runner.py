"""One soak: a long run (``harness.run.loop``) with checks and resource samples beside the load.

:func:`soak` runs the scenario through the run loop with two monitors beside each strategy's
load: a :class:`~harness.soak.periodic.PeriodicChecker` (the mid-run-safe invariants every
``check_every_s``) and a :class:`~harness.soak.sampler.ResourceSampler` (every
``sample_every_s``). The run folder gets the usual run report plus ``soak.json`` (verdict,
reasons, trends, periodic checks), ``samples.csv`` (every sample) and the report section.

The soak fails (verdict ``fail``) when an invariant fails at the end, a violation is confirmed
during the load, or a resource series grows after warm-up (a leak or a growing backlog).
"""

from __future__ import annotations

import asyncio
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.report import write_report
from harness.report.html import SECTIONS_DIR
from harness.report.model import Report
from harness.run import loop
from harness.run.live_metrics import LiveMetrics, serving
from harness.run.loop import MonitorContext
from harness.run.progress import Progress
from harness.run.scenario import Scenario
from harness.soak import leak
from harness.soak.periodic import PeriodicChecker
from harness.soak.sampler import CSV_HEADER, ResourceSampler
from harness.soak.section import section_html
from harness.stack import Stack


@dataclass(frozen=True, slots=True)
class SoakSettings:
    """How often to check and sample, and how the trends are judged."""

    check_every_s: float = 60.0
    sample_every_s: float = 10.0
    confirm_s: float = 5.0
    warmup_frac: float = 0.2
    warmup_min_s: float = 30.0
    min_span_s: float = 120.0


class SoakMonitor:
    """Both monitors beside one load (they run concurrently and end with it)."""

    def __init__(self, settings: SoakSettings, progress: Progress) -> None:
        self.checker = PeriodicChecker(every_s=settings.check_every_s,
                                       default_confirm_s=settings.confirm_s,
                                       log=progress.phase)
        self.sampler = ResourceSampler(settings.sample_every_s)

    async def __call__(self, ctx: MonitorContext) -> None:
        await asyncio.gather(self.checker(ctx), self.sampler(ctx))


def soak_document(report: Report, monitor: SoakMonitor, settings: SoakSettings
                  ) -> dict[str, Any]:
    """``soak.json``: the verdict, the reasons for a failure, trends and periodic checks."""
    reasons: list[str] = []
    broken = sorted({f"{s}/{i.name}" for s, r in report.strategies.items() for i in r.broken})
    if broken:
        reasons.append(f"invariants violated at the end: {', '.join(broken)}")
    reasons.extend(f"threshold {th.name}: {th.value:g} (limit {th.limit:g})"
                   for th in report.failed_thresholds)
    strategies: dict[str, Any] = {}
    for strategy in report.strategies:
        periodic = monitor.checker.summary(strategy)
        for c in periodic["confirmed"]:
            reasons.append(f"{strategy}: {c['name']} violated during the load (first seen "
                           f"{c['first_seen_s']:g}s, confirmed {c['confirmed_at_s']:g}s)")
        trends = leak.trends(monitor.sampler.series(strategy), warmup_frac=settings.warmup_frac,
                             warmup_min_s=settings.warmup_min_s,
                             min_span_s=settings.min_span_s)
        for t in trends:
            if t.failed:
                reasons.append(
                    f"{strategy}: {t.metric} of {t.component} grows {t.slope_per_h:.1f}/h "
                    f"(limit {t.limit_per_h:.1f}/h; {t.first_median:g} -> {t.last_median:g})")
        strategies[strategy] = {"periodic": periodic, "trends": [t.to_json() for t in trends]}
    return {
        "schema": 1, "run_id": report.run_id, "verdict": "fail" if reasons else "pass",
        "reasons": reasons, "check_every_s": settings.check_every_s,
        "sample_every_s": settings.sample_every_s, "confirm_s": settings.confirm_s,
        "leak_rules": {k: {"per_hour_abs": r.per_hour_abs, "per_hour_rel": r.per_hour_rel,
                           "min_delta": r.min_delta} for k, r in leak.RULES.items()},
        "strategies": strategies,
    }


def write_files(run_dir: Path, report: Report, doc: dict[str, Any],
                monitor: SoakMonitor) -> None:
    """``soak.json``, ``samples.csv`` and the report section (before the HTML is rendered)."""
    (run_dir / "soak.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    with (run_dir / "samples.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        writer.writerows(s.row() for s in monitor.sampler.samples)
    sections = run_dir / SECTIONS_DIR
    sections.mkdir(exist_ok=True)
    series = {s: monitor.sampler.series(s) for s in report.strategies}
    faults = {s: list(r.faults) for s, r in report.strategies.items()}
    (sections / "50-soak.html").write_text(
        section_html(doc, series, faults, report.duration_s), encoding="utf-8")


async def soak(scenario: Scenario, run_id: str, run_dir: Path, stack: Stack,
               progress: Progress, settings: SoakSettings) -> tuple[Report, dict[str, Any]]:
    """Run the soak; (run report, soak document). Writes every file of the run folder.

    Its live counters (with the periodic checks' latest counts) are served in Prometheus
    format while it runs (:mod:`harness.run.live_metrics`)."""
    monitor = SoakMonitor(settings, progress)
    metrics = LiveMetrics(run_dir, stack)
    metrics.follow(lambda: monitor.checker.observations)
    async with serving(metrics, run_id=run_id) as url:
        progress.phase(f"live metrics (Prometheus): {url}")
        report = await loop.run(scenario, run_id, run_dir, stack, progress, monitor,
                                on_strategy=metrics.observe_strategy)
    doc = soak_document(report, monitor, settings)
    write_files(run_dir, report, doc, monitor)
    write_report(run_dir, report)
    return report, doc
