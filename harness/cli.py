"""The ``harness`` command line (docs/contract.md section 2).

Each subcommand's handler lives in a module named for what it does and is imported only when that
subcommand runs, so `harness status` never pays for Locust or the report renderer. Handlers take
the parsed arguments and return the exit code; HarnessError subclasses carry their own code.
Ctrl-C and SIGTERM stop a command after its cleanup (every fault healed; :mod:`harness.interrupt`)
with exit code 130 and 143.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.durations import parse_duration
from harness.errors import HarnessError
from harness.interrupt import Interrupted, install
from target_service.strategies import STRATEGIES

#: subcommand -> "module:function" of its handler.
HANDLERS: dict[str, str] = {
    "up": "harness.commands.stack_cmds:up",
    "down": "harness.commands.stack_cmds:down",
    "status": "harness.commands.stack_cmds:status",
    "run": "harness.commands.run_cmd:run",
    "demo": "harness.commands.run_cmd:demo",
    "check": "harness.commands.check_cmd:check",
    "chaos": "harness.commands.chaos_cmd:chaos",
    "faults": "harness.commands.chaos_cmd:faults",
    "bugs": "harness.commands.bugs_cmd:bugs",
    "coverage": "harness.commands.coverage_cmd:coverage",
    "ui": "harness.commands.ui_cmd:ui",
    "report": "harness.commands.report_cmd:report",
    "matrix": "harness.commands.matrix_cmd:matrix",
    "soak": "harness.commands.soak_cmd:soak_cmd",
    "replay": "harness.commands.replay_cmd:replay",
    "shrink": "harness.commands.shrink_cmd:shrink",
    "matrix-merge": "harness.commands.matrix_cmd:merge",
}


#: The shipped scenario, whose values are the defaults of `run`'s flags.
DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "default.toml"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog can be computed only when its help is shown (so that
    `harness status` never imports the fault layer to describe `harness chaos`)."""

    lazy_epilog: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog = self.lazy_epilog()
        return super().format_help()


def _fault_kinds() -> str:
    from chaos.faults import FAULTS

    width = max(map(len, FAULTS))
    lines = [f"  {kind:<{width}}  {cls.doc}" for kind, cls in FAULTS.items()]
    return ("faults (`harness faults` lists each one's targets and the fault schedules):\n"
            + "\n".join(lines) + "\n\nexample: harness chaos partition redis --for 15s")


def _scenario_defaults() -> dict[str, Any]:
    try:
        with DEFAULT_SCENARIO.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if not 1024 <= value <= 65000:
        raise argparse.ArgumentTypeError(f"base port must be within 1024..65000: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness",
        description="Load-and-chaos verification of a multi-store booking system.",
    )
    parser.add_argument(
        "--state-dir", help="the stack's state folder (default: $HARNESS_STATE_DIR or ./.state)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    up = sub.add_parser("up", help="start the local stack (all on 127.0.0.1)")
    up.add_argument("--base-port", type=_port, help="first port of the stack's block of 20")
    up.add_argument("--target-processes", type=_positive_int, default=None,
                    help="target service processes (default 2)")
    up.add_argument("--bug", help="start the service with this seeded bug (see `harness bugs`)")
    sub.add_parser("down", help="stop the stack and whatever a crashed run left behind")
    status = sub.add_parser("status", help="what runs, with URLs and DSNs")
    status.add_argument("--json", action="store_true", help="print JSON")

    shipped = _scenario_defaults()

    def run_flags(p: argparse.ArgumentParser, **given: str) -> None:
        """`run`'s flags; each help names its default (the scenario's, or ``given``)."""

        def default(key: str) -> str:
            value = given.get(key, shipped.get(key))
            return f"(default: {value if value not in (None, '') else 'none'}"\
                   f"{'' if key in given else ', from the scenario'})"

        p.add_argument("--scenario", help="scenario TOML file (default: the shipped "
                                          "harness/scenarios/default.toml)")
        p.add_argument("--strategy", choices=[*STRATEGIES, "all"],
                       help=f"strategy to run {default('strategy')}")
        p.add_argument("--faults", help="fault schedule name (see `harness faults`) "
                                        f"{default('faults')}")
        p.add_argument("--bug", help=f"seeded bug name (see `harness bugs`) {default('bug')}")
        p.add_argument("--users", type=_positive_int,
                       help=f"concurrent simulated buyers {default('users')}")
        p.add_argument("--duration", type=_duration,
                       help=f"load duration per strategy, e.g. 60s or 2m {default('duration')}")
        p.add_argument("--seed", type=int, help="seed for the workload and the fault schedule "
                                                f"{default('seed')}")
        p.add_argument("--workers", type=int, help="Locust worker processes (0: no master) "
                                                   f"{default('workers')}")
        p.add_argument("--out", help="report folder (default: reports/<run-id>)")

    run_flags(sub.add_parser("run", help="one verification run: load + faults + checks + report"))
    demo = sub.add_parser("demo", help="the default scenario, every strategy, faults `mixed`")
    run_flags(demo, strategy="all", faults="mixed")

    check = sub.add_parser("check", help="check the invariants on the current database state")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument("--history", help="a history.jsonl to check against as well")

    chaos = sub.add_parser("chaos", help="inject one fault by hand, or `chaos heal`",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    chaos.lazy_epilog = _fault_kinds
    chaos.add_argument("fault", help="fault name, or `heal`")
    chaos.add_argument("target", nargs="?", help="proxy or process group to break")
    chaos.add_argument("--for", dest="for_s", type=_duration,
                       help="heal after this long (default: the fault stays until "
                            "`harness chaos heal`)")
    chaos.add_argument("--param", action="append", metavar="KEY=VALUE",
                       help="fault parameter, repeatable (e.g. latency_ms=300)")
    chaos.add_argument("--seed", type=int, help="seed for choices the fault makes")

    ui = sub.add_parser("ui", help="the Locust web UI against the running stack")
    ui.add_argument("--scenario", help="scenario TOML file (workload and load defaults)")
    ui.add_argument("--strategy", choices=STRATEGIES,
                    help="strategy (default: the scenario's, saga when it says all)")
    report = sub.add_parser("report", help="re-render a run's HTML from its files")
    report.add_argument("dir", help="the run's report folder")
    soak = sub.add_parser("soak", help="a long run (faults `mixed`) with checks during the load "
                                       "and resource trends",
                          description="A long run: faults `mixed`, 30 minutes per strategy unless "
                                      "--duration says otherwise. Without --scenario the buyers "
                                      "shop in the 15,640-seat event `evt_arena` (half of it "
                                      "sold after 30 minutes on 2 cores; a 2pc soak in "
                                      "`evt_default` sells out within minutes, and then a run "
                                      "exercises conflicts only).")
    run_flags(soak, faults="mixed", duration="30m")
    soak.add_argument("--check-every", type=_duration, help="invariant checks during the load "
                                                            "(default 60s)")
    soak.add_argument("--sample-every", type=_duration, help="resource samples (default 10s)")
    matrix = sub.add_parser("matrix", help="every strategy x fault schedule and every seeded "
                                           "bug, for several seeds")
    matrix.add_argument("--seeds", type=_positive_int, default=3, help="seeds per cell "
                                                                       "(default 3)")
    matrix.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    matrix.add_argument("--duration", type=_duration, help="load per cell (default 30s)")
    matrix.add_argument("--users", type=_positive_int, help="buyers per cell")
    matrix.add_argument("--strategies", help="comma-separated strategies (default all)")
    matrix.add_argument("--schedules", help="comma-separated fault schedules (default: "
                                            "every one; an empty value skips the grid)")
    matrix.add_argument("--bugs", help="comma-separated seeded bugs (default: every one; "
                                       "`none` skips them)")
    matrix.add_argument("--check-every", type=_duration,
                        help="checks during a bug cell's load (default 5s)")
    matrix.add_argument("--scenario", help="scenario TOML file (workload and service tuning)")
    matrix.add_argument("--out", help="report folder (default reports/<matrix-id>)")
    matrix.add_argument("--shard", metavar="I/N",
                        help="run only the I-th of N deterministic shares of the cells "
                             "(1 <= I <= N); merge the shards with `harness matrix merge`")
    merge = sub.add_parser("matrix-merge", prog="harness matrix merge",
                           help="(`harness matrix merge DIR...`) merge matrix shard folders")
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="the shards' matrix folders")
    merge.add_argument("--out", help="merged report folder (default reports/<matrix-id>)")
    replay = sub.add_parser("replay", help="run again what a run recorded: scenario, seed, bug "
                                           "and its fault timeline")
    replay.add_argument("run_dir", metavar="RUN_DIR", help="the run's report folder")
    replay.add_argument("--out", help="report folder (default reports/<run-id>)")
    shrink = sub.add_parser("shrink", help="reduce a failing run to a smaller scenario that "
                                           "still fails M of K re-runs")
    shrink.add_argument("run_dir", metavar="RUN_DIR", help="the failing run's report folder")
    shrink.add_argument("--tries", type=_positive_int, default=3,
                        help="re-runs per candidate, K (default 3)")
    shrink.add_argument("--need", type=_positive_int, default=2,
                        help="failing re-runs a candidate needs, M (default 2)")
    shrink.add_argument("--budget", type=_duration, default=15 * 60.0,
                        help="stop with the best so far after this long (default 15m)")
    shrink.add_argument("--out", help="folder for min.toml, shrink.jsonl and the re-runs "
                                      "(default reports/<run-id>-shrink)")
    sub.add_parser("faults", help="list the fault schedules")
    sub.add_parser("bugs", help="list the seeded bugs")
    sub.add_parser("coverage", help="list, per strategy, the dangerous situations a run counts")
    return parser


def _subcommand_pairs(argv: list[str]) -> list[str]:
    """``matrix merge ...`` -> ``matrix-merge ...`` (the command is the first bare word)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1 if "=" in argv[i] or argv[i] in ("-h", "--help") else 2
    if argv[i:i + 2] == ["matrix", "merge"]:
        return [*argv[:i], "matrix-merge", *argv[i + 2:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_subcommand_pairs(list(sys.argv[1:] if argv is None else argv)))
    module_name, _, func_name = HANDLERS[args.command].partition(":")
    handler = getattr(importlib.import_module(module_name), func_name)
    install()  # SIGTERM ends a command as Ctrl-C does: cleanup first (harness.interrupt)
    try:
        return int(handler(args))
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print(f"harness: interrupted by {exc.name}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `harness faults | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
