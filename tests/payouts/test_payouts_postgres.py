"""The money path on PostgreSQL, through the `subsidy` commands as the payouts' own login:
decisions become orders, a budget holds one back, a batch goes to the bank, a return comes
back, a revocation becomes a receivable set off, and the reconciliation and `ledger verify`
are clean; then the database owner moves money behind the desk's back and verify sees it."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.harness.databases import create_schema, migrate_platform
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import enterprise_id
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG, YUAN

pytestmark = pytest.mark.postgres

ACME, BETA = enterprise_id(920_001), enterprise_id(920_002)
NAMES = {ACME: "苏州灵犀具身智能有限公司", BETA: "苏州贝塔机器人有限公司"}


def _event(event_id: str, day: str, who: str, **payload: Any) -> dict[str, Any]:
    head = {"eventId": event_id, "source": "sz-gov-service-portal", "enterpriseId": who}
    return {**head, "enterpriseName": NAMES[who], "district": "SIP", "occurredOn": day, **payload}


def _lab(event_id: str, day: str, who: str, item: str) -> dict[str, Any]:
    body = {"kind": "PROVINCIAL_ENGINEERING_CENTER", "itemId": item, "certificateId": f"c-{item}"}
    return _event(event_id, day, who, certificationObtained=body)


ACCOUNT = {
    "bankName": "苏州银行",
    "accountNumber": "0512000188889999000",
    "accountName": NAMES[ACME],
}
EVENTS = [
    _event("p-acme", "2025-06-02", ACME, payeeAccountRegistered=ACCOUNT),
    _lab("lab-1", "2025-07-01", ACME, "lab-1"),  # ¥5,000,000: city ¥2.5m, district ¥2.5m
    _lab("lab-2", "2025-07-02", BETA, "lab-2"),  # BETA has no account: waits
    _lab("lab-3", "2025-07-03", ACME, "lab-3"),
]  # fmt: skip
REVOKE = _event("rev-3", "2025-08-01", ACME,
                certificationRevoked={"itemId": "lab-3", "reason": "撤销认定"})  # fmt: skip


async def _decide(url: str, events: list[dict[str, Any]]) -> None:
    messages = []
    for raw in events:
        event = parse_event(raw)
        messages.append(Message(evaluate(event, CATALOG), event.content_hash()))
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await apply_batch(conn, messages, BookCache(0))
    finally:
        await conn.close()


def _subsidy(env: dict[str, str], *args: str, code: int = 0) -> str:
    done = subprocess.run([sys.executable, "-m", "subsidy.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == code, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


async def _owner(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def payouts_schema(fresh_database_url: str) -> tuple[str, str]:
    """A schema with every component migrated: (owner's URL, payouts login's URL)."""
    _, url = await create_schema(fresh_database_url, "payouts")
    await migrate_platform(url)
    return url, as_role(url, "payouts")


def test_money_path(payouts_schema: tuple[str, str], tmp_path: Path) -> None:
    owner, login = payouts_schema
    asyncio.run(_decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    budget = tmp_path / "budget.csv"
    # Room for one ACME lab's city part only: the second waits, first come first served.
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,3000000\n苏州工业园区财政局,2025,"
                      "20000000\n", encoding="utf-8")  # fmt: skip
    _subsidy(env, "budget", "load", str(budget), "--date", "2025-07-10")
    out = tmp_path / "batches"
    made = _subsidy(env, "payouts", "batch", "--out", str(out), "--date", "2025-07-10")
    assert made.count(" 笔 ") == 2, made  # one batch per channel
    again = _subsidy(env, "payouts", "batch", "--out", str(out), "--date", "2025-07-10")
    assert again == made  # the same batches, the same files
    city_batch = next(ln.split()[0] for ln in made.splitlines() if "市科技局" in ln)
    city = out / f"{city_batch}.manifest.json"
    returned = _subsidy(env, "payouts", "bank-simulator", str(city), "--return-rate", "1",
                        "--seed", "7").strip()  # fmt: skip
    assert "1 returned" in _subsidy(env, "payouts", "confirm", returned)
    assert "applied before" in _subsidy(env, "payouts", "confirm", returned)
    asyncio.run(_decide(as_role(owner, "ledger_worker"), [REVOKE]))
    _subsidy(env, "payouts", "advance", "--date", "2025-08-02")
    rec = json.loads(_subsidy(env, "payouts", "reconcile", "--format", "json"))
    assert rec["unexplained"] == 0
    assert rec["differences"] == []
    assert rec["debitsFen"] == rec["creditsFen"]
    rows = {(r["channel"], r["year"]): r for r in rec["rows"]}
    science, park = rows[("市科技局", 2025)], rows[("苏州工业园区财政局", 2025)]
    part = 2_500_000 * YUAN  # each lab's city part and district part
    assert science["granted"] == park["granted"] == 3 * part
    # The city's envelope fit lab-1's part only (BETA's and lab-3's wait, first come); the bank
    # returned it, and lab-3's revocation made ACME owe the city's part of lab-3 back: the
    # returned order is set off against that debt, and nothing is sent again.
    assert science["waiting"]["BUDGET"] == 2 * part
    assert science["waiting"]["RETURNED"] == 0
    assert science["set_off"] == science["recovered_by_set_off"] == part
    assert science["receivables"] == part
    assert science["outstanding"] == 0
    assert park["waiting"]["NO_ACCOUNT"] == part  # BETA's, within the district's room
    # ACME's two district parts are in the bank's hands: lab-3's is owed back, outstanding.
    assert park["in_batches"] == 2 * part
    assert park["receivables"] == park["outstanding"] == part
    verify_env = {**env, "DATABASE_URL": owner}
    assert "ok:" in _subsidy(verify_env, "ledger", "verify")
    balances = json.loads(_subsidy(env, "ledger", "balances", "--format", "json",
                                   "--account", "budget:*"))  # fmt: skip
    assert {a["account"] for a in balances["accounts"]} == {
        "budget:市科技局:2025", "budget:苏州工业园区财政局:2025"}  # fmt: skip
    # The database owner credits an enterprise behind the desk: verify names the account.
    asyncio.run(_owner(owner, "ALTER TABLE payout_accounts DISABLE TRIGGER ALL;"
                       f" UPDATE payout_accounts SET credits_fen = credits_fen + 100"
                       f" WHERE account = 'payable:苏州工业园区财政局:2025:{ACME}'"))  # fmt: skip
    tampered = _subsidy(verify_env, "ledger", "verify", code=1)
    assert f"payable:苏州工业园区财政局:2025:{ACME}" in tampered
