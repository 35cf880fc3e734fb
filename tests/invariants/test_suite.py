"""``check_all``: the checker table, crash isolation, and declarations that refuse mistakes."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from invariants import CHECKERS, INVARIANT_NAMES, CheckContext, Findings, Invariant, check_all
from invariants.session import Session
from invariants.suite import run_one
from tests.invariants.conftest import Dbs

on_stack = pytest.mark.asyncio(loop_scope="session")


def test_the_table_declares_the_eight_contract_invariants_in_order() -> None:
    assert tuple(CHECKERS) == INVARIANT_NAMES
    assert len(INVARIANT_NAMES) == 8
    for inv in CHECKERS.values():
        assert inv.doc and "\n" not in inv.doc


def test_a_declaration_without_a_one_line_docstring_or_contract_name_is_refused() -> None:
    async def undocumented(ctx: CheckContext, db: Session) -> Findings:
        return Findings()

    async def documented(ctx: CheckContext, db: Session) -> Findings:
        """Protects something."""
        return Findings()

    with pytest.raises(ValueError, match="one-line docstring"):
        Invariant("seat_conservation", undocumented)
    with pytest.raises(ValueError, match=r"not one of docs/contract\.md"):
        Invariant("no_free_lunch", documented)


@on_stack
async def test_a_crashing_checker_is_reported_and_hides_no_other(
        dbs: Dbs, monkeypatch: pytest.MonkeyPatch) -> None:
    async def explodes(ctx: CheckContext, db: Session) -> Findings:
        """Protects nothing: it crashes."""
        await db.seats.execute("SELECT 1/0")
        return Findings()

    async def breaks_the_connection(ctx: CheckContext, db: Session) -> Findings:
        """Protects nothing: it leaves the connection unusable."""
        await db.seats.close()
        raise RuntimeError("connection thrown away")

    monkeypatch.setitem(CHECKERS, "no_capture_without_ticket",
                        Invariant("no_capture_without_ticket", explodes))
    monkeypatch.setitem(CHECKERS, "idempotent_effects",
                        Invariant("idempotent_effects", breaks_the_connection))
    results = await check_all(CheckContext(dbs.seats_dsn, dbs.payments_dsn, history=[]))
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == list(INVARIANT_NAMES)
    crashed = by_name["no_capture_without_ticket"]
    assert (crashed.ok, crashed.violations) == (False, 0)
    assert crashed.error is not None and crashed.error.startswith("DivisionByZeroError")
    assert by_name["idempotent_effects"].error == "RuntimeError: connection thrown away"
    assert crashed.to_json() == {"name": "no_capture_without_ticket", "ok": False,
                                 "violations": 0, "examples": [], "error": crashed.error}
    others = [r for r in results if r.name not in ("no_capture_without_ticket",
                                                     "idempotent_effects")]
    assert all(r.ok and r.error is None for r in others), [r.error for r in others]


@on_stack
async def test_unreachable_databases_fail_every_invariant_with_the_reason(dbs: Dbs) -> None:
    bad = dbs.seats_dsn.rsplit("/", 1)[0] + "/no_such_database"
    results = await check_all(CheckContext(bad, dbs.payments_dsn, timeout_s=10))
    assert len(results) == 8
    assert all(not r.ok and r.error and "no_such_database" in r.error for r in results)


@pytest.mark.asyncio
async def test_a_crash_inside_a_checkers_task_group_is_reported_by_its_own_error() -> None:
    async def fails_in_a_task(ctx: CheckContext, db: Session) -> Findings:
        """Protects nothing: one of its concurrent parts fails."""
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(0))
            raise LookupError("no such order")

    inv = Invariant("idempotent_effects", fails_in_a_task)
    ctx = CheckContext("postgresql://unused/seats", "postgresql://unused/payments")
    result = await run_one(inv, ctx, Session(ctx.seats_dsn, ctx.payments_dsn))
    assert (result.ok, result.error) == (False, "LookupError: no such order")


@on_stack
async def test_a_temp_table_that_failed_to_fill_leaves_nothing_and_can_be_made_again(
        dbs: Dbs) -> None:
    exists = "SELECT to_regclass('pg_temp.chk_probe') IS NOT NULL"
    async with Session(dbs.seats_dsn, dbs.payments_dsn) as db:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await db.scratch("probe", "SELECT 1/0 AS k", "k")
        assert await db.seats.fetchval(exists) is False
        assert await db.scratch("probe", "SELECT 7 AS k", "k") == "chk_probe"
        assert await db.seats.fetchval("SELECT k FROM chk_probe") == 7
        # made once per session: the second query is not run
        assert await db.scratch("probe", "SELECT 1/0 AS k", "k") == "chk_probe"
        # a mirror whose copy fails (the payments query breaks midway) leaves nothing either
        with pytest.raises(ExceptionGroup) as broken:  # the copy's two ends run in a group
            await db.mirror("probe2", "SELECT 1/(2 - g) FROM generate_series(1, 3) g", "k int")
        assert broken.group_contains(asyncpg.DivisionByZeroError)
        assert await db.seats.fetchval(
            "SELECT to_regclass('pg_temp.chk_probe2') IS NOT NULL") is False
        assert db.healthy()
        table = await db.mirror("probe2", "SELECT g FROM generate_series(1, 3) g", "k int")
        assert await db.seats.fetchval(f"SELECT sum(k) FROM {table}") == 6
