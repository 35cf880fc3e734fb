"""Fault kinds, parameters, named schedules and the inline parser, without a stack."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.errors import InvalidParams, InvalidTarget, ScheduleError, UnknownFault
from chaos.faults import FAULTS, make
from chaos.faults.pause import lock_holder
from chaos.inline import parse_inline
from chaos.schedules import MIXABLE, SCHEDULES, build, window, window_of
from harness.errors import EXIT_USAGE
from harness.stack.control import ProcessInfo
from harness.topology import PROXY_NAMES
from target_service.introspection import LockHold, Seat, crash_gaps
from target_service.strategies import STRATEGIES

#: The test's oracle: the names docs/contract.md section 5.1 fixes, spelled out so that a change
#: to chaos.schedules.SCHEDULES (the one list the code imports) cannot change them unnoticed.
CONTRACT_SCHEDULES = (
    "none", "redis-partition", "redis-latency", "payments-partition", "payments-latency",
    "payments-blackhole", "target-blackhole", "pg-latency", "pg-reset", "service-pause",
    "service-kill", "coordinator-crash", "mixed",
)


#: schedules beyond the contract's: white-box adversaries, each its own schedule
WHITE_BOX = ("lock-takeover-relay",)


def test_every_contract_schedule_exists_with_a_one_line_doc() -> None:
    # the contract's names, in its order; more may be added (docs/contract.md section 5.1)
    assert tuple(n for n in SCHEDULES if n in CONTRACT_SCHEDULES) == CONTRACT_SCHEDULES
    assert set(SCHEDULES) - set(CONTRACT_SCHEDULES) == {"explore", *WHITE_BOX}
    for spec in SCHEDULES.values():
        assert spec.doc and "\n" not in spec.doc


def test_mixed_never_draws_a_white_box_adversary() -> None:
    assert [n for n in WHITE_BOX if SCHEDULES[n].white_box] == list(WHITE_BOX)
    assert not set(MIXABLE) & {n for n, s in SCHEDULES.items() if s.white_box}
    drawn = {e.fault for seed in range(20)
             for e in build("mixed", seed=seed, duration_s=300, strategy="lock")}
    assert "pause" in drawn and "lock-takeover-relay" not in drawn


def test_fault_table_is_explicit_and_every_kind_names_itself() -> None:
    assert set(FAULTS) >= {"partition", "blackhole", "half-open", "latency", "bandwidth",
                           "reset_peer", "slow_close", "limit_data", "pause", "kill", "crash",
                           "explore"}
    for kind, cls in FAULTS.items():
        assert cls.kind == kind and cls.doc


def test_unknown_fault_target_and_params_are_usage_errors_naming_them() -> None:
    with pytest.raises(UnknownFault, match=r"'nope'.*partition") as unknown:
        make("nope", "redis")
    assert unknown.value.exit_code == EXIT_USAGE
    with pytest.raises(InvalidTarget, match=r"'partition' cannot target 'mysql'.*seats_pg"):
        make("partition", "mysql")
    with pytest.raises(InvalidParams, match="'latency_ms'='300' must be an integer"):
        make("latency", "redis", {"latency_ms": "300"})
    with pytest.raises(InvalidParams, match="unknown parameter 'latency'"):
        make("latency", "redis", {"latency": 300})
    with pytest.raises(InvalidParams, match="'jitter_ms'=400 must be <= latency_ms"):
        make("latency", "redis", {"latency_ms": 300, "jitter_ms": 400})
    with pytest.raises(InvalidParams, match="must be >= 1"):
        make("limit_data", "redis", {"bytes": 0})
    with pytest.raises(InvalidParams, match="must be true or false"):
        make("pause", "target", {"holding_locks": 1})
    with pytest.raises(InvalidTarget, match="2pc-after-prepare"):
        make("crash", "after-nothing")


def test_defaults_and_typed_params() -> None:
    fault = make("latency", "redis", {"latency_ms": 250, "jitter_ms": 50})
    assert fault.describe() == {
        "fault": "latency", "target": "redis",
        "params": {"latency_ms": 250, "jitter_ms": 50, "stream": "downstream"},
    }
    assert make("pause", "target-3").target == "target-3"


@pytest.mark.parametrize("name", CONTRACT_SCHEDULES)
@pytest.mark.parametrize("duration", [20.0, 60.0, 300.0])
def test_schedules_stay_inside_the_load_window_and_are_valid(name: str, duration: float) -> None:
    schedule = build(name, seed=7, duration_s=duration, strategy="2pc")
    lead, end = window_of(name, duration)
    assert lead > 0 and end < duration
    assert (lead, end) == window(duration) or (name == "mixed" and lead < window(duration)[0])
    for entry in schedule:
        assert lead <= entry.start_s and entry.end_s <= end + 1e-6, entry
        entry.make()  # every entry is a valid fault
        assert entry.label == name or (name == "mixed" and entry.label in MIXABLE)
    if name != "none":
        assert schedule, f"{name} injects nothing in {duration}s"


def test_schedules_aim_at_what_they_must_expose() -> None:
    def one(name: str, strategy: str | None = "2pc") -> list[tuple[str, str, dict[str, object]]]:
        return [(e.fault, e.target, dict(e.params))
                for e in build(name, seed=1, duration_s=60, strategy=strategy)]

    assert one("payments-blackhole")[0] == ("half-open", "payments_api", {"stream": "downstream"})
    assert one("target-blackhole")[0] == ("half-open", "target_api", {"stream": "downstream"})
    assert one("coordinator-crash")[0][:2] == ("crash", "2pc-after-prepare")
    assert one("coordinator-crash", "lock")[0][:2] == ("crash", crash_gaps("lock")[0])
    assert {t for _, t, _ in one("pg-latency")} == {"seats_pg", "payments_pg"}
    pauses = build("service-pause", seed=1, duration_s=60, strategy="lock", lock_lease_s=2.0)
    assert pauses and all(p.fault == "pause" and p.duration_s > 2.0 * 3 for p in pauses)
    longer = build("service-pause", seed=1, duration_s=120, strategy="lock", lock_lease_s=5.0)
    assert all(p.duration_s > 15 for p in longer)


def test_same_seed_same_schedule_and_seeds_differ() -> None:
    def mixed(seed: int) -> str:
        return json.dumps([e.to_json() for e in build("mixed", seed=seed, duration_s=120,
                                                      strategy=None)])

    assert mixed(42) == mixed(42)
    assert len({mixed(s) for s in range(5)}) > 1


def test_too_short_a_load_for_a_pause_is_an_error_not_a_weaker_schedule() -> None:
    with pytest.raises(ScheduleError, match=r"'service-pause' needs a load of at least \d+s"):
        build("service-pause", seed=1, duration_s=8, strategy="lock")
    with pytest.raises(ScheduleError, match=r"'explore' needs a load of at least 4s"):
        build("explore", seed=1, duration_s=3, strategy="lock")
    short = build("explore", seed=1, duration_s=4, strategy="lock")  # one window, cut to fit
    assert short and len({(e.start_s, e.duration_s) for e in short}) == 1
    with pytest.raises(UnknownFault, match="unknown fault schedule 'chaos-monkey'"):
        build("chaos-monkey", seed=1, duration_s=60, strategy=None)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(CONTRACT_SCHEDULES), seed=st.integers(0, 2**32),
       duration=st.floats(15, 900), strategy=st.sampled_from([None, *STRATEGIES]))
def test_any_schedule_fits_its_window(
    name: str, seed: int, duration: float, strategy: str | None
) -> None:
    lead, end = window_of(name, duration)
    try:
        entries = build(name, seed=seed, duration_s=duration, strategy=strategy)
    except ScheduleError as exc:  # only a window too short for one episode (lock pauses)
        need = re.search(r"needs a load of at least (\d+)s .*got --duration", str(exc))
        assert need is not None, str(exc)
        assert float(need[1]) > duration - 0.5
        entries = []
    for entry in entries:
        assert lead <= entry.start_s < entry.end_s <= end + 1e-6
    mixed = build("mixed", seed=seed, duration_s=duration, strategy=strategy)
    for a, b in itertools.pairwise(mixed):
        assert a.start_s <= b.start_s


def test_inline_schedule_parses_durations_and_params() -> None:
    schedule = parse_inline([
        {"start": "20s", "duration": "5s", "fault": "partition", "target": "redis"},
        {"start_s": 10, "duration_s": 2.5, "fault": "latency", "target": "seats_pg",
         "params": {"latency_ms": 300, "jitter_ms": 100}, "label": "slow-seats"},
    ], source="s.toml")
    assert [(e.start_s, e.duration_s, e.name) for e in schedule] == [
        (10.0, 2.5, "slow-seats"), (20.0, 5.0, "partition")]


@pytest.mark.parametrize(("entry", "message"), [
    ({"duration": "5s", "fault": "partition", "target": "redis"},
     r"faults\[1\] \(partition\): field 'start' is missing"),
    ({"start": "x", "duration": "5s", "fault": "partition", "target": "redis"},
     r"faults\[1\] \(partition\): field 'start': not a duration"),
    ({"start": 1, "duration": 0, "fault": "partition", "target": "redis"},
     r"field 'duration' must be > 0"),
    ({"start": 1, "duration": 1, "fault": "partitoin", "target": "redis"},
     r"faults\[1\] \(partitoin\): field 'fault': unknown fault 'partitoin'"),
    ({"start": 1, "duration": 1, "fault": "partition", "target": "redi"},
     r"field 'target': fault 'partition' cannot target 'redi'; valid: target_api"),
    ({"start": 1, "duration": 1, "fault": "latency", "target": "redis",
      "params": {"latency_ms": -5}}, r"field 'params':.*'latency_ms'=-5 must be >= 0"),
    ({"start": 1, "duration": 1, "fault": "latency", "target": "redis", "when": 3},
     r"unknown field 'when'"),
    ({"start": 1, "duration": 1, "fault": "latency", "target": "redis", "params": 5},
     r"field 'params' must be a table"),
    ({"start": 1, "duration": 1, "fault": "partition", "target": "redis", "label": ""},
     r"field 'label' must be a non-empty string"),
    ({"start": 6, "duration": 5, "fault": "partition", "target": "redis"},
     r"faults\[1\] \(partition\): field 'start': overlaps faults\[0\]"),
    ("partition", r"faults\[1\] must be a table"),
])
def test_bad_inline_entries_name_the_entry_and_field(entry: object, message: str) -> None:
    first = {"start": 1, "duration": 10, "fault": "partition", "target": "redis"}
    with pytest.raises(ScheduleError, match=message) as info:
        parse_inline([first, entry], source="scenarios/x.toml")
    assert str(info.value).startswith("scenarios/x.toml: ")
    assert info.value.exit_code == EXIT_USAGE


def test_inline_faults_must_be_a_list() -> None:
    with pytest.raises(ScheduleError, match=re.escape("must be a list of tables ([[faults]])")):
        parse_inline({"fault": "partition"}, source="x.toml")


def test_every_proxy_is_a_network_target() -> None:
    for kind in ("partition", "blackhole", "half-open", "latency", "bandwidth", "reset_peer",
                 "slow_close", "limit_data"):
        assert FAULTS[kind].valid_targets() == PROXY_NAMES


def _proc(name: str) -> ProcessInfo:
    return ProcessInfo("target", name, "RUNNING", 100 + int(name.rsplit("-", 1)[1]))


def _holds(owners: dict[str, str]) -> list[LockHold]:
    return [LockHold(Seat("e", seat), owner) for seat, owner in owners.items()]


def test_pause_picks_the_process_whose_instance_holds_the_most_locks() -> None:
    running = [_proc("target-0"), _proc("target-1"), _proc("target-2")]
    holds = _holds({"A-1": "i1:aa", "A-2": "i2:bb", "A-3": "i2:bb"})
    assert lock_holder(running, holds) == running[2]
    assert lock_holder(running, _holds({"A-1": "i1:aa", "A-2": "i0:cc"})) \
        == running[0]  # a tie goes to the first name
    assert lock_holder(running, []) is None
    assert lock_holder(running, _holds({"A-1": "i7:aa", "k": "random-old-form"})) is None
    assert lock_holder(running[:2], _holds({"A-1": "i2:bb"})) is None  # not running


def test_service_pause_is_a_generic_pause_and_the_relay_its_own_schedule() -> None:
    for strategy in ("lock", "saga"):
        pauses = build("service-pause", seed=1, duration_s=60, strategy=strategy)
        assert pauses and all((f.fault, f.target, f.params) == ("pause", "target", {})
                              for f in pauses)
        # longer than the lock lease (docs/contract.md section 5.1): three leases and a second
        assert all(f.duration_s == 3 * 2.0 + 1 for f in pauses)
    lock = build("lock-takeover-relay", seed=1, duration_s=60, strategy="lock")
    assert lock and all((f.fault, f.target) == ("lock-takeover-relay", "target") for f in lock)
    for other in ("saga", "2pc", None):  # lock only: anything else is bad usage (exit 2)
        with pytest.raises(ScheduleError, match="applies only to --strategy lock"):
            build("lock-takeover-relay", seed=1, duration_s=60, strategy=other)
    # at least three more leases for the successor and a third buyer, up to six more when the
    # window has room (further rounds)
    assert all(f.duration_s == 9 * 2.0 + 1 for f in lock)
    # a 30 s load (the catalog's catching run): one episode filling the fault window (4.5 s to
    # 22.5 s), never shorter than six leases and a second
    [short] = build("lock-takeover-relay", seed=1, duration_s=30, strategy="lock")
    assert (short.start_s, short.duration_s) == (4.5, 18.0)
    [shortest] = build("lock-takeover-relay", seed=1, duration_s=22, strategy="lock")
    assert 6 * 2.0 + 1 <= shortest.duration_s < 6 * 2.0 + 1.5
    with pytest.raises(ScheduleError, match="at least 22s"):
        build("lock-takeover-relay", seed=1, duration_s=21, strategy="lock")


def test_the_relay_aims_only_at_a_target_process_and_its_params_are_typed() -> None:
    fault = make("lock-takeover-relay", "target", {"at": "lock-pause-before-write"})
    assert fault.params.lock_wait_s == 5.0
    with pytest.raises(InvalidTarget):
        make("lock-takeover-relay", "target-0")
    with pytest.raises(InvalidParams, match="relay"):
        make("pause", "target", {"relay": True})  # the pause is generic: no relay in it
