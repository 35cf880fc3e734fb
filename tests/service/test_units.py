"""Pure-logic tests of the service's parsing and validation (no stack needed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_spec_validator import validate

from target_service import twopc_log
from target_service.bugs import BUGS, parse_bug
from target_service.config import ConfigError, Settings
from target_service.failpoints import FAILPOINTS, parse_failpoints
from target_service.idempotency import fingerprint, validate_key
from target_service.openapi import document
from target_service.problems import CODES, Problem
from target_service.redis_lock import make_owner, owner_instance
from target_service.validation import (
    _depth,
    _json_media_type,
    confirm_request,
    order_request,
    storable,
)

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


#: characters that matter to the rules: controls (NUL, C1), space, printable ASCII, Latin-1,
#: and beyond (a document's pattern and the server's check must agree on every one)
_CHARS = st.characters(codec="utf-8") | st.sampled_from("\x00\x01\x1f\x7f\x85\x9f \t\n~é€")


def _documented(schema: dict[str, Any]) -> Callable[[str], bool]:
    """Whether a value satisfies a schema of the document, with ECMA-262 regex semantics (the
    Rust ``regex`` of jsonschema_rs: ``$`` is the end of the text, not before a newline)."""
    return jsonschema_rs.validator_for(schema).is_valid  # type: ignore[no-any-return]


def _accepts(check: Callable[[], object]) -> bool:
    try:
        check()
    except Problem as p:
        assert p.status == 400, p
        return False
    return True


@given(st.text(_CHARS, max_size=300) | st.from_regex(r"[!-~][ -~]{0,300}", fullmatch=True))
def test_the_documented_idempotency_key_is_the_servers_rule(key: str) -> None:
    params = document()["paths"]["/api/orders"]["post"]["parameters"]
    schema = next(p["schema"] for p in params if p["name"] == "Idempotency-Key")
    assert _accepts(lambda: validate_key(key)) == _documented(schema)(key), repr(key)


@given(st.text(_CHARS, max_size=80))
def test_the_documented_ids_and_payment_token_are_the_servers_rules(text: str) -> None:
    schemas = document()["components"]["schemas"]
    event = schemas["OrderRequest"]["properties"]["event_id"]
    seat = schemas["OrderRequest"]["properties"]["seats"]["items"]
    token = schemas["ConfirmRequest"]["properties"]["payment_token"]
    assert _accepts(lambda: order_request(
        {"event_id": text, "seats": ["A-01"], "strategy": "saga"}, 10)) == _documented(event)(text)
    assert _accepts(lambda: order_request(
        {"event_id": "e", "seats": [text], "strategy": "saga"}, 10)) == _documented(seat)(text)
    assert _accepts(lambda: confirm_request({"payment_token": text})) == _documented(token)(text)
    path_event = next(p["schema"] for p in document()["paths"]["/api/events/{event_id}"]["get"][
        "parameters"] if p["name"] == "event_id")
    assert path_event == event  # a path's event id is the same name as a body's


def test_text_that_postgres_cannot_store() -> None:
    assert storable("evt_default") and storable("é€😀") and storable("")
    for bad in ("\x00", "a\x00b", "\ud800", "x\udcf6"):
        assert not storable(bad), repr(bad)


def test_only_application_json_is_json() -> None:
    for ok in ("application/json", "Application/JSON", "application/json; charset=utf-8",
               'application/json;charset="UTF-8"', "application/json;"):
        assert _json_media_type(ok), ok
    for bad in ("application/jsonx", "application/json-patch+json", "application/problem+json",
                "text/json", "application/json; charset=utf-16", "application/json; v=1", ""):
        assert not _json_media_type(bad), bad
