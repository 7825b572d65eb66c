"""The bureaus' and the treasury's commands on PostgreSQL, as the payouts' login."""

# A bad return file is refused naming its line and column and changes nothing; a returned payment
# waits for a new account and goes into a later batch; an objection on notice holds an award until
# dismissed; the 公示 list; a receivable aged and written off by two people.

import asyncio
import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ledger.database import as_role
from tests.ledger.events import YUAN
from tests.payouts.desk_setup import ACME, NAMES, decide, event, fetch_rows, lab, subsidy

pytestmark = pytest.mark.postgres

REVIEW = {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": True,
          "approvedAmountFen": 500_000 * YUAN}  # fmt: skip
FIRST = {"bankName": "苏州银行", "accountNumber": "0512000188889999000"}
SECOND = {"bankName": "中国银行苏州分行", "accountNumber": "4657000012345678901"}
EVENTS = [
    event("p1", "2025-06-02", ACME, payeeAccountRegistered={**FIRST, "accountName": NAMES[ACME]}),
    lab("lab-1", "2025-07-01", ACME, "lab-1"),
    event("x1", "2025-08-01", ACME, exhibitionHeld={"itemId": "expo-1"}),
    event("r1", "2025-09-01", ACME, reviewDecided=REVIEW),  # on notice 2025-09-01 … 09-07
    event("o1", "2025-09-03", ACME, objectionFiled={
        "eventRef": "x1", "ruleId": "m06.exhibition", "reason": "展会规模与申报不符"}),
]  # fmt: skip
NEW_ACCOUNT = event("p2", "2025-09-09", ACME,
                    payeeAccountRegistered={**SECOND, "accountName": NAMES[ACME]})  # fmt: skip
REVOKE = event("rev-1", "2025-09-20", ACME,
               certificationRevoked={"itemId": "lab-1", "reason": "撤销认定"})  # fmt: skip


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _spoiled(good: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    """Bad copies of a good return file: each with the line and column it must be refused at."""
    rows = _rows(good)
    head, first = rows[0], rows[1]
    col = {name: i for i, name in enumerate(head)}

    def changed(name: str, column: str, value: str) -> Path:
        line = list(first)
        line[col[column]] = value
        return _write(tmp / f"{name}.csv", [head, line, *rows[2:]])

    return {
        "unknown order": (changed("unknown", "业务流水号", "PO0000000000000000000"),
                          "line 2, 业务流水号"),
        "changed amount": (changed("amount", "金额", "1.00"), "line 2, 金额"),
        "wrong manifest hash": (changed("hash", "批次文件SHA-256", "0" * 64),
                                "line 2, 批次文件SHA-256"),
        "duplicate line": (_write(tmp / "dup.csv", [head, first, first, *rows[2:]]),
                           "line 3, 业务流水号"),
    }  # fmt: skip


def _bad_files_change_nothing(
    run: Callable[..., str], owner: str, good: Path, tmp_path: Path
) -> None:
    """Each spoiled copy of a good return file is refused naming its line and column, and
    nothing at all is applied."""
    for name, (bad, where) in _spoiled(good, tmp_path).items():
        said = run("payouts", "confirm", str(bad), code=1)
        assert where in said, (name, said)
    applied = asyncio.run(fetch_rows(owner, "SELECT count(*) n FROM payout_return_files"
                                 " UNION ALL SELECT count(*) FROM payout_batch_lines"
                                 " WHERE result IS NOT NULL"))  # fmt: skip
    assert [r["n"] for r in applied] == [0, 0]


def test_the_bureaus_and_treasury_commands(payouts_schema: tuple[str, str], tmp_path: Path) -> None:
    owner, login = payouts_schema
    asyncio.run(decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    run: Callable[..., str] = lambda *a, code=0: subsidy(env, *a, code=code)  # noqa: E731
    channels = ("市科技局", "市工信局", "苏州工业园区财政局")
    envelopes = [
        ["资金渠道", "年度", "预算金额(元)"],
        *([c, "2025", "100000000"] for c in channels),
    ]
    budget = _write(tmp_path / "budget.csv", envelopes)
    run("budget", "load", str(budget), "--date", "2025-09-05")
    notice = run("publicity", "list", "--date", "2025-09-05")
    assert NAMES[ACME] in notice
    assert "500000.00" in notice
    assert "2025-09-01 至 2025-09-07" in notice
    assert "<table>" in run("publicity", "list", "--date", "2025-09-05", "--format", "html")
    header = "序号,企业名称,统一社会信用代码,所在地区,支持事项,政策条款,拟支持金额(元),公示期"
    assert run("publicity", "list", "--date", "2025-09-08").strip() == header  # notice over
    out = tmp_path / "batches"
    run("payouts", "batch", "--out", str(out), "--date", "2025-09-05")  # lab-1 only: x1 held
    city = next(p for p in out.glob("*.manifest.json")
                if json.loads(p.read_text("utf-8"))["channel"] == "市科技局")  # fmt: skip
    good = Path(run("payouts", "bank-simulator", str(city), "--return-rate", "1").strip())
    _bad_files_change_nothing(run, owner, good, tmp_path)
    assert "1 returned" in run("payouts", "confirm", str(good))
    # The returned payment waits for another account, then goes into a later batch.
    asyncio.run(decide(as_role(owner, "ledger_worker"), [NEW_ACCOUNT]))
    run("payouts", "batch", "--out", str(out), "--date", "2025-09-10")
    tries = asyncio.run(fetch_rows(owner,
                                   "SELECT l.order_id, count(*) n, max(l.account_number) acct"
                                   " FROM payout_batch_lines l JOIN payout_batches b"
                                   " USING (batch_id) WHERE b.channel = '市科技局'"
                                   " GROUP BY 1"))  # fmt: skip
    assert [(r["n"], r["acct"]) for r in tries] == [(2, "4657000012345678901")]
    # The objection held the exhibition's orders past the notice; dismissed, they move on.
    held = "SELECT count(*) n FROM payment_orders WHERE hold = 'OBJECTION'"
    assert asyncio.run(fetch_rows(owner, held))[0]["n"] == 2
    review = "SELECT count(*) n FROM payout_notices WHERE kind = 'OBJECTION' AND reason LIKE '%o1%'"
    assert asyncio.run(fetch_rows(owner, review))[0]["n"] == 2  # to each paying bureau, once
    run("publicity", "dismiss", "o1", "--reason", "经核实展会规模属实", "--date", "2025-09-10")
    assert asyncio.run(fetch_rows(owner, held))[0]["n"] == 0
    # lab-1 revoked while its parts are with the bank: owed back; the city's part has no open
    # order of its channel to be set off against, so it stays outstanding.
    asyncio.run(decide(as_role(owner, "ledger_worker"), [REVOKE]))
    run("payouts", "advance", "--date", "2025-09-21")
    owed = asyncio.run(fetch_rows(owner, "SELECT receivable_id, amount_fen - set_off_fen AS left"
                              " FROM receivables WHERE amount_fen > set_off_fen"
                              " ORDER BY receivable_id"))  # fmt: skip
    assert owed, "a part of lab-1 no order could set off"
    rid, left = owed[0]["receivable_id"], owed[0]["left"]
    assert "91-180" in run("payouts", "ageing", "--date", "2026-01-31")
    yuan = f"{left // 100}.{left % 100:02d}"

    def write_off(by: str) -> str:
        return run(
            "payouts", "write-off", rid, "--amount", yuan, "--reason", "企业注销", "--by", by
        )

    assert "first approval" in write_off("chief-a")
    assert "first approval" in write_off("chief-a")  # the same person twice: still one
    assert "written off" in write_off("chief-b")
    assert "无未解释差异" in run("payouts", "reconcile")
