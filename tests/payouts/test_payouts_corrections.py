"""A retraction after the money went out, on PostgreSQL through the `subsidy` commands."""

# The grant paid to the enterprise becomes what it owes back, per channel, and the reconciliation
# and `ledger verify` stay clean.

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.ledger.database import as_role
from tests.ledger.events import YUAN
from tests.payouts.desk_setup import ACME, EVENTS, decide, event, fetch_rows, subsidy

pytestmark = pytest.mark.postgres

RETRACT = event("ret-1", "2025-08-01", ACME,
                eventRetracted={"eventRef": "lab-1", "reason": "证书误发"})  # fmt: skip


def test_a_retracted_grant_already_paid_is_owed_back(
    payouts_schema: tuple[str, str], tmp_path: Path
) -> None:
    owner, login = payouts_schema
    asyncio.run(decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    budget = tmp_path / "budget.csv"
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,20000000\n苏州工业园区财政局,2025,"
                      "20000000\n", encoding="utf-8")  # fmt: skip
    subsidy(env, "budget", "load", str(budget), "--date", "2025-07-10")
    out = tmp_path / "batches"
    made = subsidy(env, "payouts", "batch", "--out", str(out), "--date", "2025-07-10")
    for line in made.splitlines():
        if " 笔 " in line:
            manifest = out / f"{line.split()[0]}.manifest.json"
            paid = subsidy(env, "payouts", "bank-simulator", str(manifest), "--return-rate",
                           "0", "--seed", "7").strip()  # fmt: skip
            subsidy(env, "payouts", "confirm", paid)
    asyncio.run(decide(as_role(owner, "ledger_worker"), [RETRACT]))
    subsidy(env, "payouts", "advance", "--date", "2025-08-02")
    rec = json.loads(subsidy(env, "payouts", "reconcile", "--format", "json"))
    assert rec["unexplained"] == 0
    assert rec["differences"] == []
    part = 2_500_000 * YUAN  # lab-1's city part and district part, both paid
    for channel in ("市科技局", "苏州工业园区财政局"):
        row = next(r for r in rec["rows"] if (r["channel"], r["year"]) == (channel, 2025))
        # lab-3's part is still ACME's; lab-1's, paid, is owed back (ACME has no later order
        # in the channel to set it off against).
        assert row["receivables"] == row["outstanding"] == part, row
    assert "ok:" in subsidy({**env, "DATABASE_URL": owner}, "ledger", "verify")


def test_a_grant_retracted_before_it_is_sent_is_not_sent_without_set_off(
    payouts_schema: tuple[str, str], tmp_path: Path
) -> None:
    # Set-off between debts is off (PAYOUTS_SET_OFF=false), but an award retracted while its
    # orders still wait to be sent is no longer owed: its own orders are settled, not sent.
    owner, login = payouts_schema
    asyncio.run(decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou",
           "PAYOUTS_SET_OFF": "false"}  # fmt: skip
    budget = tmp_path / "budget.csv"
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,20000000\n苏州工业园区财政局,2025,"
                      "20000000\n", encoding="utf-8")  # fmt: skip
    subsidy(env, "budget", "load", str(budget), "--date", "2025-07-10")  # lab-1's parts payable
    asyncio.run(decide(as_role(owner, "ledger_worker"), [RETRACT]))
    subsidy(env, "payouts", "batch", "--out", str(tmp_path / "batches"), "--date", "2025-08-02")
    sent = asyncio.run(fetch_rows(owner, "SELECT channel, sum(amount_fen)::bigint AS fen"
                              f" FROM payout_batch_lines WHERE enterprise_id = '{ACME}'"
                              " GROUP BY channel ORDER BY channel"))  # fmt: skip
    part = 2_500_000 * YUAN  # lab-3's part of each channel; lab-1's is not owed any more
    assert [(r["channel"], r["fen"]) for r in sent] == [
        ("市科技局", part), ("苏州工业园区财政局", part)]  # fmt: skip
    rec = json.loads(subsidy(env, "payouts", "reconcile", "--format", "json"))
    assert rec["unexplained"] == 0
    for row in rec["rows"]:
        assert row["outstanding"] == 0, row
