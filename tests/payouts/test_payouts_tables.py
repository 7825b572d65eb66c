"""The payouts' tables in Chinese by default and in English with `--lang en`, JSON with codes."""

# The tables of `payouts reconcile`, `payouts ageing` and `ledger balances`, through the real
# command on PostgreSQL; their JSON keeps the codes and fen whatever the language.

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

from subsidy.domain.payouts.reconcile import NOT_TAKEN_IN, Difference, Row, _row_differences
from subsidy.infra.cli_output import Lang
from subsidy.payouts.reports import difference_line
from tests.ledger.database import as_role
from tests.payouts.desk_setup import EVENTS, REVOKE, decide, subsidy

pytestmark = pytest.mark.postgres

PART = "¥2,500,000.00"  # each lab's city part and district part


def test_reconcile_ageing_and_balances_in_either_language(
    payouts_schema: tuple[str, str], tmp_path: Path
) -> None:
    owner, login = payouts_schema
    asyncio.run(decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    env.pop("SUBSIDY_LANG", None)
    budget = tmp_path / "budget.csv"
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,100000000\n苏州工业园区财政局,2025,"
                      "100000000\n", encoding="utf-8")  # fmt: skip
    subsidy(env, "budget", "load", str(budget), "--date", "2025-07-10")
    out = tmp_path / "batches"
    subsidy(env, "payouts", "batch", "--out", str(out), "--date", "2025-07-10")
    for manifest in sorted(out.glob("*.manifest.json")):
        paid = subsidy(env, "payouts", "bank-simulator", str(manifest), "--return-rate", "0")
        subsidy(env, "payouts", "confirm", paid.strip())
    # lab-3 revoked once paid: both its parts owed back, nothing to set them off against.
    asyncio.run(decide(as_role(owner, "ledger_worker"), [REVOKE]))
    subsidy(env, "payouts", "advance", "--date", "2025-08-02")

    zh = subsidy(env, "payouts", "reconcile")
    for text in ("对账（万元）", "资金渠道", "已核定", "无收款账户", "合计", "应收（万元）",
                 "未收回", "无未解释差异", "苏州工业园区财政局"):  # fmt: skip
        assert text in zh, text
    for english in ("granted", "no payee account", "total", "outstanding"):
        assert english not in zh, english
    en = subsidy(env, "payouts", "reconcile", "--lang", "en")
    for text in ("Reconciliation (10,000 yuan)", "channel", "granted", "no payee account",
                 "total", "Receivables", "outstanding", "zero unexplained"):  # fmt: skip
        assert text in en, text
    assert "无收款账户" not in en
    as_json = subsidy(env, "payouts", "reconcile", "--format", "json")
    assert subsidy(env, "payouts", "reconcile", "--format", "json", "--lang", "en") == as_json
    rows = {(r["channel"], r["year"]): r for r in json.loads(as_json)["rows"]}
    assert rows[("苏州工业园区财政局", 2025)]["waiting"]["NO_ACCOUNT"] == 250_000_000

    zh = subsidy(env, "payouts", "ageing", "--date", "2025-12-31")
    for text in ("应收账龄（未收回天数）", "资金渠道", "91-180 天", "合计", PART):
        assert text in zh, text
    en = subsidy(env, "payouts", "ageing", "--date", "2025-12-31", "--lang", "en")
    for text in ("Receivables ageing (days outstanding)", "channel", "91-180 days", "total", PART):
        assert text in en, text
    assert "天" not in en

    zh = subsidy(env, "ledger", "balances", "--account", "budget:*")
    for text in ("账户余额", "账户", "借方", "贷方", "余额", "budget:市科技局:2025", "¥"):
        assert text in zh, text
    en = subsidy(env, "ledger", "balances", "--account", "budget:*", "--lang", "en")
    for text in ("Account balances", "account", "debits", "credits", "balance"):
        assert text in en, text
    assert "借方" not in en
    as_json = subsidy(env, "ledger", "balances", "--account", "budget:*", "--format", "json")
    assert (
        subsidy(env, "ledger", "balances", "--account", "budget:*", "--format", "json",
                "--lang", "en") == as_json
    )  # fmt: skip
    assert {a["account"] for a in json.loads(as_json)["accounts"]} == {
        "budget:市科技局:2025", "budget:苏州工业园区财政局:2025"}  # fmt: skip


def test_every_difference_reads_in_chinese_by_default_and_in_english_on_request() -> None:
    """A row whose every figure disagrees with the (empty) accounts, and a grant not taken in:
    the Chinese lines carry no English word, the English ones the domain's own."""
    row = Row("市科技局", 2026, granted=1, paid_out=2, in_batches=3, receivables=4,
              collected=5, written_off=6, outstanding=7, committed=8, unsent=9)  # fmt: skip
    differences = [*_row_differences(row, {}),
                   Difference("市科技局", 2026, "granted", 1, 0, NOT_TAKEN_IN)]  # fmt: skip
    assert len(differences) == 11, "every figure of the domain"
    for d in differences:
        zh, en = difference_line(d, Lang.zh), difference_line(d, Lang.en)
        assert not re.search("[A-Za-z]", zh), zh
        assert zh.startswith("差异 市科技局 2026 "), zh
        assert f"{d.figure}: expected" in en
        assert en.endswith(d.cause)
