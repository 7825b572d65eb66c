"""The money path on PostgreSQL, through the `subsidy` commands as the payouts' own login."""

# Decisions become orders, a budget holds one back, a batch goes to the bank, a return comes back, a
# revocation becomes a receivable set off, and the reconciliation and `ledger verify` are clean;
# then the database owner moves money behind the desk's back and verify sees it.

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.ledger.database import as_role
from tests.ledger.events import YUAN
from tests.payouts.desk_setup import ACME, BETA, EVENTS, REVOKE, decide, owner_sql, subsidy

pytestmark = pytest.mark.postgres

MISDIRECTED = """
INSERT INTO payout_batches (batch_id, channel, pay_date, line_count, total_fen, created_by)
    VALUES ('PBX', '市科技局', '2025-08-03', 1, 1, 'mallory');
INSERT INTO payout_batch_lines (batch_id, line_no, order_id, payee_name, enterprise_id,
        bank_name, account_number, amount_fen, purpose, channel)
    SELECT 'PBX', 1, order_id, enterprise_name, enterprise_id, '某银行', '6222000099998888777',
        amount_fen, '-', channel FROM payment_orders WHERE enterprise_id = '{enterprise}'
        AND state = 'WAITING' LIMIT 1;
"""


def test_money_path(payouts_schema: tuple[str, str], tmp_path: Path) -> None:
    owner, login = payouts_schema
    asyncio.run(decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    budget = tmp_path / "budget.csv"
    # Room for one ACME lab's city part only: the second waits, first come first served.
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,3000000\n苏州工业园区财政局,2025,"
                      "20000000\n", encoding="utf-8")  # fmt: skip
    subsidy(env, "budget", "load", str(budget), "--date", "2025-07-10")
    out = tmp_path / "batches"
    made = subsidy(env, "payouts", "batch", "--out", str(out), "--date", "2025-07-10")
    assert made.count(" 笔 ") == 2, made  # one batch per channel
    again = subsidy(env, "payouts", "batch", "--out", str(out), "--date", "2025-07-10")
    assert again == made  # the same batches, the same files
    city_batch = next(ln.split()[0] for ln in made.splitlines() if "市科技局" in ln)
    city = out / f"{city_batch}.manifest.json"
    returned = subsidy(env, "payouts", "bank-simulator", str(city), "--return-rate", "1",
                        "--seed", "7").strip()  # fmt: skip
    assert "1 returned" in subsidy(env, "payouts", "confirm", returned)
    assert "applied before" in subsidy(env, "payouts", "confirm", returned)
    asyncio.run(decide(as_role(owner, "ledger_worker"), [REVOKE]))
    subsidy(env, "payouts", "advance", "--date", "2025-08-02")
    rec = json.loads(subsidy(env, "payouts", "reconcile", "--format", "json"))
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
    assert "ok:" in subsidy(verify_env, "ledger", "verify")
    balances = json.loads(subsidy(env, "ledger", "balances", "--format", "json",
                                   "--account", "budget:*"))  # fmt: skip
    assert {a["account"] for a in balances["accounts"]} == {
        "budget:市科技局:2025", "budget:苏州工业园区财政局:2025"}  # fmt: skip
    # The database owner credits an enterprise behind the desk: verify names the account.
    asyncio.run(owner_sql(owner, "ALTER TABLE payout_accounts DISABLE TRIGGER ALL;"
                       f" UPDATE payout_accounts SET credits_fen = credits_fen + 100"
                       f" WHERE account = 'payable:苏州工业园区财政局:2025:{ACME}'"))  # fmt: skip
    tampered = subsidy(verify_env, "ledger", "verify", code=1)
    assert f"payable:苏州工业园区财政局:2025:{ACME}" in tampered
    # The payouts login makes a batch of its own, to an account of its own, for an order that
    # waits for BETA's account: verify names the line.
    asyncio.run(owner_sql(login, MISDIRECTED.format(enterprise=BETA)))
    assert "batch PBX line 1" in subsidy(verify_env, "ledger", "verify", code=1)
