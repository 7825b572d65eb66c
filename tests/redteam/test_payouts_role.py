"""Red team: the payouts' login moves money only by adding a transfer."""

# The database moves the balances; the login cannot rewrite a transfer or touch a balance, and the
# owner who does either behind the desk is named by `ledger verify`'s check of the accounts.

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from subsidy.harness.databases import create_schema, drop_schema, migrate_platform
from subsidy.infra.db_roles import DatabaseRoleError, check_role
from subsidy.payouts.budget_file import read_budget
from subsidy.payouts.db import ROLE
from subsidy.payouts.operations import operate
from subsidy.payouts.persist import Operation
from subsidy.payouts.verify import verify_accounts
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG

DENIED = asyncpg.InsufficientPrivilegeError
BUDGET = "budget:市科技局:2025"
FEN = 3_000_000 * 100  # ¥3,000,000


@pytest.fixture
async def owner_url(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Every component migrated in a schema of its own, and one budget loaded through the
    desk as the payouts' login: two transfers on the chain (appropriation → budget)."""
    schema, url = await create_schema(fresh_database_url, "payouts_roles")
    budget = tmp_path / "budget.csv"
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,3000000\n苏州工业园区财政局,2025,"
                      "2000000\n", encoding="utf-8")  # fmt: skip
    digest, lines = read_budget(budget)
    await migrate_platform(url)
    conn = await asyncpg.connect(as_role(url, "payouts"))
    try:
        await check_role(conn, ROLE)
        await operate(conn, CATALOG, True, Operation("budget load", "redteam"),
                      lambda desk: desk.load_budget(digest, lines))  # fmt: skip
    finally:
        await conn.close()
    yield url
    await drop_schema(fresh_database_url, schema)


async def _verify(url: str) -> list[str]:
    """`ledger verify`'s check of the accounts, as an auditor's login."""
    conn = await asyncpg.connect(as_role(url, "ledger_api"))
    try:
        return await verify_accounts(conn, CATALOG)
    finally:
        await conn.close()


async def test_the_payouts_login_moves_money_only_by_a_transfer(owner_url: str) -> None:
    login = as_role(owner_url, "payouts")
    conn = await asyncpg.connect(login)
    try:  # the trigger, as the tables' owner, moved the balance: the login never wrote it
        credits = await conn.fetchval(
            "SELECT credits_fen - debits_fen FROM payout_accounts WHERE account = $1", BUDGET
        )
        assert credits == FEN
        assert not await conn.fetchval("SELECT has_table_privilege('payout_accounts', 'UPDATE')")
        assert await conn.fetchval("SELECT has_table_privilege('transfers', 'INSERT')")
    finally:
        await conn.close()
    assert await _verify(owner_url) == []
    for statement in (
        f"UPDATE payout_accounts SET credits_fen = credits_fen + 100 WHERE account = '{BUDGET}'",
        "INSERT INTO payout_accounts (account, rule, credits_fen) VALUES"
        " ('payable:市科技局:2025:91320500MA9999999X', 'credit', 100)",
        "DELETE FROM payout_accounts",
        "UPDATE transfers SET amount_fen = amount_fen + 100",
        "DELETE FROM transfers",
        "TRUNCATE transfers",
        "ALTER TABLE transfers DISABLE TRIGGER transfers_append_only",
        "ALTER TABLE transfers DISABLE TRIGGER transfers_post",
        "ALTER TABLE payout_accounts DISABLE TRIGGER ALL",
        "CREATE OR REPLACE FUNCTION payout_post_transfer() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NEW; END $$",
        "DELETE FROM payment_order_history",
        "UPDATE payout_notices SET amount_fen = 0",
        "UPDATE entitlements SET granted_fen = granted_fen + 100",
        "SELECT * FROM outbox",
    ):
        conn = await asyncpg.connect(login)
        try:
            with pytest.raises(DENIED):
                await conn.execute(statement)
        finally:
            await conn.close()
    assert await _verify(owner_url) == []


async def test_the_payouts_refuse_to_run_as_the_owner(owner_url: str) -> None:
    conn = await asyncpg.connect(owner_url)
    try:
        with pytest.raises(DatabaseRoleError, match="owns"):
            await check_role(conn, ROLE)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (
            f"ALTER TABLE payout_accounts DISABLE TRIGGER ALL; UPDATE payout_accounts"
            f" SET credits_fen = credits_fen + 100 WHERE account = '{BUDGET}'",
            f"account {BUDGET}: stored",
        ),
        (
            "ALTER TABLE transfers DISABLE TRIGGER transfers_append_only; UPDATE transfers"
            " SET amount_fen = amount_fen + 100 WHERE seq = 1",
            "transfer chain broken at transfer #1",
        ),
    ],
    ids=["a balance", "a transfer"],
)
async def test_the_owner_editing_behind_the_desk_is_named_by_verify(
    owner_url: str, tamper: str, named: str
) -> None:
    owner = await asyncpg.connect(owner_url)
    try:
        await owner.execute(tamper)
    finally:
        await owner.close()
    problems = await _verify(owner_url)
    assert any(p.startswith(named) for p in problems), problems
