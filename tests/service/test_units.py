"""Pure-logic tests of the service's parsing and validation (no stack needed)."""

from __future__ import annotations

import uuid

import pytest
from openapi_spec_validator import validate

from target_service import twopc_log
from target_service.bugs import BUGS, parse_bug
from target_service.config import ConfigError, Settings
from target_service.failpoints import FAILPOINTS, parse_failpoints
from target_service.idempotency import fingerprint, validate_key
from target_service.openapi import document
from target_service.problems import CODES, Problem
from target_service.redis_lock import make_owner, owner_instance
from target_service.validation import _depth, confirm_request, order_request

ENV = {"SEATS_DSN": "postgresql://x/seats", "PAYMENTS_DSN": "postgresql://x/payments",
       "REDIS_URL": "redis://x", "PROVIDER_URL": "http://127.0.0.1:1/"}


def test_openapi_document_is_valid_openapi() -> None:
    validate(document())  # type: ignore[arg-type]


def test_every_problem_code_is_documented() -> None:
    enum = document()["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
    assert sorted(CODES) == enum
    assert all(code.isupper() for code in CODES)


def test_unknown_bug_refuses_to_start() -> None:
    assert parse_bug("") is None and parse_bug("none") is None
    assert set(BUGS) == {"lock-no-fencing", "lock-unsafe-release", "saga-no-compensation",
                         "2pc-no-recovery", "idempotency-ignored", "capture-not-durable"}
    with pytest.raises(ConfigError, match="not a seeded bug"):
        Settings.from_env({**ENV, "HARNESS_BUG": "nope"})
    assert Settings.from_env({**ENV, "HARNESS_BUG": "2pc-no-recovery"}).bug == "2pc-no-recovery"
    assert Settings.from_env(ENV).bug is None


def test_config_validation() -> None:
    s = Settings.from_env({**ENV, "LOCK_LEASE_MS": "750", "TARGET_PORT": "9999"})
    assert (s.lock_lease_ms, s.port, s.provider_url) == (750, 9999, "http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="missing"):
        Settings.from_env({"SEATS_DSN": "x"})
    with pytest.raises(ConfigError, match="not a number"):
        Settings.from_env({**ENV, "HOLD_TTL_S": "soon"})
    with pytest.raises(ConfigError, match="not a port"):
        Settings.from_env({**ENV, "TARGET_PORT": "99999"})


def test_failpoints_parse() -> None:
    assert parse_failpoints("2pc-after-prepare, finalize-after-capture") == {
        "2pc-after-prepare", "finalize-after-capture"}
    assert parse_failpoints("") == frozenset()
    with pytest.raises(ValueError, match="unknown failpoints"):
        parse_failpoints("2pc-after-lunch")
    assert "2pc-after-prepare" in FAILPOINTS


def test_gids_name_the_order_and_round_trip() -> None:
    order = uuid.uuid4()
    gid = twopc_log.new_gid(order, "CONFIRM")
    assert str(order) in gid
    for pgid in (gid, twopc_log.participant_gid(gid, "seats"),
                 twopc_log.participant_gid(gid, "payments")):
        assert twopc_log.parse_gid(pgid) == (gid, order, "CONFIRM")
        assert twopc_log.quote_gid(pgid) == f"'{pgid}'"
    with pytest.raises(ValueError):
        twopc_log.quote_gid("bk2pc:x'; DROP TABLE seats; --")
    assert twopc_log.parse_gid("someone-else") is None


def test_idempotency_key_rules() -> None:
    assert validate_key("a b-1") == "a b-1"
    for bad, code in ((None, "IDEMPOTENCY_KEY_MISSING"), ("", "IDEMPOTENCY_KEY_MISSING"),
                      ("x" * 256, "IDEMPOTENCY_KEY_INVALID"), ("é", "IDEMPOTENCY_KEY_INVALID")):
        with pytest.raises(Problem) as exc:
            validate_key(bad)
        assert exc.value.code == code
    a = fingerprint("POST", "/api/orders", {"b": 1, "a": [1, 2]})
    assert a == fingerprint("POST", "/api/orders", {"a": [1, 2], "b": 1})  # canonical
    assert a != fingerprint("POST", "/api/orders", {"a": [2, 1], "b": 1})
    assert a != fingerprint("POST", "/api/orders/x", {"a": [1, 2], "b": 1})


def test_order_request_validation() -> None:
    assert order_request({"event_id": "e", "seats": ["B", "A"], "strategy": "2pc"}, 10) == (
        "e", ["A", "B"], "2pc")
    cases = [({"event_id": "e", "seats": ["A"]}, "BAD_REQUEST"),
             ({"event_id": "e", "seats": [1], "strategy": "saga"}, "BAD_REQUEST"),
             ({"event_id": True, "seats": ["A"], "strategy": "saga"}, "BAD_REQUEST"),
             ({"event_id": "e", "seats": ["A"], "strategy": "x"}, "UNPROCESSABLE"),
             ({"event_id": "e", "seats": ["A", "A"], "strategy": "saga"}, "UNPROCESSABLE"),
             ({"event_id": "e", "seats": ["A"] * 11, "strategy": "saga"}, "UNPROCESSABLE")]
    for body, code in cases:
        with pytest.raises(Problem) as exc:
            order_request(body, 10)
        assert exc.value.code == code, body
    assert confirm_request({"payment_token": "tok_ok"}) == "tok_ok"
    with pytest.raises(Problem):
        confirm_request({"payment_token": "tok_ok", "amount": 1})


def test_depth_counts_nesting() -> None:
    assert _depth({"a": [1, {"b": 2}]}, 10) == 4  # scalars count as a level
    assert _depth(1, 10) == 1
    assert _depth([[[[[]]]]], 3) > 3


def test_lock_owner_values_name_their_instance_and_are_unique() -> None:
    owners = {make_owner("1") for _ in range(100)}
    assert len(owners) == 100
    assert all(o.startswith("i1:") and owner_instance(o) == "1" for o in owners)
    assert owner_instance(make_owner("12")) == "12"
    for other in ("", "abc", "i:x", "i1:", "x1:abc", "0123456789abcdef"):
        assert owner_instance(other) is None
